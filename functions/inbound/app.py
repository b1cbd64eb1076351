"""POST (or GET, for Vonage) /carriers/{carrier}/inbound: a customer's SMS to our number. Verify the
carrier's signature, then post it into the customer's Open Lines chat."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api, openlines
from b24sms.carriers import get_carrier

logger = Logger()


def inbound_sms(event: APIGatewayProxyEventV2) -> dict[str, Any]:
    name = (event.path_parameters or {}).get("carrier", "")
    with api.carrier_errors():
        sms = get_carrier(name).parse_inbound(api.carrier_request(event))
    return {"result": openlines.receive_inbound(name, sms)}


lambda_handler = logger.inject_lambda_context(api.http_function(inbound_sms), clear_state=True)
