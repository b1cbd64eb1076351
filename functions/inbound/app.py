"""POST (or GET, for Vonage) /carriers/{carrier}/inbound: a customer's SMS to our number. Verify the
carrier's signature (with the credentials of the account that owns the number: a portal's own, else
the deployment's), then post it into the customer's Open Lines chat. An SMS no portal takes is
answered 200 all the same (a carrier retries anything else for up to a day). Each carrier gets the answer its
spec declares (Twilio: the empty TwiML ``<Response/>``, no auto-reply); the others get JSON."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api
from b24sms.usecases import inbound

logger = Logger()


def inbound_sms(event: APIGatewayProxyEventV2) -> dict[str, Any] | api.XmlResponse:
    name = (event.path_parameters or {}).get("carrier", "")
    with api.carrier_errors():  # with the credentials of the account that owns the number it was sent to
        sms, owner = inbound.verified(name, api.carrier_request(event))
    result = inbound.receive_inbound(name, sms, owner)
    return api.carrier_answer(name, "inbound", {"result": result})  # what the carrier expects (Twilio: TwiML)


lambda_handler = api.lambda_handler(inbound_sms, logger)
