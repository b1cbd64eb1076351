"""POST (or GET, for Vonage) /carriers/{carrier}/inbound: a customer's SMS to our number. Verify the
carrier's signature, then post it into the customer's Open Lines chat."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api, http, openlines
from b24sms.carriers import CallbackRequest, SignatureError, UnknownCarrier, get_carrier
from b24sms.config import get_settings
from b24sms.formdata import FormError

logger = Logger()


def inbound_sms(event: APIGatewayProxyEventV2) -> dict[str, Any]:
    name = (event.path_parameters or {}).get("carrier", "")
    request = CallbackRequest(
        url=http.public_url(event.raw_event, get_settings().public_base_url),
        headers=api.headers_of(event.raw_event),
        body=http.raw_body(event.raw_event),
        query=event.query_string_parameters or {},
    )
    try:
        sms = get_carrier(name).parse_inbound(request)
    except UnknownCarrier as exc:
        raise http.NotFound(str(exc)) from exc
    except SignatureError as exc:
        raise http.Forbidden(str(exc), "bad_signature") from exc
    except (ValueError, FormError) as exc:
        raise http.BadRequest(str(exc)) from exc
    return {"result": openlines.receive_inbound(name, sms)}


lambda_handler = logger.inject_lambda_context(api.http_function(inbound_sms), clear_state=True)
