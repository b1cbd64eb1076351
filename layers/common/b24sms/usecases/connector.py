"""Our SMS channel as an Open Lines connector on a portal.

- install (and the sender sync): ``imconnector.register`` with our placement handler URL; the
  connector's events are bound from the event registry (``usecases/bitrix_events.py``);
- after an application update (and at every sync): ``ensure`` puts back the connector and the
  activation of the lines we route for, if the portal dropped them;
- the connector settings placement activates the channel on a line with the admin's own token (a
  forged page gets refused by the portal itself), and the line is remembered;
- a line deleted, or our connector removed from it: ``forget_line``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import store
from b24sms.adapters.bitrix import BitrixError
from b24sms.adapters.config import get_settings
from b24sms.domain.errors import Forbidden, Invalid
from b24sms.domain.formdata import FormError, decode_json_object
from b24sms.domain.models import Portal
from b24sms.usecases.number_routes import remember_route

logger = Logger(child=True)

SCOPES = ("imconnector", "imopenlines")  # what the portal must grant for the Open Lines channel


ICON = (
    "data:image/svg+xml;charset=US-ASCII,"
    "%3Csvg%20xmlns%3D%22http%3A%2F%2Fwww.w3.org%2F2000%2Fsvg%22%20viewBox%3D%220%200%2070%2071%22%3E"
    "%3Cpath%20fill%3D%22%23FFF%22%20d%3D%22M13%2016h44a4%204%200%200%201%204%204v26a4%204%200%200%201-4%204H30l-11%209v-9h-6a4"
    "%204%200%200%201-4-4V20a4%204%200%200%201%204-4z%22%2F%3E%3C%2Fsvg%3E"
)


def connector_id() -> str:
    """Our connector's ID: a-z, 0-9 and _ only (Bitrix24 refuses dots)."""
    return re.sub(r"[^a-z0-9_]", "_", get_settings().sender_code.lower()) + "_sms"


def placement_url() -> str:
    return f"{get_settings().public_base_url}/bitrix/connector"


def has_scope(portal: Portal) -> bool:
    """The portal granted what the Open Lines channel needs (``SCOPES``)."""
    return grants(portal, SCOPES)


def grants(portal: Portal, scopes: tuple[str, ...]) -> bool:
    """The portal granted the app every one of ``scopes`` (``portal.scope``: comma- or space-separated)."""
    granted = {s.strip() for s in portal.scope.replace(" ", ",").split(",")}
    return all(scope in granted for scope in scopes)


def register(client: Any, portal: Portal) -> bool:
    """Register the connector with our placement handler URL (again at every install and whenever the
    sender sync finds our URL changed); False (and nothing done) without the scopes. Its events are
    bound by the caller, from the event registry (``usecases/bitrix_events.py``)."""
    if not has_scope(portal):
        logger.info("Open Lines not set up: the portal did not grant imconnector/imopenlines", extra={"scope": portal.scope})
        return False
    client.call(
        "imconnector.register",
        {
            "ID": connector_id(),
            "NAME": get_settings().sender_name,
            "ICON": {"DATA_IMAGE": ICON, "COLOR": "#1DB954", "SIZE": "90%", "POSITION": "center"},
            "PLACEMENT_HANDLER": placement_url(),
        },
    )
    return True


def ensure(client: Any, portal: Portal, moved: bool = False) -> list[str]:
    """The connector as it should be after an application update or a sync: registered again when the
    portal lists it no more (``imconnector.list``) or our URL or name changed (``moved``), and each Open
    Line we route for active on it (``imconnector.status``), activated again with the app's token when
    it is not. What was put back, e.g. ``["connector", "line 1"]``; nothing without the scopes.

    ``placement.get`` would show the connector's SETTING_CONNECTOR placement too, but needs the
    ``placement`` scope, which this app does not ask for; the connector's own list tells the same."""
    if not has_scope(portal):
        return []
    restored = []
    listed = {} if moved else client.call("imconnector.list")
    if moved or connector_id() not in (listed if isinstance(listed, dict) else {}):
        register(client, portal)
        restored.append("connector")
    for line in portal.openlines:
        status = client.call("imconnector.status", {"CONNECTOR": connector_id(), "LINE": line})
        if isinstance(status, dict) and status.get("STATUS") is True:
            continue
        try:
            _activate(client, line)
            restored.append(f"line {line}")
        except BitrixError as exc:  # an admin connects it again in the Contact Center
            logger.warning("Open Line not reconnected", extra={"line": line, "error": exc.code})
    return restored


