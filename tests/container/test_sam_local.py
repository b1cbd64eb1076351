"""sam local for real (issue #12): each function in its Lambda container (the SAM CLI and Docker) on
its file in events/, answering as `make invoke` does; a raising function's traceback in SAM's output;
the demo with every function call going through `sam local start-lambda`. They run wherever
`make sam-local-setup` has run (CI runs it); elsewhere they skip with the one-line reason."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from local import lambda_containers as sam
from local.event_files import FUNCTION_OF
from local.settings import OVERRIDABLE
from local.template import ROOT

REASON = sam.problem()
needs_docker = pytest.mark.skipif(bool(REASON), reason=f"sam local: {REASON}")
EVENTS = sorted(FUNCTION_OF)
Done = subprocess.CompletedProcess[str]


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    # As a user runs it: without the settings this test session's own stack put in the environment.
    base = {k: v for k, v in os.environ.items() if k not in OVERRIDABLE and not k.startswith("AWS_")}
    base.pop("LAMBDA_MODE", None)
    env = {**base, **(env or {})}
    command = [sys.executable, "-m", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def answers(request: pytest.FixtureRequest) -> dict[str, tuple[Done, Done]]:
    """For every file in events/ this session tests: (`make invoke`, `make sam-invoke`), three at a
    time (the containers mostly wait on Docker)."""
    params = [getattr(getattr(item, "callspec", None), "params", {}) for item in request.session.items]
    selected = sorted({p["event"] for p in params if "event" in p})
    sam.build()

    def both(name: str) -> tuple[Done, Done]:
        return _run("local.invoke", f"events/{name}"), _run("local.sam", "invoke", "--no-build", f"events/{name}")

    if not selected:
        return {}
    # The first one alone: SAM builds its image of the base and the emulator once, not three times at once.
    first = {selected[0]: both(selected[0])}
    with ThreadPoolExecutor(3) as pool:
        return first | dict(zip(selected[1:], pool.map(both, selected[1:]), strict=True))


SESSION = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
NONCE = re.compile(r"nonce-[A-Za-z0-9_-]+|(?<=nonce=\\\")[A-Za-z0-9_-]+")


@needs_docker
@pytest.mark.parametrize("event", EVENTS)
def test_each_event_file_in_its_container_answers_as_make_invoke(answers: dict[str, Any], event: str):
    in_process, container = answers[event]
    assert in_process.returncode == 0, in_process.stderr[-3000:]
    assert container.returncode == 0, container.stderr[-3000:]
    # It ran in a Lambda container: the runtime emulator's report is in SAM's output.
    assert "REPORT RequestId:" in container.stderr, container.stderr[-3000:]
    expected, got = json.loads(_unsalted(in_process.stdout)), json.loads(_unsalted(container.stdout))
    assert "errorType" not in got, got
    assert got == expected


def _unsalted(answer: str) -> str:
    """An answer without what differs from one response to the next: the page's CSP nonce, and the
    session token it hands out (its expiry counts from the moment the page was opened)."""
    return SESSION.sub("SESSION", NONCE.sub("nonce-N", answer))


@needs_docker
def test_a_function_that_raises_shows_its_traceback_in_sam_output(answers: dict[str, Any], tmp_path: Path):
    # An event that is not an SQS batch: the dispatch function raises, as it would in AWS.
    event = tmp_path / "not_a_batch.json"
    event.write_text("{}")
    done = _run("local.sam", "invoke", "--no-build", "DispatchFunction", str(event))
    answer = json.loads(done.stdout)
    assert answer["errorType"] == "UnexpectedBatchTypeError", answer
    # The traceback, as a SAM user sees it, down to the handler's line in the container.
    assert "Traceback (most recent call last):" in done.stderr, done.stderr[-3000:]
    assert 'File "/var/task/app.py"' in done.stderr, done.stderr[-3000:]


@needs_docker
def test_the_demo_runs_every_function_through_sam_local_start_lambda():
    done = _run("local.demo", env={"LAMBDA_MODE": "sam"}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert done.stdout.count("[ok]") == 3, done.stdout
    assert "installFinish called: True" in done.stdout
    # Every function call went to a container: the install page, three handler calls, at least one
    # dispatch (its trigger batches records), the two callbacks and at least one status push (a portal's
    # statuses are drained together).
    counted = [line for line in done.stdout.splitlines() if "(sam local start-lambda):" in line]
    assert counted and int(counted[0].rsplit(":", 1)[1]) >= 1 + 3 + 1 + 2 + 1, done.stdout


def test_without_a_docker_daemon_sam_local_says_so_in_one_line():
    no_daemon = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    done = _run("local.sam", "invoke", "events/handler_send.json", env=no_daemon, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sam local: "), done.stderr
    if sam.SAM_PY.exists() and shutil.which("docker"):
        assert "Docker daemon is not running" in lines[0]


@needs_docker
def test_the_lambda_runtime_has_the_zone_files_quiet_hours_read():
    # Quiet hours read zones through zoneinfo; the layer ships no tzdata because the python3.13 runtime
    # (Amazon Linux 2023) has /usr/share/zoneinfo. If a runtime update drops it, this fails first.
    script = "import zoneinfo; print(zoneinfo.ZoneInfo('America/Los_Angeles'), zoneinfo.ZoneInfo('Asia/Irkutsk'))"
    done = sam._docker("run", "--rm", "--network", "none", "--entrypoint", "python3", sam.IMAGE, "-c", script, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["America/Los_Angeles", "Asia/Irkutsk"]
