"""POST /bitrix/connector: the Open Lines connector settings placement, opened by the portal when an
admin connects our SMS channel to a line. Activates it on that line with the admin's own token and
says so on the page."""

from __future__ import annotations

import html

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api
from b24sms.adapters import telemetry
from b24sms.adapters.bitrix import BitrixError
from b24sms.domain.errors import DomainError
from b24sms.usecases import connector

logger = Logger()

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>SMS in Open Lines</title></head>
<body><p>{text}</p></body></html>
"""


def connector_settings(event: APIGatewayProxyEventV2) -> api.HtmlPage:
    form = api.form_body(event.raw_event)
    try:
        done = connector.activate_from_placement(form)
    except DomainError as exc:
        logger.warning("connector placement refused", extra={"error": exc.code})
        return api.HtmlPage(PAGE.format(text=html.escape(f"SMS could not be connected: {exc.description}")), api.http_status(exc))
    except BitrixError as exc:
        logger.warning("connector activation failed", extra={"error": exc.code})
        text = f"SMS could not be connected: the portal answered {exc.code}. Try again."
        return api.HtmlPage(PAGE.format(text=html.escape(text)), api.http_status(exc))
    if done.active:
        text = f"SMS is connected to Open Line {done.line}: customers' SMS replies arrive here, and your answers go out as SMS."
    else:
        text = f"SMS is disconnected from Open Line {done.line}."
    return api.HtmlPage(PAGE.format(text=html.escape(text)))


lambda_handler = logger.inject_lambda_context(telemetry.traced(api.http_function(connector_settings)), clear_state=True)
