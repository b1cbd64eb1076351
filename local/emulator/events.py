"""What the portal sends to the app, as a portal does: form-encoded POSTs with PHP-style keys (the
install page and the SETTING_CONNECTOR placement, with DOMAIN/PROTOCOL/LANG/APP_SID in the query),
ONAPPINSTALL, ONAPPUNINSTALL, ONAPPUPDATE, the sender's HANDLER call (``auth`` only when a human sent the SMS) and
the OnImConnector* events to the handlers the app bound. Each builder returns the form; ``post`` sends
it. Builders that read the portal run under the emulator's lock; ``post`` runs outside it."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import requests

from local.emulator.forms import encode_form
from local.emulator.state import EmulatedChat, EmulatedPortal


def post(url: str, form: dict[str, Any], params: dict[str, str] | None = None) -> requests.Response:
    return requests.post(
        url,
        params=params,
        data=encode_form(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Bitrix24 Webhook Engine"},
        timeout=30,
    )


def auth_block(portal: EmulatedPortal, access: str, refresh_token: str = "") -> dict[str, Any]:
    block = {
        "access_token": access,
        "expires": int(time.time() + 3600),
        "expires_in": 3600,
        "scope": portal.scope,
        "domain": portal.domain,
        "server_endpoint": portal.server_endpoint,
        "status": "L",
        "client_endpoint": portal.client_endpoint,
        "member_id": portal.member_id,
        "user_id": "1",
        "application_token": portal.application_token,
    }
    if refresh_token:
        block["refresh_token"] = refresh_token
    return block


def handler_id(portal: EmulatedPortal, event: str) -> str:
    return str(list(portal.events).index(event) + 1) if event in portal.events else "0"


def event_token(portal: EmulatedPortal) -> str:
    """The access token an event carries: a live one, a fresh one if none is (the portal mints one)."""
    if any(exp > time.time() for exp in portal.access_tokens.values()):
        return portal.current_access_token
    access = secrets.token_hex(16)
    portal.access_tokens[access] = time.time() + portal.token_ttl
    return access


def _page_query(portal: EmulatedPortal) -> dict[str, str]:
    return {"DOMAIN": portal.domain, "PROTOCOL": "1", "LANG": "en", "APP_SID": secrets.token_hex(8)}


# -- install and uninstall ---------------------------------------------------------------------------
def install_page(portal: EmulatedPortal, access: str, refresh: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(form, query) of the app's install page as the portal's iframe opens it."""
    form = {
        "AUTH_ID": access,
        "AUTH_EXPIRES": 3600,
        "REFRESH_ID": refresh,
        "SERVER_ENDPOINT": portal.server_endpoint,
        "member_id": portal.member_id,
        "status": "L",
        "PLACEMENT": "DEFAULT",
        "PLACEMENT_OPTIONS": "{}",
        "APPLICATION_SCOPE": portal.scope,
        "APPLICATION_TOKEN": portal.application_token,
    }
    return form, _page_query(portal)


def install_event(portal: EmulatedPortal, access: str, refresh: str) -> dict[str, Any]:
    """ONAPPINSTALL, with the token pair in ``auth``."""
    return {
        "event": "ONAPPINSTALL",
        "event_handler_id": "1",
        "data": {"VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": "en"},
        "ts": int(time.time()),
        "auth": auth_block(portal, access, refresh_token=refresh),
    }


def uninstall_event(portal: EmulatedPortal, clean: bool) -> dict[str, Any]:
    """ONAPPUNINSTALL: the app's tokens are gone, so ``auth`` carries none."""
    return {
        "event": "ONAPPUNINSTALL",
        "event_handler_id": "2",
        "data": {"CLEAN": "1" if clean else "0", "LANGUAGE_ID": "en"},
        "ts": int(time.time()),
        "auth": {
            "domain": portal.domain,
            "server_endpoint": portal.server_endpoint,
            "client_endpoint": portal.client_endpoint,
            "member_id": portal.member_id,
            "application_token": portal.application_token,
        },
    }


def update_event(portal: EmulatedPortal, access: str, refresh: str, previous: int) -> dict[str, Any]:
    """ONAPPUPDATE: the new version, the previous one, and a fresh token pair in ``auth``."""
    return {
        "event": "ONAPPUPDATE",
        "event_handler_id": handler_id(portal, "ONAPPUPDATE"),
        "data": {"VERSION": str(portal.app_version), "PREVIOUS_VERSION": str(previous), "LANGUAGE_ID": "en"},
        "ts": int(time.time()),
        "auth": auth_block(portal, access, refresh_token=refresh),
    }


# -- the sender's HANDLER ----------------------------------------------------------------------------
def sms(code: str, message_id: str, to: str, text: str) -> dict[str, Any]:
    """The HANDLER call of an SMS, without ``auth`` (what a robot's SMS carries)."""
    return {
        "type": "SMS",
        "code": code,
        "message_id": message_id,
        "message_to": to,
        "message_body": text,
        "properties": {"phone_number": to, "message_text": text},
        "module_id": "crm",
        "bindings": [{"OWNER_TYPE_ID": "3", "OWNER_ID": "17"}, {"OWNER_TYPE_ID": "2", "OWNER_ID": "42"}],
        "ts": int(time.time()),
    }


# -- Open Lines --------------------------------------------------------------------------------------
def connector_settings(
    portal: EmulatedPortal, connector: str, line: str | int, access: str, refresh: str, active: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """(form, query) of the connector's SETTING_CONNECTOR placement."""
    form = {
        "AUTH_ID": access,
        "AUTH_EXPIRES": 3600,
        "REFRESH_ID": refresh,
        "member_id": portal.member_id,
        "status": "L",
        "PLACEMENT": "SETTING_CONNECTOR",
        "PLACEMENT_OPTIONS": json.dumps(
            {"LINE": int(line) if str(line).isdigit() else line, "ACTIVE_STATUS": 1 if active else 0, "CONNECTOR": connector}
        ),
    }
    return form, _page_query(portal)


def operator_message(
    portal: EmulatedPortal, chat: EmulatedChat, message_id: int, text: str, user_id: str, files: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """ONIMCONNECTORMESSAGEADD: an operator's reply in ``chat``."""
    message: dict[str, Any] = {"user_id": str(user_id), "text": text}
    if files:
        message["files"] = files
    return {
        "event": "ONIMCONNECTORMESSAGEADD",
        "event_handler_id": handler_id(portal, "ONIMCONNECTORMESSAGEADD"),
        "data": {
            "CONNECTOR": chat.connector,
            "LINE": chat.line,
            "MESSAGES": [
                {
                    "im": {"chat_id": chat.chat_id, "message_id": message_id},
                    "message": message,
                    "chat": {"id": chat.external_id},
                }
            ],
        },
        "ts": int(time.time()),
        "auth": auth_block(portal, event_token(portal)),
    }


def bound_event(portal: EmulatedPortal, event: str, data: Any) -> tuple[str, dict[str, Any]] | None:
    """(handler, form) of an event to the app, or None when the app bound no handler to it."""
    handler = portal.events.get(event)
    if not handler:
        return None
    form = {
        "event": event,
        "event_handler_id": handler_id(portal, event),
        "data": data,
        "ts": int(time.time()),
        "auth": auth_block(portal, event_token(portal)),
    }
    return handler, form
