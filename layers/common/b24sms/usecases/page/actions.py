"""The calls the page makes (POST /bitrix/app/api/{action}), by name: each reads its form and makes one
use-case call. An answer is a dict (JSON) or a ``LogExport`` (a CSV file); a dict's ``message_key``
(and a test SMS's statuses and error) are sentences of the page's catalogues: the handler says them in
the session's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from b24sms.domain.errors import NotFound
from b24sms.usecases.page.alerts import set_delivery_alert
from b24sms.usecases.page.carrier_settings import check, parse_carrier_form, save_carrier
from b24sms.usecases.page.crm import save_crm
from b24sms.usecases.page.log import LogExport, export_log, parse_filters
from b24sms.usecases.page.opt_outs import add_opt_out, remove_opt_out
from b24sms.usecases.page.quiet_hours import set_quiet_hours
from b24sms.usecases.page.reconciliation import set_reconcile
from b24sms.usecases.page.routing_settings import parse_routing_form, save_routing
from b24sms.usecases.page.senders import add_sender, delete_sender, rename_sender
from b24sms.usecases.page.session import portal_of
from b24sms.usecases.page.timezone import zone
from b24sms.usecases.page.trial_sms import send_test, test_status
from b24sms.usecases.page_session import Session

Action = Callable[[Session, dict[str, Any]], "dict[str, Any] | LogExport"]


def _carrier_check(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    check(session, str(form.get("code") or ""), parse_carrier_form(form))
    return {"ok": True, "message_key": "check.ok"}


def _carrier_save(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    save_carrier(session, parse_carrier_form(form), str(form.get("code") or ""))
    return {"ok": True, "message_key": "saved"}


def _routing_save(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    save_routing(session, parse_routing_form(form))
    return {"ok": True, "message_key": "saved"}


def _test_send(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "message_id": send_test(session, form.get("to"), str(form.get("code") or ""))}  # type: ignore[arg-type]


def _test_status(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    return test_status(session, form.get("message_id"))  # type: ignore[arg-type]


def _sender_add(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "code": add_sender(session, form.get("name"))}


def _sender_rename(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    rename_sender(session, form.get("code"), form.get("name"))
    return {"ok": True}


def _sender_delete(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    delete_sender(session, form.get("code"))
    return {"ok": True}


def _optout_add(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    add_opt_out(session, form.get("phone"))
    return {"ok": True}


def _optout_remove(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    remove_opt_out(session, form.get("ref"))
    return {"ok": True}


def _log_csv(session: Session, form: dict[str, Any]) -> LogExport:
    """The filtered log (the page's filters) for a CSV file: numbers masked as the log shows them."""
    filters, _ = parse_filters({k: v for k, v in form.items() if k != "cursor"}, zone(session.tz)[0])
    return export_log(portal_of(session).member_id, filters)


def _crm_save(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    save_crm(session, form.get("delivered"))
    return {"ok": True, "message_key": "saved"}


def _reconcile_save(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    set_reconcile(session, form.get("reconcile"))
    return {"ok": True, "message_key": "saved"}


def _alerts_save(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    set_delivery_alert(session, form.get("delivery_alert"))
    return {"ok": True, "message_key": "saved"}


def _quiet_save(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    set_quiet_hours(session, form)
    return {"ok": True, "message_key": "saved"}


ACTIONS: dict[str, Action] = {
    "carrier-check": _carrier_check,
    "carrier-save": _carrier_save,
    "routing-save": _routing_save,
    "test-send": _test_send,
    "test-status": _test_status,
    "sender-add": _sender_add,
    "sender-rename": _sender_rename,
    "sender-delete": _sender_delete,
    "optout-add": _optout_add,
    "optout-remove": _optout_remove,
    "log-csv": _log_csv,
    "crm-save": _crm_save,
    "reconcile-save": _reconcile_save,
    "alerts-save": _alerts_save,
    "quiet-save": _quiet_save,
}


def action(name: str) -> Action:
    """The page's call ``name``; 404 when there is none (before the session is read)."""
    found = ACTIONS.get(name)
    if found is None:
        raise NotFound("no such call", "unknown_action")
    return found
