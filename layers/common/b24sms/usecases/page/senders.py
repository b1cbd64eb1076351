"""The page's senders: the main one and those added on the page, each registered on the portal
(``messageservice.sender.*``) with its own CODE, renamed and removed there too."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from b24sms.adapters import store
from b24sms.adapters.bitrix import BitrixError
from b24sms.adapters.config import get_settings
from b24sms.domain.errors import TryLater
from b24sms.domain.models import Portal
from b24sms.usecases.page.errors import PageError
from b24sms.usecases.page.guard import Admin, admin_action
from b24sms.usecases.page.session import portal_of

MAX_NAME = 50
# Joiners that emoji and some scripts need; every other format character (bidi overrides and isolates,
# marks, invisible separators) and every control, surrogate or line/paragraph separator is refused.
NAME_JOINERS = frozenset("\u200c\u200d")
NAME_REFUSED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def senders_view(portal: Portal) -> list[dict[str, str]]:
    settings = get_settings()
    main_carrier = portal.carrier.carrier if portal.carrier else settings.carrier
    main_sender = portal.carrier.sender if portal.carrier else ""
    rows = [
        {"code": settings.sender_code, "name": settings.sender_name, "carrier": main_carrier, "sender": main_sender, "main": "1"}
    ]
    for code, extra in sorted(portal.senders.items()):
        own = bool(extra.get("carrier"))
        rows.append(
            {
                "code": code,
                "name": extra.get("name", code),
                "carrier": extra.get("carrier") or main_carrier,
                "sender": extra.get("sender", "") if own else main_sender,
                "main": "",
            }
        )
    return rows


def _name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > MAX_NAME:
        raise PageError("bad_name")
    if any(unicodedata.category(ch) in NAME_REFUSED and ch not in NAME_JOINERS for ch in name):
        raise PageError("bad_name_chars")
    return name


@admin_action
def add_sender(admin: Admin, name: Any) -> str:
    """A new sender: registered on the portal (messageservice.sender.add) with its own CODE."""
    portal = admin.portal
    label = _name(name)
    code = _new_sender_code(admin)
    from b24sms.adapters.bitrix.tokens import client_for  # cold start: the REST client (requests), for admins' changes
    from b24sms.usecases import senders  # cold start: as above

    client = client_for(portal)
    client.call("messageservice.sender.add", {**senders.extra_sender_fields(portal, code, label), "TYPE": "SMS"})
    store.portals.save_senders(portal.member_id, {**portal.senders, code: {"name": label}})
    admin.audit("sender added", {"code": code, "name": label})
    return code


def _new_sender_code(admin: Admin) -> str:
    """``<SENDER_CODE>_<n>`` with n above every number handed out before (``sender_seq``, and the senders
    of a record older than that counter): taken with a conditional write, re-read when another took it."""
    base = get_settings().sender_code
    portal = admin.portal
    for _ in range(5):
        pattern = re.compile(rf"{re.escape(base)}_(\d{{1,9}})")
        in_use = [int(m.group(1)) for m in map(pattern.fullmatch, portal.senders) if m]
        number = max([portal.sender_seq, 1, *in_use]) + 1
        if store.portals.take_sender_number(portal.member_id, number):
            return f"{base}_{number}"
        portal = portal_of(admin.session)
    raise TryLater("senders are being changed right now: try again", "busy")


@admin_action
def rename_sender(admin: Admin, code: Any, name: Any) -> None:
    portal = admin.portal
    if not isinstance(code, str) or code not in portal.senders:
        raise PageError("no_sender")
    label = _name(name)
    from b24sms.adapters.bitrix.tokens import client_for  # cold start: the REST client (requests), for admins' changes
    from b24sms.usecases import senders  # cold start: as above

    fields = senders.extra_sender_fields(portal, code, label)
    client_for(portal).call("messageservice.sender.update", {"CODE": code, "NAME": fields["NAME"]})
    store.portals.save_senders(portal.member_id, {**portal.senders, code: {**portal.senders[code], "name": label}})
    admin.audit("sender renamed", {"code": code, "name": label})


@admin_action
def delete_sender(admin: Admin, code: Any) -> None:
    portal = admin.portal
    if not isinstance(code, str) or code not in portal.senders:
        raise PageError("no_sender")
    try:
        from b24sms.adapters.bitrix.tokens import client_for  # cold start: the REST client (requests), for admins' changes

        client_for(portal).call("messageservice.sender.delete", {"CODE": code})
    except BitrixError as exc:
        if exc.code != "ERROR_SENDER_NOT_FOUND":
            raise
    store.portals.save_senders(portal.member_id, {k: v for k, v in portal.senders.items() if k != code})
    admin.audit("sender removed", {"code": code})
