"""The Bitrix24 events we bind, in one registry: each event's name, the scopes a portal must grant
for us to bind it, how its payload is read, and what handles it.

Install binds them (``bind``); the portal sync (``sync_portal``: the senders, then ``ensure_bound``
and the Open Lines connector) binds what is missing and moves bindings to a new public URL; the events
function (``POST /bitrix/events``) authenticates a call and hands it to ``handle``. The sync runs for
every portal through the sender sync's queue (``usecases/sync.py``, a message per portal) and for one
portal on ONAPPUPDATE: an
application update deletes every sender of the app, and perhaps more. To handle a new event: one
``Event`` in ``REGISTRY`` (and its handler); nothing else decides whether it is bound, re-bound or
dispatched.
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
from b24sms.adapters.bitrix.tokens import client_for
from b24sms.adapters.config import get_settings
from b24sms.domain.errors import Forbidden, TryLater
from b24sms.domain.models import Portal
from b24sms.usecases import connector, number_routes, replies, senders

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
    tokens: bool = False  # its ``auth`` carries a fresh token pair: stored before ``handle`` runs


def uninstall(portal: Portal, clean: bool) -> int:
    """Lock the portal out: tokens, HANDLER secret and settings erased (a tombstone is left), and the
    carrier credentials the page stored for it deleted (after a recovery window; at once with
    ``clean``). With ``clean`` also its messages (and day counters), opt-outs, audit log and number
    routes. The record read before the lockout names the credentials."""
    store.portals.mark_uninstalled(portal.member_id, portal.sender_seq)
    references = [portal.carrier_config.get("credentials", ""), *(s.get("credentials", "") for s in portal.senders.values())]
    references += [a.get("credentials", "") for a in portal.carrier_accounts.values()]  # its routes' accounts
    extra: dict[str, Any] = {"secrets_deleted": len(store.erase.carrier_secrets(portal.member_id, references, force=clean))}
    deleted = 0
    if clean:
        extra["chats_items_deleted"] = store.erase.chats_items(portal.member_id, [number_routes.our_number(portal)])
        deleted = extra["messages_deleted"] = store.messages.delete_portal_messages(portal.member_id)
    logger.info("portal uninstalled", extra={"member_id": portal.member_id, "clean": clean, **extra})
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


def _on_update(portal: Portal, data: dict[str, Any]) -> dict[str, Any]:
    """A new version of the app: the portal deleted our senders (and maybe bindings and the connector).
    Put everything back now; Bitrix24 does not send the event again, so a failure answers 503 (an
    alarm) and the sender sync is what restores the portal then."""
    report = sync_portal(client_for(portal), portal)
    versions = {"version": data.get("VERSION", ""), "previous": data.get("PREVIOUS_VERSION", "")}
    extra = {**report.as_dict(), **{k: str(v)[:16] for k, v in versions.items()}}
    if report.error:
        logger.error("portal not restored after an application update: run the sender sync", extra=extra)
        raise TryLater(f"portal not restored after the update: {report.error}")
    logger.info("portal restored after an application update", extra=extra)
    return {"result": True}


def _on_status_delete(portal: Portal, data: dict[str, Any]) -> dict[str, Any]:
    if str(data.get("connector") or data.get("CONNECTOR") or "") != connector.connector_id():
        return {"result": False, "detail": "another connector"}
    return {"result": connector.forget_line(portal, str(data.get("line") or data.get("LINE") or ""))}


REGISTRY: dict[str, Event] = {
    event.name: event
    for event in (
        Event("ONAPPUNINSTALL", (), _clean_flag, _on_uninstall),
        Event("ONAPPUPDATE", (), lambda data: data if isinstance(data, dict) else {}, _on_update, tokens=True),
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


def handle(portal: Portal, name: str, data: Any, auth: Any = None) -> dict[str, Any]:
    """Run the registry's handler of event ``name`` on its ``data`` (after storing the tokens of its
    authenticated ``auth`` block, for an event that carries them); an event we do not handle (or a
    payload that is not for us) is answered ``result: false`` and changes nothing."""
    event = REGISTRY.get(name)
    parsed = event.parse(data) if event else NOT_HANDLED
    if event is None or parsed is NOT_HANDLED:
        logger.info("event ignored")
        return {"result": False, "event": name, "detail": "event not handled"}
    if event.tokens:
        portal = _take_tokens(portal, auth)
    return {**event.handle(portal, parsed), "event": name}


def _take_tokens(portal: Portal, auth: Any) -> Portal:
    """Store the token pair an authenticated event brought (as the next ``token_version``: a refresh
    running meanwhile wins, and its pair is as good) and the scopes it names (an update may grant
    more, e.g. the Open Lines channel's); the portal as it is stored afterwards."""
    auth = auth if isinstance(auth, dict) else {}
    scope = str(auth.get("scope") or "")
    if scope and scope != portal.scope and len(scope) <= 1024:
        store.portals.set_scope(portal.member_id, scope)
    access, refresh = str(auth.get("access_token") or ""), str(auth.get("refresh_token") or "")
    try:
        expires = int(auth.get("expires") or 0) or store.now() + int(auth.get("expires_in") or 0)
    except (TypeError, ValueError):
        expires = 0
    if access and refresh and max(len(access), len(refresh)) <= 512 and expires > store.now():
        tokens = {"access_token": access, "refresh_token": refresh, "expires_at": expires}
        store.portals.save_refreshed_tokens(portal.member_id, portal.token_version, tokens)
    return store.portals.get_portal(portal.member_id) or portal


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


def ensure_bound(client: BitrixClient, portal: Portal) -> list[str]:
    """Every event the portal lets us bind bound at our current events URL, and nowhere else: what
    ``event.get`` lists at another URL of ours (our public URL moved) is unbound, what it lacks (an
    application update dropped it, or this version added it) is bound. Returns the events bound."""
    url, ours = events_url(), bindable(portal)
    names = {event.name for event in ours}
    listed = client.call("event.get")
    bound = [b for b in (listed if isinstance(listed, list) else []) if isinstance(b, dict)]
    for binding in bound:
        name, handler = str(binding.get("event") or "").upper(), str(binding.get("handler") or "")
        if name in names and handler != url and handler.endswith("/bitrix/events"):
            try:
                client.call("event.unbind", {"event": name, "handler": handler})
            except BitrixError as exc:  # already gone: nothing to do
                logger.info("old event binding not removed", extra={"event": name, "error": exc.code})
    here = {str(b.get("event") or "").upper() for b in bound if str(b.get("handler") or "") == url}
    missing = [event for event in ours if event.name not in here]
    bind(client, missing)
    return [event.name for event in missing]


# -- the portal sync -------------------------------------------------------------------------------
def sync_portal(client: BitrixClient, portal: Portal) -> senders.SyncReport:
    """Make the portal match this deployment: its senders (``senders.reconcile``), then every event of
    the registry it grants bound at our current URL, and the Open Lines connector registered with its
    lines active. Idempotent: on a portal that lacks nothing it costs three calls (``sender.list``,
    ``event.get``, ``imconnector.list``) and a ``imconnector.status`` per connected line."""
    report = senders.SyncReport(portal.member_id, portal.domain)
    try:
        moved = senders.reconcile(client, portal, report)
        report.restored.extend(f"event {name}" for name in ensure_bound(client, portal))
        report.restored.extend(connector.ensure(client, portal, moved))
        senders.remember(portal)
    except BitrixError as exc:
        report.error = f"{exc.code}: {exc.description}"
    return report
