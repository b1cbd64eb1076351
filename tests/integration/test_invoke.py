"""The documented `make invoke` runs every function on its file in events/ without Docker."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from local.stack import OVERRIDABLE
from local.template import ROOT

CASES = [
    ("InstallFunction", "install_page.json", 200),
    ("InstallFunction", "install_event.json", 200),
    ("EventsFunction", "app_uninstall.json", 200),
    ("HandlerFunction", "handler_send.json", 200),
    ("HandlerFunction", "handler_send_robot.json", 200),
    ("StatusFunction", "status_sandbox.json", 200),
    ("StatusFunction", "status_twilio.json", 200),
    ("StatusFunction", "status_vonage.json", 200),
    ("SmsEventsFunction", "sns_aws_delivery.json", None),
    ("DispatchFunction", "sqs_outbound.json", None),
    ("PushFunction", "sqs_status.json", None),
    ("SyncSendersFunction", "sync_senders.json", None),
    ("RecoverFunction", "scheduled_recover.json", None),
]


@pytest.mark.parametrize(("function", "event", "status"), CASES, ids=[c[1] for c in CASES])
def test_invoke_runs_the_function_on_its_event(function: str, event: str, status: int | None):
    # As a user runs it: without the settings this test session's own stack put in the environment.
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDABLE and not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-m", "local.invoke", function, f"events/{event}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    if status is not None:
        assert result["statusCode"] == status, result
        if function == "HandlerFunction":
            assert json.loads(result["body"])["duplicate"] is False
        if function == "StatusFunction":
            assert json.loads(result["body"])["result"] == ["advanced"]
    elif "batchItemFailures" in result:
        assert result["batchItemFailures"] == []
    elif function == "SmsEventsFunction":
        assert result == {"result": ["advanced"]}
    elif "requeued" in result:
        assert result["requeued"] == 0  # the demo message was just recorded: not stale
    else:
        assert result["errors"] == 0 and result["portals"] == 1
