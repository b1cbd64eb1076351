"""Every HTTP function's handler is one line through ``api.lambda_handler`` (logged with the Lambda
context, traced when tracing is on: the application's page too), and every HTML message a person sees
is ``api.message_page`` (escaped)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from b24sms import api
from b24sms.adapters import telemetry

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
HTTP = sorted(p for p in FUNCTIONS.glob("*/app.py") if "APIGatewayProxyEventV2" in p.read_text(encoding="utf-8"))


def test_there_are_seven_http_functions() -> None:
    assert [p.parent.name for p in HTTP] == ["app", "connector", "events", "handler", "inbound", "install", "status"]


@pytest.mark.parametrize("path", HTTP, ids=[p.parent.name for p in HTTP])
def test_an_http_handler_goes_through_the_one_wrapper(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert re.search(r"^lambda_handler = .*api\.lambda_handler\(\w+, logger\)\)?$", text, re.M), path
    assert "http_function(" not in text and "inject_lambda_context" not in text, path


def test_the_wrapper_traces_and_logs_the_context(monkeypatch: pytest.MonkeyPatch) -> None:
    traced: list[Any] = []

    def trace(handler: Any) -> Any:
        traced.append(handler)
        return handler

    monkeypatch.setattr(telemetry, "traced", trace)
    entry = api.lambda_handler(lambda event: {"ok": True}, Logger(service="test"))
    assert len(traced) == 1
    context = type(
        "Context", (), {"function_name": "f", "memory_limit_in_mb": 128, "invoked_function_arn": "a", "aws_request_id": "r"}
    )
    assert entry({"rawPath": "/", "headers": {}}, context())["body"] == '{"ok": true}'


def test_a_message_page_escapes_what_it_says() -> None:
    page = api.message_page("<T>", "<script>x</script>", "second", status=403, lang="ru-RU")
    assert page.status == 403 and "<script>" not in page.body and "&lt;script&gt;" in page.body
    assert '<html lang="ru">' in page.body and '<p id="message">' in page.body and "<p>second</p>" in page.body
