"""`make demo`: the local stack and a Bitrix24 portal emulator; install the app on the portal, send
three SMS (one delivered, one undelivered, one failed) and a fourth that the sandbox refuses as "no
route" and the fallback carrier (a Vonage fake) delivers, and print each one's status timeline as the
portal saw it (the failover only in-process: ``LAMBDA_MODE=sam`` containers do not reach the fake);
then one more whose carrier callback is lost, made good by the reconciler, and one held by quiet hours
until the recipient's morning. With ``--keep`` (``make demo KEEP=1``) the stack and the emulated portal
keep running, with that history, and it prints the URLs that open the application's page in a desktop
browser as the portal's administrator and as a user without admin rights would see it."""

from __future__ import annotations

import os
import secrets
import sys
import time

from local import demo_account, demo_crm, demo_quiet, demo_reconcile
from local.emulator import EmulatedPortal, PortalEmulator
from local.fakes.vonage import VonageFake
from local.stack import LocalStack

SMS = [
    ("+15550101001", "Your order #1024 is ready for pickup", "delivered"),
    ("+15550100013", "Your courier is on the way", "undelivered"),
    ("+15550100099", "Your code is 4711", "failed"),
]
FAILOVER = ("+447700900077", "Your table is booked for 8 pm", "delivered")  # the sandbox has no route there


def fallback_env(vonage: VonageFake) -> dict[str, str]:
    """The deployment's fallback carrier: Vonage, played by its fake."""
    return {
        "FALLBACK_CARRIER": "vonage",
        "VONAGE_API_KEY": vonage.api_key,
        "VONAGE_API_SECRET": vonage.api_secret,
        "VONAGE_SIGNATURE_SECRET": vonage.signature_secret,
        "VONAGE_SIGNATURE_METHOD": vonage.signature_method,
        "VONAGE_FROM": "Demo",
        "VONAGE_API_BASE": vonage.base_url,
    }


def main() -> int:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    emulator = PortalEmulator().start()
    in_process = os.environ.get("LAMBDA_MODE", "") != "sam"
    vonage = VonageFake(signature_secret=secrets.token_hex(16), signature_method="sha256").start() if in_process else None
    env = {"BITRIX_OAUTH_URL": emulator.oauth_url, **(fallback_env(vonage) if vonage else {})}
    stack = LocalStack(env=env).start()
    try:
        portal = emulator.add_portal("demo")
        print(f"local stack: {stack.base_url}   portal emulator: {portal.client_endpoint}")
        response = emulator.install(portal, f"{stack.base_url}/bitrix/install")
        print(f"install page answered {response.status_code}; installFinish called: {'installFinish' in response.text}")
        for code, sender in portal.senders.items():
            handler = str(sender["HANDLER"]).split("&key=")[0] + "&key=…"
            print(f"sender registered: {code} ({sender['NAME']['en']}) -> {handler}")
        sent = []
        for to, text, expected in [*SMS, *([FAILOVER] if vonage else [])]:
            message_id, answer = emulator.send_sms(portal, to, text, with_auth=expected != "delivered")
            sent.append((message_id, to, expected, time.time()))
            print(f"portal -> handler: {to} answered {answer.status_code} {answer.text}")
        deadline = time.monotonic() + (90 if stack.remote else 30)  # cold Lambda containers take seconds each
        while time.monotonic() < deadline and any(portal.final_status(m) in ("", "sent") for m, *_ in sent):
            time.sleep(0.1)
        from b24sms.adapters import store  # the layer is importable once the stack is up

        print("\nstatus timelines as the portal saw them (seconds after the SMS was handed over):")
        ok = True
        for message_id, to, expected, _ in sent:
            times = portal.status_times.get(message_id, [])
            start = times[0] if times else 0.0
            steps = "  ->  ".join(f"{s} (+{t - start:.2f}s)" for s, t in zip(portal.timeline(message_id), times, strict=False))
            mark = "ok" if portal.final_status(message_id) == expected else f"EXPECTED {expected}"
            ok = ok and mark == "ok"
            print(f"  {message_id}  {to}: {steps}   [{mark}]")
            stored = store.messages.get_message(portal.member_id, message_id)
            if stored and stored.failover:
                print(f"    sent by {stored.carrier}, the fallback: {stored.failover}")
            if stored and stored.price:
                print(f"    cost reported by {stored.carrier}: {stored.price} {stored.price_unit}")
        ok = demo_crm.show(emulator, stack, portal) and ok  # an opt-out and a failure reason on the CRM timeline
        ok = demo_reconcile.lost_callback(emulator, stack, portal) and ok
        ok = demo_quiet.held_overnight(emulator, stack, portal) and ok
        ok = demo_account.low_delivery_rate(emulator, stack, portal) and ok  # an admin notification, the spend
        calls = [c for c in portal.calls if not c.in_batch]
        print(f"\nREST calls the app made to the portal: {len(calls)} ({', '.join(sorted({c.method for c in calls}))})")
        if stack.remote:
            print(f"function calls, each in its Lambda container (sam local start-lambda): {stack.remote.calls}")
        if "--keep" in sys.argv[1:]:
            keep(emulator, portal)
        return 0 if ok else 1
    finally:
        stack.stop()
        emulator.stop()
        if vonage:
            vonage.stop()


def keep(emulator: PortalEmulator, portal: EmulatedPortal) -> None:
    """Leave everything running with some history, and say where the application's page is."""
    from b24sms.adapters import store

    store.chats.opt_out(portal.member_id, "+15550107777", "STOP")
    print("\nthe application's page (open in a browser; Ctrl-C stops everything):")
    print(f"  as the portal's administrator:   {emulator.app_frame_url(portal, '1')}")
    print(f"  as a user (read-only):           {emulator.app_frame_url(portal, '2')}")
    print(f"  in Russian:                      {emulator.app_frame_url(portal, '1', 'ru')}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopped")


if __name__ == "__main__":
    raise SystemExit(main())
