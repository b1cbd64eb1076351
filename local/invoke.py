"""Invoke one function of template.yaml on an event file, without Docker:

    python -m local.invoke HandlerFunction events/handler_send.json
    python -m local.invoke events/handler_send.json     # the function the file is written for

It starts the local stack (moto's DynamoDB and SQS, no queue pollers) and a portal emulator holding
the demo portal the files in events/ name (local/fixtures.py), seeds that portal (installed, with our
Open Lines connector on line 1) and one message, runs the function in-process and prints its answer.
With Docker, `sam local invoke -e events/<file>` takes the same files.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local import fixtures
from local.emulator import PortalEmulator
from local.event_files import FUNCTION_OF
from local.event_files_common import HOST as EVENT_HOST
from local.stack import LocalStack


def seed(stack: LocalStack, emulator: PortalEmulator, with_message: bool) -> None:
    from b24sms.adapters import store
    from b24sms.domain.models import Message, Portal
    from b24sms.usecases import connector as openlines_connector

    demo = emulator.add_portal("demo", member_id=fixtures.DEMO_MEMBER_ID, application_token=fixtures.DEMO_APPLICATION_TOKEN)
    demo.access_tokens[fixtures.DEMO_ACCESS_TOKEN] = 4102444800.0
    demo.refresh_tokens.add(fixtures.DEMO_REFRESH_TOKEN)
    demo.senders["b24sms"] = {"CODE": "b24sms", "TYPE": "SMS", "HANDLER": f"{stack.base_url}/bitrix/handler"}
    demo.messages[fixtures.DEMO_MESSAGE_ID] = ["sent"]
    # Open Lines, as after an install that granted imconnector and an admin who connected line 1:
    # the placement, inbound SMS and operator-reply events need the connector registered and the line.
    connector = openlines_connector.connector_id()
    demo.connectors[connector] = {"ID": connector, "PLACEMENT_HANDLER": openlines_connector.placement_url()}
    demo.active[(connector, fixtures.DEMO_OPEN_LINE)] = True
    store.portals.put_portal(
        Portal(
            member_id=fixtures.DEMO_MEMBER_ID,
            client_endpoint=demo.client_endpoint,
            domain=demo.domain,
            access_token=fixtures.DEMO_ACCESS_TOKEN,
            refresh_token=fixtures.DEMO_REFRESH_TOKEN,
            expires_at=4102444800,
            token_version=1,
            application_token=fixtures.DEMO_APPLICATION_TOKEN,
            handler_secret=fixtures.DEMO_HANDLER_SECRET,
            scope=demo.scope,
            openlines={fixtures.DEMO_OPEN_LINE: "active"},
        )
    )
    store.chats.remember_route(fixtures.DEMO_OUR_NUMBER, fixtures.DEMO_MEMBER_ID)  # as when the line was connected
    if with_message:  # the queue and callback events name it; the handler events bring it themselves
        store.messages.create_message(
            Message(
                member_id=fixtures.DEMO_MEMBER_ID,
                message_id=fixtures.DEMO_MESSAGE_ID,
                to="+15550001234",
                body="demo",
                code="b24sms",
                # sent as one segment with this id, if the event is a Vonage receipt
                parts={fixtures.DEMO_VONAGE_PART_ID: {"s": "accepted", "b": "", "r": 0}},
                parts_total=1,
            )
        )


def local_env(function: str, emulator: PortalEmulator, event: dict[str, Any]) -> dict[str, str]:
    """The settings the local stack runs ``function`` with on ``event`` (a file in events/); also
    what `make sam-invoke` hands the function's container."""
    env = {
        "BITRIX_OAUTH_URL": emulator.oauth_url,
        "TWILIO_ACCOUNT_SID": (os.environ.get("TWILIO_ACCOUNT_SID") or fixtures.DEMO_TWILIO_ACCOUNT_SID),
        "TWILIO_AUTH_TOKEN": (os.environ.get("TWILIO_AUTH_TOKEN") or fixtures.DEMO_TWILIO_AUTH_TOKEN),
        "TWILIO_FROM": (os.environ.get("TWILIO_FROM") or "+15005550006"),
        "VONAGE_API_KEY": (os.environ.get("VONAGE_API_KEY") or fixtures.DEMO_VONAGE_API_KEY),
        "VONAGE_API_SECRET": (os.environ.get("VONAGE_API_SECRET") or fixtures.DEMO_VONAGE_API_SECRET),
        "VONAGE_SIGNATURE_SECRET": (os.environ.get("VONAGE_SIGNATURE_SECRET") or fixtures.DEMO_VONAGE_SIGNATURE_SECRET),
        "VONAGE_SIGNATURE_METHOD": (os.environ.get("VONAGE_SIGNATURE_METHOD") or "sha256"),
        "VONAGE_FROM": (os.environ.get("VONAGE_FROM") or "AcmeInc"),
    }
    if function == "InboundFunction":
        # An inbound SMS is routed to the portal that sends from the number it was sent to: the demo
        # deployment sends through the event's carrier, from the demo number.
        carrier = str((event.get("pathParameters") or {}).get("carrier") or "")
        env["CARRIER"] = os.environ.get("CARRIER") or carrier
        env["VONAGE_FROM"] = os.environ.get("VONAGE_FROM") or fixtures.DEMO_OUR_NUMBER
        env["TWILIO_FROM"] = os.environ.get("TWILIO_FROM") or fixtures.DEMO_OUR_NUMBER
    if function in ("StatusFunction", "InboundFunction"):
        # Carrier signatures cover the public URL the callback was sent to: the one in events/.
        # (Only here: other functions call the public URL, and it must stay on this machine.)
        env["PUBLIC_BASE_URL"] = f"https://{EVENT_HOST}"
    return env


