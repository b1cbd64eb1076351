"""POST /bitrix/handler: Bitrix24 hands us an outgoing SMS. Authenticate, record once, queue, answer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api
from b24sms.usecases import accept

logger = Logger()


def send_sms(event: APIGatewayProxyEventV2) -> dict[str, Any]:
    portal = accept.authenticate_handler(event.query_string_parameters or {})
    logger.append_keys(member_id=portal.member_id)
    form = api.form_body(event.raw_event)
    portal = accept.check_auth_block(portal, form)
    sms = accept.parse_outgoing(form, accept.sender_codes(portal, form))
    logger.set_correlation_id(sms.message_id)
    result = accept.accept(portal, sms)
    return {"result": True, "message_id": result.message_id, "duplicate": result.duplicate}


lambda_handler = api.lambda_handler(send_sms, logger)
