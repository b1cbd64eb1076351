"""Our SMS provider as a portal sees it: registration at install, and the sync that keeps every
installed portal's sender pointing at the current HANDLER URL and name, and, when our public URL
changed, every event of the registry (``usecases/events.py``) and the Open Lines connector's placement
handler with it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools import Logger

from b24sms.adapters import carriers, store
from b24sms.adapters.bitrix import BitrixError
from b24sms.adapters.bitrix.client import BitrixClient
from b24sms.adapters.bitrix.tokens import client_for
from b24sms.adapters.config import get_settings
from b24sms.domain.models import Portal
from b24sms.usecases import connector, events

logger = Logger(child=True)

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
    error: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deleted)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _reconcile(client: BitrixClient, codes: list[str], fields: dict[str, Any], changed: bool, report: SyncReport) -> None:
    """One sender: added when the portal lacks it, updated when this deployment's URL or name changed."""
    code = str(fields["CODE"])
    if code not in codes:
        client.call("messageservice.sender.add", {**fields, "TYPE": "SMS"})
        report.added.append(code)
    elif changed:
        client.call("messageservice.sender.update", fields)
        report.updated.append(code)
    else:
        report.unchanged.append(code)


def sync_portal(client: BitrixClient, portal: Portal) -> SyncReport:
    """Make the portal's senders match this deployment: add ours if missing, update it if its HANDLER
    or name changed since we registered it, delete codes of ours no longer used; after an add or an
    update, re-bind every event of the registry the portal grants at our current URL (unbinding the
    old URL) and re-register the Open Lines connector's placement handler. Idempotent."""
    code = get_settings().sender_code
    report = SyncReport(portal.member_id, portal.domain)
    fields = sender_fields(portal)
    try:
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
        if report.added or report.updated:  # our URL may have changed: everything bound to it follows
            events.rebind(client, portal, portal.registered_handler.split("/bitrix/handler", 1)[0])
            connector.register(client, portal)
        store.portals.save_registration(portal.member_id, fields["HANDLER"], _fingerprint(fields))
    except BitrixError as exc:
        report.error = f"{exc.code}: {exc.description}"
    return report


def sync_all() -> list[SyncReport]:
    reports = []
    for portal in store.portals.list_installed_portals():
        report = sync_portal(client_for(portal), portal)
        logger.info("sender sync", extra=report.as_dict())
        reports.append(report)
    return reports
