"""A HANDLER call naming an unknown sender CODE is refused with a 400; what the caller put in ``code``
(it could be a phone number, a text, a forged log line) never reaches the log verbatim."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from b24sms.adapters import store
from b24sms.domain.models import Portal
from b24sms.usecases import accept

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "PORTALS_TABLE": "p", "MESSAGES_TABLE": "m", "LIMITS_TABLE": "l", "OUTBOUND_QUEUE_URL": "q", "STATUS_QUEUE_URL": "s",
    "BITRIX_CLIENT_ID": "c", "SENDER_CODE": "b24sms", "POWERTOOLS_LOG_LEVEL": "INFO", "POWERTOOLS_METRICS_DISABLED": "true",
}  # fmt: skip


def handler_module() -> Any:
    spec = importlib.util.spec_from_file_location("handler_app_under_test", ROOT / "functions" / "handler" / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop(spec.name, None)
    spec.loader.exec_module(module)
    return module


def event(code: str) -> dict[str, Any]:
    form = {"message_id": "m1", "message_to": "+15550100100", "message_body": "hello", "code": code}
    return {
        "version": "2.0", "routeKey": "POST /bitrix/handler", "rawPath": "/bitrix/handler", "rawQueryString": "portal=m&key=k",
        "queryStringParameters": {"portal": "m", "key": "k"}, "headers": {"content-type": "application/x-www-form-urlencoded"},
        "requestContext": {"http": {"method": "POST", "path": "/bitrix/handler"}}, "body": urlencode(form),
        "isBase64Encoded": False,
    }  # fmt: skip


class Context:
    function_name = "HandlerFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:HandlerFunction"
    aws_request_id = "r1"


@pytest.mark.parametrize(
    "code",
    ["+49 151 1234 5678", "79161234567", 'x\n{"level":"ERROR","message":"forged"}', "<script>alert(1)</script>", "Ж" * 64],
)
def test_an_unknown_code_is_refused_without_quoting_it_in_the_log(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(
        accept,
        "authenticate_handler",
        lambda query: Portal(member_id="m", client_endpoint="https://p.example/rest/", handler_secret="k"),
    )
    module = handler_module()
    # The function's own JSON log lines, as CloudWatch would get them (the api module logs the refusal
    # through a Powertools child logger, which hands its records to the function's logger).
    buffer = io.StringIO()
    capture = logging.StreamHandler(buffer)
    capture.setFormatter(module.logger.registered_formatter)
    parent = logging.getLogger(module.logger.service)
    parent.addHandler(capture)
    try:
        answer = module.lambda_handler(event(code), Context())
    finally:
        parent.removeHandler(capture)
    assert answer["statusCode"] == 400, answer
    logged = buffer.getvalue()
    assert "request refused" in logged  # the refusal is logged...
    for piece in {code, code[:20], code.strip()[:8], json.dumps(code)[1:-1][:20]}:
        assert piece not in logged, piece  # ...without what the caller sent
    assert code[:8] not in json.loads(answer["body"])["error_description"]


def test_a_code_that_looks_like_one_is_named_in_the_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(
        accept,
        "authenticate_handler",
        lambda query: Portal(member_id="m", client_endpoint="https://p.example/rest/", handler_secret="k"),
    )
    portal = Portal(member_id="m", client_endpoint="https://p.example/rest/", handler_secret="k")
    monkeypatch.setattr(store.portals, "get_portal", lambda member_id: portal)  # the fresh read of a new code
    answer = handler_module().lambda_handler(event("b24sms_9"), Context())
    assert answer["statusCode"] == 400 and "'b24sms_9'" in json.loads(answer["body"])["error_description"]
