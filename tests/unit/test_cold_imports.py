"""Every function's cold import stays under `import boto3` (issue #18; bench/run.py measures it): no
function imports boto3, requests or the other heavy libraries when it is loaded, only on the code paths
that use them (each such import is a commented deferral, tests/unit/test_layers.py). Timing is too noisy
for a unit test; which modules an import loads is not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted((ROOT / "functions").glob("*/app.py"))

# Loaded at the first call that needs them. requests alone is ~80 ms of import, boto3 ~150 ms.
DEFERRED = ("boto3", "requests", "urllib3", "phonenumbers", "aws_xray_sdk")
# The application's page renders a template on every call: it may import Jinja2 (its budget is 1.3x).
ALLOWED = {"app": ("jinja2", "markupsafe")}
HEAVY = (*DEFERRED, "jinja2", "markupsafe")

PROBE = """
import importlib.util, json, sys
heavy, found = sys.argv[1].split(","), {}
for path in sys.argv[2:]:
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location("app_" + path.split("/")[-2], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found[path.split("/")[-2]] = sorted(h for h in heavy if h in sys.modules and h not in before)
print(json.dumps(found))
"""


def test_no_function_imports_the_sdk_or_requests_when_it_is_loaded():
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT / "layers" / "common"),
        AWS_DEFAULT_REGION="us-east-1",
        PORTALS_TABLE="p",
        MESSAGES_TABLE="m",
        LIMITS_TABLE="l",
        OUTBOUND_QUEUE_URL="q",
        STATUS_QUEUE_URL="q",
        POWERTOOLS_SERVICE_NAME="b24sms",
        POWERTOOLS_TRACE_DISABLED="true",
    )
    # One interpreter for all: a module loaded by an earlier function hides a later one's import of it,
    # which only matters for what a function may import, so those functions go last.
    order = sorted(FUNCTIONS, key=lambda p: p.parent.name in ALLOWED)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(HEAVY), *map(str, order)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    found: dict[str, list[str]] = json.loads(done.stdout)
    assert set(found) == {p.parent.name for p in FUNCTIONS}
    loaded = {name: [m for m in modules if m not in ALLOWED.get(name, ())] for name, modules in found.items()}
    assert {name: modules for name, modules in loaded.items() if modules} == {}
