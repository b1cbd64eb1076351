"""POST /bitrix/install: the install page POST or the ONAPPINSTALL event. Store the portal and
register our SMS provider on it."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api, http, portals, storage
from b24sms.bitrix import BitrixError
from b24sms.config import get_settings

logger = Logger()

FINISH_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>SMS provider installed</title>
<script src="//api.bitrix24.com/api/v1/"></script></head>
<body><p>The SMS provider is installed. You can now pick it when sending SMS from CRM.</p>
<script>BX24.init(function () { BX24.installFinish(); });</script></body></html>
"""


ERROR_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>SMS provider not installed</title></head>
<body><p>The SMS provider could not be installed: {reason}</p>
<p>Try again; if it keeps failing, give this message to the application's support.</p></body></html>
"""


# A portal registered the old way opens the app at its install URL: that POST (the user's AUTH_ID, no
# APPLICATION_TOKEN) goes on to the application's page, /bitrix/app, in the same iframe.
OPEN_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>SMS provider</title></head>
<body><form id="open" method="post" action="{action}">{inputs}</form>
<script>document.getElementById("open").submit();</script></body></html>
"""
FORWARDED = ("AUTH_ID", "AUTH_EXPIRES", "member_id", "status", "PLACEMENT", "PLACEMENT_OPTIONS")


def open_of_installed(form: dict[str, Any], query: dict[str, str]) -> api.HtmlPage | None:
    """The page that forwards an "open" POST of an installed portal to /bitrix/app, else None."""
    if "event" in form or "auth" in form or form.get("APPLICATION_TOKEN") or not form.get("AUTH_ID"):
        return None
    member_id = str(form.get("member_id") or "")
    portal = storage.get_portal(member_id) if member_id and len(member_id) <= 64 else None
    if portal is None or not portal.installed:
        return None
    kept = {k: str(query[k]) for k in ("DOMAIN", "PROTOCOL", "LANG", "APP_SID") if isinstance(query.get(k), str)}
    action = f"{get_settings().public_base_url}/bitrix/app?{urlencode(kept)}"
    inputs = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(str(form[k]))}">'
        for k in FORWARDED
        if isinstance(form.get(k), str | int)
    )
    return api.HtmlPage(OPEN_PAGE.format(action=html.escape(action), inputs=inputs))


def install(event: APIGatewayProxyEventV2) -> dict[str, Any] | api.HtmlPage:
    form = http.form_body(event.raw_event)
    on_page = "event" not in form and "auth" not in form  # a person is looking at the answer
    opened = open_of_installed(form, event.query_string_parameters or {}) if on_page else None
    if opened is not None:
        return opened
    try:
        request = portals.parse_install(form, event.query_string_parameters or {})
        logger.append_keys(member_id=request.member_id)
        portal = portals.install(request)
    except (http.HttpError, BitrixError) as exc:
        if not on_page:
            raise
        logger.warning("install failed", extra={"error": exc.code})
        status = exc.status if isinstance(exc, http.HttpError) else (503 if exc.transient else 502)
        reason = exc.description or exc.code
        return api.HtmlPage(ERROR_PAGE.format(reason=html.escape(reason)), status)
    if request.source == "page":
        return api.HtmlPage(FINISH_PAGE)
    return {"result": True, "member_id": portal.member_id}


lambda_handler = logger.inject_lambda_context(api.http_function(install), clear_state=True)
