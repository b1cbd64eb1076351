"""Our SMS provider as a portal sees it: registration at install, and the senders' step of the portal
sync (``reconcile``), which keeps every sender of a portal (the deployment's and those added on the
application's page) registered, pointing at the current HANDLER URL and name. The sync itself
(``events.sync_portal``: senders, then event bindings and the Open Lines connector) is run by the
sender sync function and on ONAPPUPDATE."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

from b24sms.adapters import carriers, store
from b24sms.adapters.bitrix import BitrixError
from b24sms.adapters.bitrix.client import BitrixClient
from b24sms.adapters.config import get_settings
from b24sms.domain.models import Portal

DESCRIPTIONS = {
    "en": "Sends SMS through {carrier}, with delivery statuses",
    "de": "Versendet SMS über {carrier}, mit Zustellstatus",
    "ru": "Отправка SMS через {carrier} со статусами доставки",
}


def handler_url(portal: Portal) -> str:
    """The HANDLER URL: names the portal and carries its secret, since calls may come without auth."""
    query = urlencode({"portal": portal.member_id, "key": portal.handler_secret})
    return f"{get_settings().public_base_url}/bitrix/handler?{query}"


def sender_fields(portal: Portal) -> dict[str, Any]:
    settings = get_settings()
    return {
        "CODE": settings.sender_code,
        "HANDLER": handler_url(portal),
        "NAME": {lang: settings.sender_name for lang in DESCRIPTIONS},
        "DESCRIPTION": {lang: text.format(carrier=carriers.default_name()) for lang, text in DESCRIPTIONS.items()},
    }


def extra_sender_fields(portal: Portal, code: str, name: str) -> dict[str, Any]:
    """An added sender: its own CODE and NAME, the same HANDLER (the CODE in each call tells them apart)."""
    fields = sender_fields(portal)
    return {**fields, "CODE": code, "NAME": {lang: name for lang in DESCRIPTIONS}}


def _fingerprint(fields: dict[str, Any]) -> str:
    return json.dumps({"NAME": fields["NAME"], "DESCRIPTION": fields["DESCRIPTION"]}, sort_keys=True, ensure_ascii=False)


def register(client: BitrixClient, portal: Portal) -> str:
    """Add our sender, or update it when the portal already has it (a re-install)."""
    fields = sender_fields(portal)
    try:
        client.call("messageservice.sender.add", {**fields, "TYPE": "SMS"})
        action = "added"
    except BitrixError as exc:
        if exc.code != "ERROR_SENDER_ALREADY_INSTALLED":
            raise
        client.call("messageservice.sender.update", fields)
        action = "updated"
    store.portals.save_registration(portal.member_id, fields["HANDLER"], _fingerprint(fields))
    return action


@dataclass
class SyncReport:
    member_id: str
    domain: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # event bindings, the connector, its lines put back
    error: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deleted or self.restored)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _reconcile(client: BitrixClient, codes: list[str], fields: dict[str, Any], changed: bool, report: SyncReport) -> None:
    """One sender: added when the portal lacks it, updated when this deployment's URL or name changed."""
    code = str(fields["CODE"])
    if code not in codes:
        try:
            client.call("messageservice.sender.add", {**fields, "TYPE": "SMS"})
            report.added.append(code)
            return
        except BitrixError as exc:  # added since the list (a sync and ONAPPUPDATE at once): update it
            if exc.code != "ERROR_SENDER_ALREADY_INSTALLED":
                raise
        changed = True
    if changed:
        client.call("messageservice.sender.update", fields)
        report.updated.append(code)
    else:
        report.unchanged.append(code)


def reconcile(client: BitrixClient, portal: Portal, report: SyncReport) -> bool:
    """The senders' step of the portal sync (``events.sync_portal``): add ours if missing (all of them
    after an application update), update them if the HANDLER or name changed since we registered
    them, delete codes of ours no longer used. True when this deployment's URL or name changed (what
    is bound to it must follow). ``BitrixError`` when the portal refuses."""
    code = get_settings().sender_code
    fields = sender_fields(portal)
    codes = client.call("messageservice.sender.list")
    codes = [str(c) for c in (codes.values() if isinstance(codes, dict) else codes or [])]
    # Every sender shares the main one's HANDLER and is named after this deployment's sender: a new
    # URL or name updates them all.
    changed = portal.registered_handler != fields["HANDLER"] or portal.registered_name != _fingerprint(fields)
    _reconcile(client, codes, fields, changed, report)
    for extra, settings in portal.senders.items():  # the senders added on the application's page
        _reconcile(client, codes, extra_sender_fields(portal, extra, settings.get("name", "")), changed, report)
    for old in codes:
        if old != code and old not in portal.senders:
            client.call("messageservice.sender.delete", {"CODE": old})
            report.deleted.append(old)
    return changed


def remember(portal: Portal) -> None:
    """What we registered on the portal (its HANDLER and name), once the sync of it succeeded."""
    fields = sender_fields(portal)
    store.portals.save_registration(portal.member_id, fields["HANDLER"], _fingerprint(fields))
