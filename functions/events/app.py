"""POST /bitrix/events: application events from the portal (ONAPPUNINSTALL), authenticated by the
application_token stored at install."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api, http, portals

logger = Logger()

TRUE_VALUES = {"1", "y", "yes", "true"}


def application_event(event: APIGatewayProxyEventV2) -> dict[str, Any]:
    form = http.form_body(event.raw_event)
    name = str(form.get("event", "")).upper()
    if not name:
        raise http.BadRequest("missing event")
    portal = portals.authenticate_event(form)
    logger.append_keys(member_id=portal.member_id, event=name)
    if name == "ONAPPUNINSTALL":
        data = form.get("data")
        clean = isinstance(data, dict) and str(data.get("CLEAN", "")).lower() in TRUE_VALUES
        portals.uninstall(portal, clean=clean)
        return {"result": True, "event": name}
    logger.info("event ignored")
    return {"result": False, "event": name, "detail": "event not handled"}


lambda_handler = logger.inject_lambda_context(api.http_function(application_event), clear_state=True)
