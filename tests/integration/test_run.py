"""`make run` as a user starts it: it says where it serves, how long it took to start, and stops on
SIGTERM."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading

import requests

from local.settings import OVERRIDABLE
from local.template import ROOT


def test_make_run_serves_says_how_long_it_took_and_stops():
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDABLE and not k.startswith("AWS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "local.run"],
        cwd=ROOT,
        env={**env, "PORT": "0", "POWERTOOLS_LOG_LEVEL": "WARNING"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        out: queue.Queue[str] = queue.Queue()
        stdout = process.stdout

        def read() -> None:
            for line in stdout:
                out.put(line)

        threading.Thread(target=read, daemon=True).start()
        lines = [out.get(timeout=60)]
        while not lines[-1].startswith("started in"):
            try:
                lines.append(out.get(timeout=60))
            except queue.Empty:
                break
        assert lines[-1].startswith("started in") and lines[-1].rstrip().endswith("s. Ctrl-C stops."), lines
        base = lines[0].split(" on ", 1)[1].split()[0]
        answer = requests.post(f"{base}/bitrix/handler", data={"message_to": "+15550101001"}, timeout=10)
        assert answer.status_code in (400, 401, 403), answer.text  # refused, as any unsigned request
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()  # a stuck stop fails the test, and leaves nothing running
            process.wait(timeout=10)
            raise
        assert code == 0
