"""POST /bitrix/connector: the Open Lines connector settings placement, opened by the portal when an
admin connects our SMS channel to a line. Activates it on that line with the admin's own token and
says so on the page."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api
from b24sms.adapters.bitrix import BitrixError
from b24sms.domain.errors import DomainError
from b24sms.usecases import connector

logger = Logger()

TITLE = "SMS in Open Lines"


def connector_settings(event: APIGatewayProxyEventV2) -> api.HtmlPage:
    form = api.form_body(event.raw_event)
    try:
        done = connector.activate_from_placement(form)
    except DomainError as exc:
        logger.warning("connector placement refused", extra={"error": exc.code})
        return api.message_page(TITLE, f"SMS could not be connected: {exc.description}", status=api.http_status(exc))
    except BitrixError as exc:
        logger.warning("connector activation failed", extra={"error": exc.code})
        text = f"SMS could not be connected: the portal answered {exc.code}. Try again."
        return api.message_page(TITLE, text, status=api.http_status(exc))
    if done.active:
        text = f"SMS is connected to Open Line {done.line}: customers' SMS replies arrive here, and your answers go out as SMS."
    else:
        text = f"SMS is disconnected from Open Line {done.line}."
    return api.message_page(TITLE, text)


lambda_handler = api.lambda_handler(connector_settings, logger)
