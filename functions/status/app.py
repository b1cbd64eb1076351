"""POST (or GET, for Vonage) /carriers/{carrier}/status: a carrier's delivery report. Verify its
signature (with the credentials the message was sent with: the deployment's first, then a portal's
own account's), move the message's status forward, queue the push."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api
from b24sms.usecases import status_updates

logger = Logger()


def carrier_status(event: APIGatewayProxyEventV2) -> dict[str, Any] | api.XmlResponse:
    name = (event.path_parameters or {}).get("carrier", "")
    with api.carrier_errors():
        result = status_updates.receive(name, api.carrier_request(event))
    return api.carrier_answer(name, "status", {"result": result})  # what the carrier expects (SMS.ru: 100)


lambda_handler = api.lambda_handler(carrier_status, logger)
