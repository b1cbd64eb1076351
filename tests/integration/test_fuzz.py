"""Every public route, fed bad bodies over real HTTP: never a 5xx, and a refused request writes
nothing (no DynamoDB write, no queued message).

The corpus: the shapes that once crashed or burned CPU (issue #9), then, per route, the real payloads
of ``events/`` mutated by a seeded generator (truncated, keys bracketed and nested, values swapped for
long, non-ASCII or structured junk, other content types, base64). Writes are seen where every AWS call
of the functions goes through: botocore's ``_make_api_call``, counted only inside the fuzz requests.
"""

from __future__ import annotations

import base64
import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import botocore.client
import pytest
import requests

from b24sms.adapters import config
from local.portal_emulator import EmulatedPortal
from local.stack import LocalStack

EVENTS = Path(__file__).resolve().parents[2] / "events"
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "SendMessage", "SendMessageBatch"}
PAGES = ("/bitrix/install", "/bitrix/connector", "/bitrix/app")
CARRIERS = ("sandbox", "twilio", "vonage", "aws", "nope")
SEED = 20261125
PER_ROUTE = 40

FORM = "application/x-www-form-urlencoded"
NESTED_JSON = '{"a": ' * 5000 + "1" + "}" * 5000

# The cases found by hand: each crashed a route (500) or cost seconds of CPU.
KNOWN_BAD: list[tuple[str, str]] = [
    ("0=x", FORM),
    ("0=x&1=y", FORM),
    ("a[²]=1", FORM),
    ("a[" + "7" * 5000 + "]=1", FORM),
    ("a" + "[b]" * 1000 + "=1", FORM),
    ("&".join(["a[]=1"] * 12_000), FORM),
    ("PLACEMENT_OPTIONS=[1]&member_id=m&AUTH_ID=t", FORM),
    ("PLACEMENT_OPTIONS=7&member_id=m&AUTH_ID=t", FORM),
    ("PLACEMENT_OPTIONS=" + quote("[" * 3000 + "]" * 3000) + "&member_id=m&AUTH_ID=t", FORM),
    ("PLACEMENT_OPTIONS=" + quote(NESTED_JSON) + "&member_id=m&AUTH_ID=t", FORM),
    (NESTED_JSON, "application/json"),
    ("[" * 50_000, "application/json"),
    ('{"messageId": {"x": 1}, "status": "delivered"}', "application/json"),
    ("[1, 2]", "application/json"),
    ("message_id=m1&message_to=" + "1" * 300_000 + "&message_body=hi", FORM),
    ("message_id=m2&message_to=%2B15550001234&message_body=hi&module_id=" + "x" * 500_000, FORM),
    ("a=" + "x" * 300_000, FORM),
    ("%FF%FE=%FF", FORM),
    ("\x00=\x00", FORM),
    ("event=ONAPPUNINSTALL&data=1&auth=1", FORM),
    ("event[0]=x&auth[application_token][x]=1", FORM),
    ("", FORM),
    ("<Response/>", "text/xml"),
]


def _mutations(rng: random.Random, body: str) -> str:
    pairs = [[*p.split("=", 1), ""] if "=" not in p else p.split("=", 1) for p in body.split("&")] if body else [["a", "b"]]
    pairs = [[p[0], p[1]] for p in pairs]
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(pairs))
        kind = rng.randrange(12)
        if kind == 0:
            pairs[i][1] = rng.choice(["", "[]", "{}", "null", "%00", "%FF", "²", "９", "-1", "1e9999"])
        elif kind == 1:
            pairs[i][1] = rng.choice("x1+%") * rng.choice([100, 5000, 70_000])
        elif kind == 2:
            pairs[i][0] += "[" + rng.choice(["", "0", "x", "²", "00", "9" * 30]) + "]"
        elif kind == 3:
            pairs[i][0] = pairs[i][0] + "[a]" * rng.randint(5, 40)
        elif kind == 4:
            pairs.append([rng.choice(["0", "1", "[]", "]", "[", "a][", "a[b"]), "x"])
        elif kind == 5:
            pairs = pairs[: rng.randrange(len(pairs)) + 1]
        elif kind == 6:
            pairs[i][1] = quote(json.dumps(rng.choice([[1], 7, "s", None, {"LINE": {"x": 1}}, {"LINE": "²"}])))
        elif kind == 7:
            pairs.append([pairs[i][0], pairs[i][1]])  # a repeated key
        elif kind == 8:
            pairs[i][0] = pairs[i][0].split("[")[0] + "[]"
        elif kind == 9:
            pairs.extend([["k[]", "1"]] * rng.choice([10, 500, 2000]))
        elif kind == 10:
            pairs[i][1] = quote(rng.choice(["+1" + "5" * 40, "😀" * 50, "\u202e", "a\r\nb"]))
        else:
            pairs[i] = [pairs[i][1], pairs[i][0]]
    return "&".join(f"{k}={v}" for k, v in pairs)