def start_seeded(stack: LocalStack, emulator: PortalEmulator, function: str) -> bool:
    """Start the stack and seed what the event files name; False (said on stdout) for a function the
    template does not have."""
    stack.start()
    if function not in stack.handlers:
        print(f"unknown function {function}; template.yaml has: {', '.join(sorted(stack.handlers))}")
        return False
    seed(stack, emulator, with_message=function != "HandlerFunction")
    return True


DRAINED = {"SyncSendersFunction": ("SyncQueue", "SyncPortalFunction")}  # a function whose work is queued


def drain(
    stack: LocalStack, queue: str, function: str, call: Callable[[str, dict[str, Any]], Any] | None = None
) -> dict[str, int]:
    """Feed ``function`` what ``queue`` holds, one message per invocation (SyncPortalFunction's batch
    size), until it is empty: what Lambda's pollers do, for a stack started without them. ``call``
    invokes a function on an event (default: in-process). A message the function hands back is left
    for a later run. Returns how many were handled and how many failed."""
    import boto3

    from local.lambda_events import sqs_event

    sqs = boto3.client("sqs", endpoint_url=stack.aws_endpoint)
    url, arn = stack.queue_url(queue), stack.template.physical[queue]["Arn"]
    call = call or stack.invoke
    handled = failed = 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"]).get("Messages", []):
        answer = call(function, sqs_event(messages, arn))
        handled += 1
        if answer.get("batchItemFailures"):
            failed += 1
        else:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
    return {"synced": handled - failed, "sync_failures": failed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "function_and_event",
        nargs="+",
        metavar="[FUNCTION] EVENT",
        help="a logical id in template.yaml (default: the one the file in events/ is for) and an event file",
    )
    args = parser.parse_args(argv)
    if len(args.function_and_event) > 2:
        parser.error("give at most a function and an event file")
    path = Path(args.function_and_event[-1])
    try:
        event = json.loads(path.read_text())
    except FileNotFoundError:
        print(f"no event file {path}; events/ has: {', '.join(sorted(FUNCTION_OF))}", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"cannot read {path} as a JSON event: {exc}", file=sys.stderr)
        return 2
    function = args.function_and_event[0] if len(args.function_and_event) == 2 else FUNCTION_OF.get(path.name, "")
    if not function:
        print(f"no function given for {path}: make invoke FUNCTION=<LogicalId> EVENT={path}", file=sys.stderr)
        return 2
    emulator = PortalEmulator().start()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    stack = LocalStack(env=local_env(function, emulator, event), start_pollers=False)
    real_stdout = sys.stdout
    try:
        # Logs go to stderr, so stdout holds just the function's answer (JSON).
        with contextlib.redirect_stdout(sys.stderr):
            if not start_seeded(stack, emulator, function):
                return 2
            result = stack.invoke(function, event)
            if function in DRAINED:  # no pollers here: sync what it queued, as Lambda would
                result = {**result, **drain(stack, *DRAINED[function])}
        print(json.dumps(result, indent=2, ensure_ascii=False), file=real_stdout)
        return 0
    finally:
        stack.stop()
        emulator.stop()


if __name__ == "__main__":
    sys.exit(main())
