"""The page's reconciliation setting: whether the reconciler asks the carrier about this portal's
statuses whose delivery report is late (usecases/reconcile.py; on unless an administrator turns it off).
Dispatch reads it when the carrier takes a message: only messages sent after a change follow it."""

from __future__ import annotations

from typing import Any

from b24sms.adapters import carriers, config, store
from b24sms.domain.models import Portal
from b24sms.usecases.page.errors import PageError
from b24sms.usecases.page.guard import Admin, admin_action


def reconcile_view(portal: Portal) -> dict[str, Any]:
    """On or off, after how many minutes the portal's carrier is asked, and after how many hours a
    message nobody reports on ends ``undelivered``."""
    carrier = portal.carrier.carrier if portal.carrier else carriers.default_name()
    return {
        "on": portal.reconcile != "off",
        "after_minutes": max(1, carriers.delivery_time(carrier) // 60),
        "give_up_hours": max(1, config.reconcile_give_up_after() // 3600),
        "asks": carriers.status_query_rate(carrier) > 0,
    }


@admin_action
def set_reconcile(admin: Admin, value: Any) -> None:
    if value not in ("on", "off"):
        raise PageError("bad_reconcile")
    store.portals.set_reconcile(admin.portal.member_id, "" if value == "on" else "off")
    admin.audit("reconcile", {"reconcile": value})
