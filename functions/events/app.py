"""POST /bitrix/events: application events from the portal, authenticated by the application_token
stored at install and handed to the event registry (``usecases/bitrix_events.py``: ONAPPUNINSTALL, ONAPPUPDATE,
and the Open Lines connector's OnImConnectorMessageAdd / LineDelete / StatusDelete)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api
from b24sms.domain.errors import Invalid
from b24sms.usecases import bitrix_events

logger = Logger()


def application_event(event: APIGatewayProxyEventV2) -> dict[str, Any]:
    form = api.form_body(event.raw_event)
    name = str(form.get("event", "")).upper()
    if not name or len(name) > 64:
        raise Invalid("missing or invalid event")
    portal = bitrix_events.authenticate(form)
    logger.append_keys(member_id=portal.member_id, event=name)
    return bitrix_events.handle(portal, name, form.get("data"), form.get("auth"))


lambda_handler = api.lambda_handler(application_event, logger)
