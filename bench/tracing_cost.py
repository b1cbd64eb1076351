"""What optional X-Ray tracing costs at cold start: the import time of every handler module
(functions/*/app.py, the layer on sys.path) in fresh interpreters, with tracing off and on, the
median of N runs per function and mode.

    python -m bench.tracing_cost [N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = r"""
import importlib.util, sys, time
sys.path.insert(0, "layers/common")
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
print((time.perf_counter() - t) * 1000, "aws_xray_sdk" in sys.modules)
"""


def import_ms(app: Path, trace_disabled: str) -> tuple[float, bool]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS")}
    env.update({"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": trace_disabled})
    out = subprocess.run(  # noqa: S603 - our own interpreter and probe
        [sys.executable, "-c", PROBE, str(app)], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), out[1] == "True"


def main(runs: int) -> None:
    totals = {"off": 0.0, "on": 0.0}
    for app in sorted(ROOT.glob("functions/*/app.py")):
        line = f"{app.parent.name:14s}"
        for mode, value in (("off", "true"), ("on", "false")):
            samples = [import_ms(app, value) for _ in range(runs)]
            median = statistics.median(ms for ms, _ in samples)
            totals[mode] += median
            line += f"  {mode} {median:7.1f} ms (X-Ray SDK loaded: {samples[-1][1]})"
        print(line)
    print(f"all handlers: off {totals['off']:.0f} ms, on {totals['on']:.0f} ms, ratio {totals['on'] / totals['off']:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
