"""`make demo`'s quiet-hours step: the portal gets quiet hours 21:00-08:00, the clock is moved to 23:00
in Berlin (the store's clock, which dispatch reads, and the local scheduler's), an SMS to a Berlin
number is held and its portal's one wake-up is scheduled; the clock is moved to 08:00 and the local
stack fires the wake-up (as QuietWakeRole), which sends it. Then the clock and the setting are restored."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from b24sms.adapters import store
from b24sms.usecases import dispatch
from local.emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack

BERLIN = ZoneInfo("Europe/Berlin")


def held_overnight(emulator: PortalEmulator, stack: LocalStack, portal: EmulatedPortal) -> bool:
    """True when the SMS was held at night and delivered at the opening."""
    if stack.remote:  # the clock moved here is this process's, not the Lambda containers'
        print("\nquiet hours: left out with sam local (the demo moves this process's clock)")
        return True
    night = datetime.combine(date.today() + timedelta(days=1), dtime(23, 0), BERLIN).timestamp()
    offset = [night - time.time()]
    real_now, real_clock = store.now, stack.schedules.clock
    store.now = lambda: int(time.time() + offset[0])  # type: ignore[assignment]
    stack.schedules.clock = lambda: time.time() + offset[0]
    store.quiet.set_quiet_hours(portal.member_id, {"start": "21:00", "end": "08:00", "zone": "UTC", "exempt": []})
    time.sleep(dispatch.PORTAL_CACHE_SECONDS)  # a warm dispatcher reads the portal's settings every 5 s
    try:
        message_id, _ = emulator.send_sms(portal, "+493012345678", "Guten Morgen")
        wake = _wait(lambda: dict(store.quiet.due(portal.member_id, 2**40, 100)[0]).get(message_id, 0))
        at = datetime.fromtimestamp(wake, BERLIN).strftime("%H:%M") if wake else "?"
        print(f"\nquiet hours 21:00-08:00, 23:00 in Berlin: {message_id} +493012345678 held until {at} Berlin time; "
              f"the portal has {portal.timeline(message_id)}")  # fmt: skip
        offset[0] = wake - time.time()  # 08:00 in Berlin
        _wait(lambda: portal.final_status(message_id) not in ("", "sent"))
    finally:
        store.now, stack.schedules.clock = real_now, real_clock  # type: ignore[method-assign]
        store.quiet.set_quiet_hours(portal.member_id, {})
    ok = bool(wake) and portal.final_status(message_id) == "delivered"
    print(f"  08:00: the portal's one wake-up fired; the portal now has {portal.timeline(message_id)}   "
          f"[{'ok' if ok else 'EXPECTED delivered'}]")  # fmt: skip
    return ok


def _wait(probe: Callable[[], int | bool], seconds: float = 20.0) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return int(value)
        time.sleep(0.1)
    return 0
