"""The page's quiet-hours setting (usecases/quiet.py holds the messages): on or off, the window, the
portal's own zone (for numbers whose zone is not known) and the senders never held (CRM robots'
transactional SMS). Dispatch reads it from the portal it already holds: messages handed over after a
change follow it; messages already held keep their wake-up."""

from __future__ import annotations

from typing import Any

from b24sms.adapters import store
from b24sms.adapters.config import get_settings
from b24sms.domain import quiet as rules
from b24sms.domain.models import Portal
from b24sms.usecases.page.errors import PageError
from b24sms.usecases.page.guard import Admin, admin_action

DEFAULT = {"start": "21:00", "end": "08:00", "zone": "UTC", "exempt": []}


def quiet_view(portal: Portal) -> dict[str, Any]:
    try:
        hours = rules.QuietHours.from_item(portal.quiet_hours)
    except ValueError:
        hours = None
    shown = hours.to_item() if hours else dict(DEFAULT, zone=str(portal.quiet_hours.get("zone") or "UTC"))
    codes = [get_settings().sender_code, *sorted(portal.senders)]
    return {"on": hours is not None, **shown, "codes": codes}


@admin_action
def set_quiet_hours(admin: Admin, form: dict[str, Any]) -> None:
    if form.get("quiet") not in ("on", "off"):
        raise PageError("bad_quiet")
    if form["quiet"] == "off":
        store.quiet.set_quiet_hours(admin.portal.member_id, {})
        admin.audit("quiet hours", {"quiet": "off"})
        return
    codes = {get_settings().sender_code, *admin.portal.senders}
    exempt = form.get("exempt") or []
    if isinstance(exempt, str):
        exempt = [c.strip() for c in exempt.split(",") if c.strip()]
    if not isinstance(exempt, list) or not all(isinstance(c, str) and c in codes for c in exempt):
        raise PageError("bad_quiet_exempt")
    try:
        hours = rules.QuietHours(
            rules.parse_hhmm(str(form.get("start", ""))),
            rules.parse_hhmm(str(form.get("end", ""))),
            str(form.get("zone") or "UTC").strip()[:64],
            frozenset(exempt),
        )
        rules.zone_info(hours.zone)
    except ValueError as exc:
        raise PageError("bad_quiet_hours") from exc
    if not hours.on:
        raise PageError("bad_quiet_hours")
    store.quiet.set_quiet_hours(admin.portal.member_id, hours.to_item())
    item = hours.to_item()
    admin.audit("quiet hours", {"quiet": f"{item['start']}-{item['end']} {item['zone']}", "exempt": ",".join(item["exempt"])})
