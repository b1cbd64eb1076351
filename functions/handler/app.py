"""POST /bitrix/handler: Bitrix24 hands us an outgoing SMS. Authenticate, record once, queue, answer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api, http, messages

logger = Logger()


def send_sms(event: APIGatewayProxyEventV2) -> dict[str, Any]:
    portal = messages.authenticate_handler(event.query_string_parameters or {})
    logger.append_keys(member_id=portal.member_id)
    form = http.form_body(event.raw_event)
    messages.check_auth_block(portal, form)
    sms = messages.parse_outgoing(form, portal.senders)
    logger.set_correlation_id(sms.message_id)
    result = messages.accept(portal, sms)
    return {"result": True, "message_id": result.message_id, "duplicate": result.duplicate}


lambda_handler = logger.inject_lambda_context(api.http_function(send_sms), clear_state=True)
