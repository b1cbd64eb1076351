"""`make demo`'s reconciliation step: one more SMS whose carrier callback is lost (the sandbox drops it),
then the reconciler's run (ReconcileFunction, as its 5-minute schedule would) asks the carrier and the
portal gets the final status all the same."""

from __future__ import annotations

import os
import time

from b24sms.adapters import store
from b24sms.adapters.carriers.sandbox import SandboxCarrier
from local.emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack


def lost_callback(emulator: PortalEmulator, stack: LocalStack, portal: EmulatedPortal) -> bool:
    """Send an SMS whose callback is dropped, run the reconciler, print what the portal saw; True when
    the portal got ``delivered``."""
    if stack.remote:  # the sandbox's switch lives in this process, not in the Lambda containers
        print("\nreconciliation: left out with sam local (the sandbox's callbacks cannot be dropped there)")
        return True
    previous = os.environ.get("RECONCILE_AFTER")
    os.environ["RECONCILE_AFTER"] = "1"  # due a second after the carrier took it (30 minutes by default)
    SandboxCarrier.drop_callbacks = True
    try:
        message_id, _ = emulator.send_sms(portal, "+15550101002", "Your parcel has arrived")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = store.messages.get_message(portal.member_id, message_id)
            if found is not None and found.carrier_message_id:
                break
            time.sleep(0.1)
    finally:
        SandboxCarrier.drop_callbacks = False
    time.sleep(1.2)
    print(f"\nreconciliation: {message_id} +15550101002, its callback dropped by the carrier; the portal has "
          f"{portal.timeline(message_id)}")  # fmt: skip
    swept = stack.invoke("ReconcileFunction", {})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and portal.final_status(message_id) in ("", "sent"):
        time.sleep(0.1)
    if previous is None:
        os.environ.pop("RECONCILE_AFTER", None)
    else:
        os.environ["RECONCILE_AFTER"] = previous
    ok = portal.final_status(message_id) == "delivered"
    print(f"  ReconcileFunction queued {swept['queued']} message(s) for {swept['accounts']} carrier account(s); "
          f"the portal now has {portal.timeline(message_id)}   [{'ok' if ok else 'EXPECTED delivered'}]")  # fmt: skip
    return ok
