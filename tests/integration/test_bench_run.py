"""A small `make bench` end to end, in its own interpreter: every phase reports, and the figures are
on disk even when the stack then fails to stop (as moto's server once did, after 28 minutes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from local.settings import OVERRIDABLE
from local.template import ROOT

DRIVER = """
import subprocess, sys
from pathlib import Path
import bench.run as bench
from local.stack import LocalStack
bench.RESULTS = Path(sys.argv[1])
bench.PARSER_SIZES = (50, 500)
def stuck(self):
    raise subprocess.TimeoutExpired("moto.server", 10)
LocalStack.stop = stuck
sys.exit(bench.main())
"""


def test_a_small_bench_writes_every_phase_even_if_the_stack_does_not_stop(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDABLE and not k.startswith("AWS_")}
    sizes = {"BENCH_LATENCY": "3", "BENCH_SLOW": "1", "BENCH_BURST": "5", "BENCH_THROUGHPUT": "5", "BENCH_COLD_RUNS": "1"}
    # a fleet of 10 (one slow, one refusing connections for 2 s), one SMS each; the small fleet: 2
    sizes |= {
        "BENCH_FLEET": "10",
        "BENCH_FLEET_SMALL": "2",
        "BENCH_FLEET_SMS": "1",
        "BENCH_FLEET_DOWN": "2",
        "BENCH_FLEET_SLOW": "0.2",
    }
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(tmp_path)],
        cwd=ROOT,
        env={**env, **sizes, "BENCH_BUDGET": "400"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "the stack did not stop cleanly" in done.stderr
    results = json.loads((tmp_path / "latest.json").read_text())
    phases = ("parser_scaling", "cold_start_seconds", "ack_latency_ms", "burst", "per_message", "fleet", "throughput")
    assert all(p in results for p in phases), sorted(results)
    assert results["burst"]["statuses_lost"] == 0 and results["throughput"]["lost"] == 0
    assert results["throughput"]["messages"] == 5
    fleet = results["fleet"]
    assert fleet["with_faulty"]["kinds"] == {"slow": 1, "refusing": 1, "healthy": 8}
    assert fleet["without_faulty"]["kinds"] == {"healthy": 10} and fleet["small"]["portals"] == 2
    assert all(fleet[k]["lost"] == 0 and fleet[k]["duplicated"] == 0 for k in ("with_faulty", "without_faulty", "small"))
    assert fleet["healthy_with_vs_without"]["p95"] is not None
    # every function of the template gets its cold start
    assert {"InboundFunction", "ConnectorFunction", "SmsEventsFunction", "RecoverFunction"} <= set(results["cold_start_seconds"])
    assert "ratio" in results["parser_scaling"]["list"]
    report = (tmp_path / "latest.md").read_text()
    assert "6. throughput, 5 SMS" in report and "not measured" not in report
    assert "5b. fleet" in report and "healthy portals with the faulty ones vs without" in report
