"""POST /bitrix/events: application events from the portal (ONAPPUNINSTALL, and the Open Lines
connector's OnImConnectorMessageAdd / LineDelete / StatusDelete), authenticated by the
application_token stored at install."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api, http, openlines, portals

logger = Logger()

TRUE_VALUES = {"1", "y", "yes", "true"}


def application_event(event: APIGatewayProxyEventV2) -> dict[str, Any]:
    form = http.form_body(event.raw_event)
    name = str(form.get("event", "")).upper()
    if not name or len(name) > 64:
        raise http.BadRequest("missing or invalid event")
    portal = portals.authenticate_event(form)
    logger.append_keys(member_id=portal.member_id, event=name)
    if name == "ONAPPUNINSTALL":
        data = form.get("data")
        clean = isinstance(data, dict) and str(data.get("CLEAN", "")).lower() in TRUE_VALUES
        portals.uninstall(portal, clean=clean)
        return {"result": True, "event": name}
    data = form.get("data")
    if name == "ONIMCONNECTORMESSAGEADD" and isinstance(data, dict):
        return {"result": openlines.operator_replies(portal, data), "event": name}
    if name == "ONIMCONNECTORLINEDELETE":
        line = str(data if not isinstance(data, dict) else data.get("LINE") or data.get("line") or "")
        return {"result": openlines.forget_line(portal, line), "event": name}
    if name == "ONIMCONNECTORSTATUSDELETE" and isinstance(data, dict):
        if str(data.get("connector") or data.get("CONNECTOR") or "") != openlines.connector_id():
            return {"result": False, "event": name, "detail": "another connector"}
        line = str(data.get("line") or data.get("LINE") or "")
        return {"result": openlines.forget_line(portal, line), "event": name}
    logger.info("event ignored")
    return {"result": False, "event": name, "detail": "event not handled"}


lambda_handler = logger.inject_lambda_context(api.http_function(application_event), clear_state=True)
