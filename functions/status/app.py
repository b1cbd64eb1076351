"""POST (or GET, for Vonage) /carriers/{carrier}/status: a carrier's delivery report. Verify its
signature (with the credentials of the portal the message belongs to), move the message's status
forward, queue the push."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api, http, status_updates
from b24sms.carriers import CallbackRequest, SignatureError, UnknownCarrier
from b24sms.config import get_settings
from b24sms.formdata import FormError

logger = Logger()


def carrier_status(event: APIGatewayProxyEventV2) -> dict[str, Any]:
    name = (event.path_parameters or {}).get("carrier", "")
    request = CallbackRequest(
        url=http.public_url(event.raw_event, get_settings().public_base_url),
        headers=api.headers_of(event.raw_event),
        body=http.raw_body(event.raw_event),
        query=event.query_string_parameters or {},
    )
    try:
        return {"result": status_updates.receive(name, request)}
    except UnknownCarrier as exc:
        raise http.NotFound(str(exc)) from exc
    except SignatureError as exc:
        raise http.Forbidden(str(exc), "bad_signature") from exc
    except (ValueError, FormError) as exc:
        raise http.BadRequest(str(exc)) from exc


lambda_handler = logger.inject_lambda_context(api.http_function(carrier_status), clear_state=True)
