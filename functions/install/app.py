"""POST /bitrix/install: the install page POST or the ONAPPINSTALL event. Store the portal and
register our SMS provider on it."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api
from b24sms.adapters.bitrix import BitrixError
from b24sms.domain.errors import DomainError
from b24sms.usecases import install

logger = Logger()

FINISH_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>SMS provider installed</title>
<script src="//api.bitrix24.com/api/v1/"></script></head>
<body><p>The SMS provider is installed. You can now pick it when sending SMS from CRM.</p>
<script>BX24.init(function () { BX24.installFinish(); });</script></body></html>
"""


# A portal registered the old way opens the app at its install URL: that POST (the user's AUTH_ID, no
# APPLICATION_TOKEN) goes on to the application's page, /bitrix/app, in the same iframe.
OPEN_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>SMS provider</title></head>
<body><form id="open" method="post" action="{action}">{inputs}</form>
<script>document.getElementById("open").submit();</script></body></html>
"""
FORWARDED = ("AUTH_ID", "AUTH_EXPIRES", "member_id", "status", "PLACEMENT", "PLACEMENT_OPTIONS")


def forward_to_page(form: dict[str, Any], query: dict[str, str]) -> api.HtmlPage:
    """The page that forwards an "open" POST of an installed portal to /bitrix/app."""
    kept = {k: str(query[k]) for k in ("DOMAIN", "PROTOCOL", "LANG", "APP_SID") if isinstance(query.get(k), str)}
    action = f"{install.page_url()}?{urlencode(kept)}"
    inputs = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(str(form[k]))}">'
        for k in FORWARDED
        if isinstance(form.get(k), str | int)
    )
    return api.HtmlPage(OPEN_PAGE.format(action=html.escape(action), inputs=inputs))


def install_app(event: APIGatewayProxyEventV2) -> dict[str, Any] | api.HtmlPage:
    form = api.form_body(event.raw_event)
    on_page = "event" not in form and "auth" not in form  # a person is looking at the answer
    if on_page and install.is_open_of_installed(form):
        return forward_to_page(form, event.query_string_parameters or {})
    try:
        request = install.parse_install(form, event.query_string_parameters or {})
        logger.append_keys(member_id=request.member_id)
        portal = install.install(request)
    except (DomainError, BitrixError) as exc:
        if not on_page:
            raise
        logger.warning("install failed", extra={"error": exc.code})
        reason = exc.description or exc.code
        return api.message_page(
            "SMS provider not installed",
            f"The SMS provider could not be installed: {reason}",
            "Try again; if it keeps failing, give this message to the application's support.",
            status=api.http_status(exc),
        )
    if request.source == "page":
        return api.HtmlPage(FINISH_PAGE)
    return {"result": True, "member_id": portal.member_id}


lambda_handler = api.lambda_handler(install_app, logger)
