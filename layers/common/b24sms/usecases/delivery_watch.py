"""The delivery-rate alert (issue #20 item 4): after the push adds a batch's final statuses to the day
counters, the portal's last hour (``stats.last_hour``, from the ADD's own answer: no read) is compared
with the threshold its admin set on the page (``Portal.delivery_alert``, 80 % by default, at least
``alerts.MIN_MESSAGES`` final statuses). The portal is read only when the hour holds enough statuses
to tell, and the admins are told only when the alert opens or closes (``admin_alerts``)."""

from __future__ import annotations

import time

from b24sms.adapters import store
from b24sms.domain import alerts, stats
from b24sms.usecases import admin_alerts


def watch(seen: dict[tuple[str, str], dict[str, int]], now: float | None = None) -> None:
    """``seen``: each portal-day's counters as the push's ADD left them."""
    at = time.time() if now is None else now
    today = stats.day_of(at)
    for (member_id, day), counts in seen.items():
        if day != today:
            continue
        final, delivered = stats.last_hour(counts, at)
        if final < alerts.MIN_MESSAGES:
            continue
        portal = store.portals.get_portal(member_id)
        if portal is None or not portal.installed or portal.delivery_alert <= 0:
            continue
        breached = alerts.rate_breached(final, delivered, portal.delivery_alert)
        is_open = alerts.DELIVERY in portal.alerts
        if breached and not is_open:
            rate = int(delivered * 100 / final)
            admin_alerts.raised(member_id, alerts.DELIVERY, rate=rate, threshold=portal.delivery_alert)
        elif breached is False and is_open:
            admin_alerts.cleared(member_id, alerts.DELIVERY, threshold=portal.delivery_alert)