def _seeds() -> dict[str, list[tuple[str, str, str]]]:
    """(method, query, body) of each events/ file, by route path (carrier names generalised)."""
    seeds: dict[str, list[tuple[str, str, str]]] = {}
    for path in sorted(EVENTS.glob("*.json")):
        event = json.loads(path.read_text())
        if "rawPath" not in event:
            continue
        body = event.get("body") or ""
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        route = event["rawPath"]
        for carrier in CARRIERS:
            route = route.replace(f"/carriers/{carrier}/", "/carriers/{carrier}/")
        method = event["requestContext"]["http"]["method"]
        seeds.setdefault(route, []).append((method, event.get("rawQueryString") or "", body))
    return seeds


class WriteRecorder:
    """AWS write calls made while a function serves a fuzz request (marked by a header), by request."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.writes: dict[str, list[str]] = {}

    def install(self, monkeypatch: pytest.MonkeyPatch, stack: LocalStack) -> None:
        recorder, original, invoke = self, botocore.client.BaseClient._make_api_call, stack.invoke

        def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            request = getattr(recorder.local, "request", None)
            if request and operation in WRITES:
                recorder.writes.setdefault(request, []).append(operation)
            return original(client, operation, params)

        def invoke_marked(function: str, event: dict[str, Any]) -> Any:
            recorder.local.request = ((event.get("headers") or {}) if isinstance(event, dict) else {}).get(MARK)
            try:
                return invoke(function, event)
            finally:
                recorder.local.request = None

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
        monkeypatch.setattr(stack, "invoke", invoke_marked)


MARK = "x-fuzz-request"


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch, stack: LocalStack) -> Iterator[WriteRecorder]:
    """Twilio and Vonage configured (so their parsers and signature checks are fuzzed too), writes recorded."""
    for name, value in {
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "fuzz-twilio-token",
        "TWILIO_FROM": "+15005550006",
        "VONAGE_API_KEY": "fuzzkey",
        "VONAGE_API_SECRET": "fuzz-vonage-secret",
        "VONAGE_SIGNATURE_SECRET": "fuzz-vonage-signature",
        "VONAGE_SIGNATURE_METHOD": "sha256",
    }.items():
        monkeypatch.setenv(name, value)
    config.reset_settings()
    rec = WriteRecorder()
    rec.install(monkeypatch, stack)
    yield rec
    monkeypatch.undo()
    config.reset_settings()


def _targets(stack: LocalStack, portal: EmulatedPortal) -> list[tuple[str, str, str]]:
    """(method, path, query) for every route of the template, each carrier name for carrier routes."""
    handler_query = urlsplit(str(portal.senders["b24sms"]["HANDLER"])).query
    out = []
    for route in stack.routes:
        paths = [route.path.replace("{carrier}", c) for c in CARRIERS] if "{carrier}" in route.path else [route.path]
        methods = ["POST", "GET"] if route.method == "ANY" else [route.method]
        for path in paths:
            for method in methods:
                query = handler_query if path == "/bitrix/handler" else "ref=" + "x" * 300 if "status" in path else ""
                out.append((method, path, query))
    return out


def test_no_route_answers_5xx_or_writes_on_bad_input(stack: LocalStack, portal: EmulatedPortal, recorder: WriteRecorder):
    rng = random.Random(SEED)
    seeds = _seeds()
    targets = _targets(stack, portal)
    assert len({path for _, path, _ in targets}) >= 9, "every HttpApi route of the template is fuzzed"
    codes: Counter[int] = Counter()
    failures: list[str] = []
    session = requests.Session()
    for method, path, query in targets:
        route_seeds = seeds.get(path) or seeds.get(path.rsplit("/", 2)[0] + "/{carrier}/" + path.rsplit("/", 1)[1]) or []
        corpus = list(KNOWN_BAD)
        for _ in range(PER_ROUTE):
            seed_body = rng.choice(route_seeds)[2] if route_seeds else "a=b"
            content_type = rng.choice([FORM] * 6 + ["application/json", "text/plain", ""])
            corpus.append((_mutations(rng, seed_body), content_type))
        for body, content_type in corpus:
            url = f"{stack.base_url}{path}" + (f"?{query}" if query else "")
            if method == "GET":  # bad input goes in the query string
                url = f"{stack.base_url}{path}?{body[:6000]}"
            mark = str(sum(codes.values()))
            headers = {MARK: mark, **({"Content-Type": content_type} if content_type else {})}
            response = session.request(method, url, data=body.encode("utf-8", "surrogatepass"), headers=headers, timeout=60)
            codes[response.status_code] += 1
            wrote = recorder.writes.get(mark, [])
            label = f"{method} {path} {content_type!r} {body[:80]!r}"
            if response.status_code >= 500:
                failures.append(f"{response.status_code} for {label}: {response.text[:200]}")
            elif response.status_code >= 400:
                if wrote:
                    failures.append(f"{response.status_code} but wrote {wrote} for {label}")
                # JSON errors; the pages a person looks at (install page, connector placement, the app's page) say it in HTML.
                kind = response.headers.get("Content-Type", "")
                if not kind.startswith("application/json") and not (path in PAGES and kind.startswith("text/html")):
                    failures.append(f"{response.status_code} without a JSON error for {label}")
    print(f"fuzz: {sum(codes.values())} requests over {len(targets)} route/method pairs, codes {dict(sorted(codes.items()))}")
    assert not failures, "\n".join(failures[:30])
    assert sum(codes.values()) > 1000


def test_a_carrier_we_do_not_serve_is_404_without_internals_and_not_looked_up_again(stack: LocalStack, monkeypatch):
    """Twilio is not configured here: its SSM parameter does not exist. The caller learns nothing of
    that, and only the first call costs a parameter-store read."""
    reads: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation in ("GetParameter", "GetParameters", "GetSecretValue"):
            reads.append(operation)
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
    for path in (
        "/carriers/twilio/status?ref=x.y",
        "/carriers/twilio/inbound",
        "/carriers/twilio/status",
        "/carriers/nope/status",
    ):
        response = requests.post(
            f"{stack.base_url}{path}", data="MessageSid=SM1&MessageStatus=sent", headers={"Content-Type": FORM}, timeout=10
        )
        assert response.status_code == 404, response.text
        assert response.json() == {"error": "unknown_carrier", "error_description": "unknown carrier"}
    assert len(reads) <= 1, reads


def test_sandbox_checks_its_signature_before_reading_the_body(stack: LocalStack):
    """A body too deep to decode, unsigned: refused for its signature (403), not for its shape (400)."""
    body = "ref=a.b&status=delivered&" + "a" + "[b]" * 50 + "=1"
    response = requests.post(f"{stack.base_url}/carriers/sandbox/status", data=body, headers={"Content-Type": FORM}, timeout=10)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "bad_signature"


def test_oversized_handler_fields_are_refused_and_stored_nowhere(stack: LocalStack, portal: EmulatedPortal):
    from b24sms.adapters import store

    url = str(portal.senders["b24sms"]["HANDLER"])
    cases = {
        "big1": ("message_id=big1&message_to=%2B" + "1" * 2_000 + "&message_body=hi", 400, "message_to"),
        "big2": ("message_id=big2&message_to=%2B15550001234&message_body=hi&module_id=" + "m" * 70_000, 400, "module_id"),
        "big3": ("message_id=big3&message_to=%2B" + "1" * 300_000 + "&message_body=hi", 413, "bytes"),
    }
    for message_id, (body, status, named) in cases.items():
        response = requests.post(url, data=body, headers={"Content-Type": FORM}, timeout=30)
        assert response.status_code == status, response.text[:300]
        assert named in response.json()["error_description"]
        assert len(response.text) < 1_000  # the answer does not echo the field
        assert store.messages.get_message(portal.member_id, message_id) is None
