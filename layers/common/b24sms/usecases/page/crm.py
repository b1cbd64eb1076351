"""The page's CRM section: whether the portal granted the ``crm`` scope the CRM timeline entries need
(without it: none, said here and once in the logs), and the one setting, an entry for delivered SMS
too (off by default: failures and opt-outs are always written)."""

from __future__ import annotations

from typing import Any

from b24sms.adapters import store
from b24sms.domain.models import Portal
from b24sms.usecases import timeline
from b24sms.usecases.page.guard import Admin, admin_action


def crm_view(portal: Portal) -> dict[str, Any]:
    return {"granted": portal.has_scope(timeline.SCOPE), "delivered": portal.timeline_delivered}


@admin_action
def save_crm(admin: Admin, delivered: Any) -> None:
    on = delivered in ("1", "on", "true", "yes")
    if on == admin.portal.timeline_delivered:
        return
    store.portals.set_timeline_delivered(admin.portal.member_id, on)
    admin.audit("crm timeline", {"delivered": "on" if on else "off"})
