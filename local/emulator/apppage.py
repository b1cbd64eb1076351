"""The application's page as the portal opens it: in an iframe, by a POST of the user's AUTH_ID (the
app's handler path; an app registered the old way gets it at its install URL). ``open_form`` is that
POST; ``frame`` is the portal's own page around it (``GET /{portal}/app?user=<id>&lang=<xx>``), which
a desktop browser or a Playwright test opens like a user of the portal would."""

from __future__ import annotations

import html
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from local.emulator.state import EmulatedPortal, EmulatorState


def open_form(portal: EmulatedPortal, user_id: str = "1", lang: str = "en") -> tuple[dict[str, Any], dict[str, str]]:
    """(form, query) of opening the installed app as ``user_id``: a fresh access token for that user."""
    access, refresh = portal.issue_tokens(user_id)
    form = {
        "AUTH_ID": access,
        "AUTH_EXPIRES": 3600,
        "REFRESH_ID": refresh,
        "member_id": portal.member_id,
        "status": "L",
        "PLACEMENT": "DEFAULT",
        "PLACEMENT_OPTIONS": "{}",
    }
    return form, {"DOMAIN": portal.domain, "PROTOCOL": "1", "LANG": lang, "APP_SID": secrets.token_hex(8)}


def frame(state: EmulatorState, raw_path: str) -> tuple[int, dict[str, str], bytes] | None:
    """The portal's page framing the app, or None when ``raw_path`` is not ``/{portal}/app``."""
    parts = urlsplit(raw_path)
    segments = parts.path.strip("/").split("/")
    if len(segments) != 2 or segments[1] != "app" or segments[0] not in state.portals:
        return None
    query = dict(parse_qsl(parts.query))
    with state.lock:
        portal = state.portals[segments[0]]
        if not portal.app_url:
            return 404, {"Content-Type": "text/plain"}, b"the app is not installed on this portal"
        form, page_query = open_form(portal, query.get("user", "1"), query.get("lang", "en"))
        action = f"{portal.app_url}?{urlencode(page_query)}"
    inputs = "".join(f'<input type="hidden" name="{html.escape(str(k))}" value="{html.escape(str(v))}">' for k, v in form.items())
    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(portal.domain)}: SMS provider</title>
<style>body{{margin:0;font:13px Arial,sans-serif;background:#2fc6f6}}header{{color:#fff;padding:8px 16px}}
iframe{{width:100%;height:calc(100vh - 40px);border:0;background:#eef2f4}}</style></head>
<body><header>Bitrix24 emulator · {html.escape(portal.domain)} · user {html.escape(query.get("user", "1"))}</header>
<iframe name="app" id="app" title="app"></iframe>
<form id="open" method="post" target="app" action="{html.escape(action)}">{inputs}</form>
<script>document.getElementById("open").submit();</script></body></html>"""
    return 200, {"Content-Type": "text/html; charset=utf-8"}, body.encode()
