"""The Bitrix24 events we bind, in one registry: each event's name, the scopes a portal must grant
for us to bind it, how its payload is read, and what handles it.

Install binds them (``bind``), the sender sync re-binds them at a new public URL (``rebind``), and
the events function (``POST /bitrix/events``) authenticates a call and hands it to ``handle``. To
handle a new event: one ``Event`` in ``REGISTRY`` (and its handler); nothing else decides whether it
is bound, re-bound or dispatched.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from b24sms.adapters import store
from b24sms.adapters.bitrix import BitrixError
from b24sms.adapters.config import get_settings
from b24sms.domain.errors import Forbidden
from b24sms.domain.models import Portal
from b24sms.usecases import connector, replies

if TYPE_CHECKING:
    from b24sms.adapters.bitrix.client import BitrixClient

logger = Logger(child=True)

TRUE_VALUES = {"1", "y", "yes", "true"}
NOT_HANDLED = object()  # what a payload parser returns for a payload that is not for us


@dataclass(frozen=True)
class Event:
    name: str  # as Bitrix24 spells it in event.bind, upper case
    scopes: tuple[str, ...]  # what the portal must grant for us to bind it: () for every portal
    parse: Callable[[Any], Any]  # the event's ``data`` -> what ``handle`` takes, or NOT_HANDLED
    handle: Callable[[Portal, Any], dict[str, Any]]  # -> the answer's fields (``result``, maybe ``detail``)


def uninstall(portal: Portal, clean: bool) -> int:
    """Lock the portal out (tokens and secrets erased); with ``clean`` also erase its messages."""
    store.portals.mark_uninstalled(portal.member_id)
    deleted = store.messages.delete_portal_messages(portal.member_id) if clean else 0
    logger.info("portal uninstalled", extra={"member_id": portal.member_id, "clean": clean, "messages_deleted": deleted})
    return deleted


def _on_uninstall(portal: Portal, clean: bool) -> dict[str, Any]:
    uninstall(portal, clean)
    return {"result": True}


def _clean_flag(data: Any) -> bool:
    return isinstance(data, dict) and str(data.get("CLEAN", "")).lower() in TRUE_VALUES


def _a_dict(data: Any) -> Any:
    return data if isinstance(data, dict) else NOT_HANDLED


def _line(data: Any) -> str:
    return str(data if not isinstance(data, dict) else data.get("LINE") or data.get("line") or "")


def _on_status_delete(portal: Portal, data: dict[str, Any]) -> dict[str, Any]:
    if str(data.get("connector") or data.get("CONNECTOR") or "") != connector.connector_id():
        return {"result": False, "detail": "another connector"}
    return {"result": connector.forget_line(portal, str(data.get("line") or data.get("LINE") or ""))}


REGISTRY: dict[str, Event] = {
    event.name: event
    for event in (
        Event("ONAPPUNINSTALL", (), _clean_flag, _on_uninstall),
        Event(
            "ONIMCONNECTORMESSAGEADD",
            connector.SCOPES,
            _a_dict,
            lambda portal, data: {"result": replies.operator_replies(portal, data)},
        ),
        Event(
            "ONIMCONNECTORLINEDELETE",
            connector.SCOPES,
            _line,
            lambda portal, line: {"result": connector.forget_line(portal, line)},
        ),
        Event("ONIMCONNECTORSTATUSDELETE", connector.SCOPES, _a_dict, _on_status_delete),
    )
}


def authenticate(form: dict[str, Any]) -> Portal:
    """An application event is genuine only if it carries the application_token stored at install."""
    auth = form.get("auth")
    if not isinstance(auth, dict):
        raise Forbidden("event without an auth block")
    member_id = str(auth.get("member_id") or "")
    token = str(auth.get("application_token") or "")
    portal = store.portals.get_portal(member_id) if member_id else None
    expected = portal.application_token if portal and portal.installed else ""
    # Compare even when there is nothing to compare with, so timing does not tell portals apart.
    if not hmac.compare_digest(token.encode(), (expected or secrets.token_hex(16)).encode()) or not expected or not portal:
        raise Forbidden("unknown portal or wrong application_token")
    return portal


def handle(portal: Portal, name: str, data: Any) -> dict[str, Any]:
    """Run the registry's handler of event ``name`` on its ``data``; an event we do not handle (or a
    payload that is not for us) is answered ``result: false`` and changes nothing."""
    event = REGISTRY.get(name)
    parsed = event.parse(data) if event else NOT_HANDLED
    if event is None or parsed is NOT_HANDLED:
        logger.info("event ignored")
        return {"result": False, "event": name, "detail": "event not handled"}
    return {**event.handle(portal, parsed), "event": name}


# -- binding ---------------------------------------------------------------------------------------
def events_url(base_url: str | None = None) -> str:
    return f"{get_settings().public_base_url if base_url is None else base_url}/bitrix/events"


def bindable(portal: Portal, scoped: bool | None = None) -> list[Event]:
    """The events this portal lets us bind (it grants their scopes); ``scoped``: only those that need
    a scope (True) or only those that need none (False)."""
    return [
        event
        for event in REGISTRY.values()
        if connector.grants(portal, event.scopes) and (scoped is None or bool(event.scopes) == scoped)
    ]


def bind(client: BitrixClient, events: Iterable[Event]) -> None:
    """Bind events to our events route (bindings are dropped on app update: bind at every install)."""
    for event in events:
        try:
            client.call("event.bind", {"event": event.name, "handler": events_url(), "event_type": "online"})
        except BitrixError as exc:
            if "already" not in exc.description.lower():
                raise


def rebind(client: BitrixClient, portal: Portal, old_base_url: str) -> None:
    """Our public URL changed: unbind every event the portal lets us bind from the old events URL (it
    would keep going there), and bind them all at the current one."""
    events = bindable(portal)
    old = events_url(old_base_url)
    if old_base_url and old != events_url():
        for event in events:
            try:
                client.call("event.unbind", {"event": event.name, "handler": old})
            except BitrixError as exc:  # already gone: nothing to do
                logger.info("old event binding not removed", extra={"event": event.name, "error": exc.code})
    bind(client, events)
