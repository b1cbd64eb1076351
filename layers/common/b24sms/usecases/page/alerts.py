"""The page's admin-alert setting: the delivery rate of the last hour (percent, at least
``alerts.MIN_MESSAGES`` final statuses) below which the portal's administrators are notified
(``usecases/delivery_watch.py``); 0 turns the delivery alert off. Account refusals always notify."""

from __future__ import annotations

from typing import Any

from b24sms.adapters import store
from b24sms.usecases.page.errors import PageError
from b24sms.usecases.page.guard import Admin, admin_action


@admin_action
def set_delivery_alert(admin: Admin, value: Any) -> None:
    text = value.strip() if isinstance(value, str) else ""
    if not text.isdigit() or not 0 <= int(text) <= 100:
        raise PageError("bad_delivery_alert")
    store.alerts.set_delivery_alert(admin.portal.member_id, int(text))
    admin.audit("delivery alert", {"delivery_alert": text})