def _activate(client: Any, line: str) -> None:
    connector = connector_id()
    client.call("imconnector.activate", {"CONNECTOR": connector, "LINE": line, "ACTIVE": 1})
    data = {"ID": connector, "URL": placement_url(), "URL_IM": placement_url(), "NAME": get_settings().sender_name}
    client.call("imconnector.connector.data.set", {"CONNECTOR": connector, "LINE": line, "DATA": data})


@dataclass(frozen=True)
class Activation:
    line: str
    active: bool


def activate_from_placement(form: dict[str, Any]) -> Activation:
    """The admin connected (or disconnected) our channel to a line: activate it with the admin's own
    token (a forged page gets refused by the portal itself), and remember the line."""
    member_id = str(form.get("member_id") or "")
    token = str(form.get("AUTH_ID") or "")
    raw_options = form.get("PLACEMENT_OPTIONS") or "{}"
    try:
        options = decode_json_object(raw_options if isinstance(raw_options, str) else "")
    except FormError as exc:
        raise Invalid(f"PLACEMENT_OPTIONS must be a JSON object: {exc}") from exc
    line = str(options.get("LINE") or "")
    if not member_id or not token or not (line.isascii() and line.isdigit() and len(line) <= 10):
        raise Invalid("a connector placement needs member_id, AUTH_ID and PLACEMENT_OPTIONS[LINE]")
    portal = store.portals.get_portal(member_id)
    if portal is None or not portal.installed:
        raise Forbidden("unknown portal")
    active = str(options.get("ACTIVE_STATUS", "1")) != "0"
    from b24sms.adapters.bitrix.client import BitrixClient  # cold start: the REST client, only when a line is connected

    as_admin = BitrixClient(replace(portal, access_token=token), None, timeout=get_settings().http_timeout)
    try:
        if active:
            _activate(as_admin, line)
        else:
            as_admin.call("imconnector.activate", {"CONNECTOR": connector_id(), "LINE": line, "ACTIVE": 0})
    except BitrixError as exc:
        if exc.code in ("invalid_token", "expired_token", "NO_AUTH_FOUND", "insufficient_scope", "ACCESS_DENIED"):
            raise Forbidden(f"the portal refused this token: {exc.code}") from exc
        raise
    lines = dict(portal.openlines)
    if active:
        lines[line] = "active"
    else:
        lines.pop(line, None)
    store.portals.set_openlines(member_id, lines)
    if active:
        remember_route(portal)  # the first SMS a customer sends to our number finds this portal
    logger.info("Open Line connected" if active else "Open Line disconnected", extra={"line": line})
    return Activation(line, active)


def forget_line(portal: Portal, line: str) -> bool:
    """A line deleted, or our connector removed from it: stop routing there."""
    if line not in portal.openlines:
        return False
    store.portals.set_openlines(portal.member_id, {k: v for k, v in portal.openlines.items() if k != line})
    logger.info("Open Line forgotten", extra={"line": line})
    return True


def check_results(method: str, result: Any, http_status: int = 502) -> None:
    """A message the portal refused (``SUCCESS: false`` in its row) raises a ``BitrixError`` carrying
    ``http_status``: below 500 makes it a permanent error (not retried)."""
    rows = ((result or {}).get("DATA") or {}).get("RESULT") or []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("SUCCESS") is False:
            raise BitrixError("IMCONNECTOR_REFUSED", f"{method}: {row.get('ERRORS')}", http_status, method)
