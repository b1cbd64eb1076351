"""`make demo`'s admin-notification step: a campaign to 20 numbers that cannot be reached (the sandbox
ends numbers in 0013 undelivered) brings the last hour's delivery rate under the portal's threshold
(80 %), and the administrator who installed the app gets one notification (im.notify.system.add, a
portal job made in the portal's push turn); the prices the sandbox reported are summed on the page."""

from __future__ import annotations

import time

from b24sms.adapters import store
from b24sms.domain import stats
from local.emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack

COUNT = 20


def low_delivery_rate(emulator: PortalEmulator, stack: LocalStack, portal: EmulatedPortal, timeout: float = 60.0) -> bool:
    """Send the campaign, wait for the notification, print it and the day's spend; True when it came once."""
    if stack.remote:  # twenty more SMS through sam's containers would take minutes
        print("\nadmin notification: left out with sam local (twenty more SMS through the containers)")
        return True
    print(f"\na campaign of {COUNT} SMS to unreachable numbers (the portal's delivery alert: below 80 %):")
    for n in range(COUNT):
        emulator.send_sms(portal, f"+1555{n:02d}20013", "Spring sale: 20% off")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not [x for x in portal.notifications if x["TAG"] == "b24sms.delivery"]:
        time.sleep(0.2)
    told = [x for x in portal.notifications if x["TAG"] == "b24sms.delivery"]
    for notification in told:
        print(f"  notification to user {notification['USER_ID']} [{notification['TAG']}]: {notification['MESSAGE']}")
    counters = store.counters.day_counters(portal.member_id, days=1)
    spent = stats.summarise(counters, days=1).totals.spent
    print(f"  today's spend as the carrier reported it (the page's statistics): {spent or 'none'}")
    if len(told) != 1:
        print(f"  EXPECTED one delivery notification, got {len(told)}")
    return len(told) == 1
