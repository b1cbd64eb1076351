"""Optional X-Ray tracing (issue #10): off by default, and then the X-Ray SDK is never imported; on
when the template's Tracing parameter is Active, which SAM turns into the tracing configuration and
the X-Ray write permissions, and the template into POWERTOOLS_TRACE_DISABLED=false."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from b24sms.adapters import telemetry
from local.template import ROOT, Template

# Import a handler the way Lambda does, and say whether the X-Ray SDK came with it.
PROBE = (
    "import importlib.util, json, sys; sys.path.insert(0, 'layers/common'); "
    "spec = importlib.util.spec_from_file_location('app', 'functions/handler/app.py'); "
    "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
    "print(json.dumps('aws_xray_sdk' in sys.modules))"
)


def handler_imports_xray(trace_disabled: str | None) -> bool:
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"}
    if trace_disabled is not None:
        env["POWERTOOLS_TRACE_DISABLED"] = trace_disabled
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return bool(json.loads(done.stdout))


@pytest.mark.parametrize(("value", "imported"), [(None, False), ("true", False), ("false", True)])
def test_the_xray_sdk_is_imported_only_when_tracing_is_on(value: str | None, imported: bool):
    assert handler_imports_xray(value) is imported


def test_off_leaves_the_handler_as_it_is(monkeypatch: pytest.MonkeyPatch):
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {}

    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    assert telemetry.traced(handler) is handler
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    assert telemetry.traced(handler) is not handler


def test_the_template_switches_tracing_with_one_parameter_off_by_default():
    template = Template()
    assert template.doc["Parameters"]["Tracing"]["Default"] == "Disabled"
    function_globals = template.doc["Globals"]["Function"]
    assert function_globals["Tracing"] == {"Ref": "Tracing"}  # SAM resolves it: Disabled adds no X-Ray policy
    assert template.resolve(function_globals["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"]) == "true"
