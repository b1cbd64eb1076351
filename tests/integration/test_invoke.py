"""The documented `make invoke` runs every file in events/ on its function without Docker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.event_files import EVENTS, FUNCTION_OF
from local.settings import OVERRIDABLE
from local.template import ROOT

# What each file's function answers once `make invoke` has seeded the demo portal.
EXPECTED: dict[str, Any] = {
    "install_page.json": 200,
    "install_event.json": 200,
    "app_uninstall.json": 200,
    "handler_send.json": {"duplicate": False},
    "handler_send_robot.json": {"duplicate": False},
    "status_sandbox.json": {"result": ["advanced"]},
    "status_twilio.json": {"result": ["advanced"]},
    "status_vonage.json": {"result": ["advanced"]},
    "status_vonage_get.json": {"result": ["advanced"]},
    "inbound_twilio.json": "<Response/>",  # Twilio gets empty TwiML, whatever became of the SMS
    "inbound_vonage_part.json": {"result": "posted"},
    "connector_placement.json": "SMS is connected to Open Line 1",
    "app_open.json": "SMS provider",
    "app_call.json": {"ok": True},
    "app_get.json": "Откройте приложение из портала.",
    "imconnector_message_add.json": {"result": ["queued"], "event": "ONIMCONNECTORMESSAGEADD"},
    "sns_aws_delivery.json": {"result": ["advanced"]},
    "sqs_outbound.json": {"batchItemFailures": []},
    "sqs_status.json": {"batchItemFailures": []},
    "sync_senders.json": {"queued": 1, "next_page": False, "sqs_requests": 1, "synced": 1, "sync_failures": 0},
    "sqs_sync_portal.json": {"batchItemFailures": []},
    "scheduled_recover.json": None,
}
FILES = sorted(p.name for p in EVENTS.glob("*.json"))


def invoke(*args: str, module: str = "local.invoke") -> subprocess.CompletedProcess[str]:
    # As a user runs it: without the settings this test session's own stack put in the environment.
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDABLE and not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120 if module == "local.invoke" else 600,
        check=False,
    )


def test_every_event_file_has_a_function_and_an_expectation():
    assert FILES == sorted(FUNCTION_OF) == sorted(EXPECTED)


@pytest.fixture(scope="module")
def each_file() -> dict[str, list[Any]]:
    """`make invoke FUNCTION=... EVENT=events/<file>` for every file, in one interpreter (each on its own
    stack: tests/integration/invoke_each.py); the command line itself is run below."""
    done = invoke(*FILES, module="tests.integration.invoke_each")
    assert done.returncode == 0, done.stderr[-3000:]
    answers: dict[str, list[Any]] = json.loads(done.stdout)
    return answers


@pytest.mark.parametrize("event", FILES)
def test_invoke_runs_the_function_on_its_event(event: str, each_file: dict[str, list[Any]]):
    code, printed = each_file[event]
    assert code == 0, printed
    result = json.loads(printed)
    expected = EXPECTED[event]
    if "statusCode" in result:  # an HTTP route: a 2xx, with the body we expect
        assert result["statusCode"] == 200, result
        if isinstance(expected, dict):
            body = json.loads(result["body"])
            assert {k: body.get(k) for k in expected} == expected, body
        elif isinstance(expected, str):
            assert expected in result["body"], result["body"]
    elif expected is not None:
        assert result == expected
    else:
        assert result["requeued"] == 0  # the demo message was just recorded: not stale


def test_the_event_file_alone_names_its_function():
    done = invoke("events/status_sandbox.json")
    assert done.returncode == 0, done.stderr
    assert json.loads(json.loads(done.stdout)["body"]) == {"result": ["advanced"]}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("HandlerFunction", "events/no_such_file.json"), "no event file events/no_such_file.json"),
        (("HandlerFunction", "events"), "cannot read events as a JSON event"),
        (("HandlerFunction", "README.md"), "cannot read README.md as a JSON event"),
        (("events/no_such_file.json",), "no event file events/no_such_file.json"),
        (("local/template.py",), "cannot read local/template.py as a JSON event"),
        (("pyproject.toml",), "cannot read pyproject.toml as a JSON event"),
        (("bench/results.json",), "no event file bench/results.json"),
    ],
)
def test_a_bad_event_path_gets_one_line_not_a_traceback(args: tuple[str, ...], says: str):
    done = invoke(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(says), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_file_of_your_own_needs_its_function(tmp_path: Path):
    own = tmp_path / "mine.json"
    own.write_text("{}")
    done = invoke(str(own))
    assert done.returncode == 2
    assert done.stderr == f"no function given for {own}: make invoke FUNCTION=<LogicalId> EVENT={own}\n"
