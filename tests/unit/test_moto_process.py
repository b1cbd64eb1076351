"""moto's server in a process of its own (``LocalStack(moto_process=True)``, the bench) never outlives
the run that started it: stopped by ``stop()``, at the interpreter's exit when nobody called it (the
bench test replaces ``stop`` with one that raises), when its parent is killed, and when the stack's
start fails half-way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local.moto_server import MotoProcess
from local.stack import LocalStack
from local.template import ROOT


def alive(pid: int) -> bool:
    """Running (a zombie left for a PID 1 that does not reap is not running)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)  # leave nothing behind, even when the test fails
            return False
        time.sleep(0.1)
    return True


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


def test_stop_ends_the_server():
    moto = MotoProcess()
    pid = moto.process.pid
    assert alive(pid)
    moto.stop()
    assert gone(pid, within=0)
    moto.stop()  # twice is harmless


DRIVER = """
import os, sys, time
from local.moto_server import MotoProcess
moto = MotoProcess()
print(moto.process.pid, flush=True)
if sys.argv[1] == "exit":
    sys.exit(0)  # nobody calls stop()
time.sleep(60)  # killed while it waits
"""


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_the_server_does_not_outlive_its_parent(how: str):
    parent = subprocess.Popen([sys.executable, "-c", DRIVER, how], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        if how == "kill":
            parent.kill()
        parent.wait(timeout=30)
        assert gone(pid), f"moto's server {pid} outlived its parent ({how})"
    finally:
        if parent.poll() is None:
            parent.kill()


@pytest.mark.parametrize("step", ["_create_resources", "_load_functions"])  # before and after the HTTP server exists
def test_a_start_that_fails_stops_what_it_started(monkeypatch: pytest.MonkeyPatch, step: str):
    started: list[MotoProcess] = []

    class Recorded(MotoProcess):
        def __init__(self, port: int = 0) -> None:
            super().__init__(port)
            started.append(self)

    def broken(self: LocalStack) -> None:
        raise RuntimeError("no tables today")

    monkeypatch.setattr("local.stack.MotoProcess", Recorded)
    monkeypatch.setattr(LocalStack, step, broken)
    saved = dict(os.environ)
    try:
        with pytest.raises(RuntimeError, match="no tables today"):
            LocalStack(moto_process=True, start_pollers=False).start()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert len(started) == 1 and gone(started[0].process.pid, within=5)
