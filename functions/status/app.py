"""POST /carriers/{carrier}/status: a carrier's delivery report. Verify its signature, move the
message's status forward, queue the push."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api, http, status_updates
from b24sms.carriers import CallbackRequest, SignatureError, UnknownCarrier, get_carrier
from b24sms.config import get_settings
from b24sms.formdata import FormError

logger = Logger()


def carrier_status(event: APIGatewayProxyEventV2) -> dict[str, Any]:
    name = (event.path_parameters or {}).get("carrier", "")
    try:
        carrier = get_carrier(name)
    except UnknownCarrier as exc:
        raise http.NotFound(str(exc)) from exc
    request = CallbackRequest(
        url=http.public_url(event.raw_event, get_settings().public_base_url),
        headers=api.headers_of(event.raw_event),
        body=http.raw_body(event.raw_event),
        query=event.query_string_parameters or {},
    )
    try:
        reports = carrier.parse_status(request)
    except SignatureError as exc:
        raise http.Forbidden(str(exc), "bad_signature") from exc
    except (ValueError, FormError) as exc:
        raise http.BadRequest(str(exc)) from exc
    return {"result": [status_updates.apply_report(carrier.name, report) for report in reports]}


lambda_handler = logger.inject_lambda_context(api.http_function(carrier_status), clear_state=True)
