"""A fake of Vonage's SMS API on 127.0.0.1: ``POST /sms/json`` answering as Vonage does (HTTP 200 with
one ``messages[]`` entry per segment, refusals as a non-zero ``status`` + ``error-text``), and one
delivery receipt per segment sent to the ``callback`` URL, signed (when a signature secret is set)
with the official ``vonage`` library's signature helper: a dev dependency, the oracle for our own check.

Outcome by recipient: ...0099 is refused at send (status 3), ...0013 gets ``failed`` for its last
segment (err-code 3) and ``delivered`` for the others; others are ``delivered``. Receipts for a long
message arrive last segment first, as they may in life. ``inbound`` plays a customer's SMS (or one part
of a long one) to our number, in the same format and signed the same way as receipts.

Connection faults (``faults.next("close")``, ``refuse_for(seconds)``: see ``local.fakes.faults``) play on
the next sends; ``received`` keeps every send request read, faulted or not, to count them per message.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import requests

from b24sms.domain import segments
from local.fakes.faults import Faults, ServedFake
from local.httpserver import Reply, json_reply


@dataclass
class Sent:
    part_ids: list[str]
    to: str
    body: str
    params: dict[str, str]


@dataclass
class VonageFake(ServedFake):
    api_key: str = field(default_factory=lambda: secrets.token_hex(4))
    api_secret: str = field(default_factory=lambda: secrets.token_hex(8))
    signature_secret: str = ""
    signature_method: str = "md5hash"  # or md5 / sha1 / sha256 / sha512 (HMAC)
    receipt_format: str = "json"  # json | form | get
    receipts: bool = True  # False: accepted sends get no receipts (a test sends its own)
    sent: list[Sent] = field(default_factory=list)
    failures: deque[tuple[int, dict[str, Any], float]] = field(default_factory=deque)  # http status, body, delay
    base_url: str = ""
    faults: Faults = field(default_factory=Faults)
    received: list[dict[str, str]] = field(default_factory=list)  # every send request read, faulted or not

    def start(self) -> VonageFake:
        def respond(method: str, path: str, headers: dict[str, str], body: bytes, _: str) -> Reply:
            status, payload, delay = self.handle(method, path, body.decode())
            if delay:
                time.sleep(delay)
            return json_reply(status, payload)

        self._serve(respond)
        return self

    def received_for(self, key: str) -> int:
        """How many send requests for our message ``key`` (``member_id.message_id``) reached the fake."""
        return sum(1 for p in self.received if p.get("client-ref") == key)

    def fail_next(self, vonage_status: str, text: str, http_status: int = 200, delay: float = 0.0) -> None:
        """The next send is refused with ``messages[0].status = vonage_status`` (or an HTTP error)."""
        body = {"message-count": "1", "messages": [{"status": vonage_status, "error-text": text}]}
        self.failures.append((http_status, body, delay))

    def handle(self, method: str, path: str, body: str) -> tuple[int, dict[str, Any], float]:
        if method == "GET" and path.split("?")[0] == "/account/get-balance":  # a credentials check
            query = dict(parse_qsl(path.partition("?")[2]))
            if query.get("api_key") != self.api_key or query.get("api_secret") != self.api_secret:
                return 401, {"type": "https://developer.nexmo.com/api-errors#unauthorized", "title": "Unauthorized"}, 0
            return 200, {"value": 10.5, "autoReload": False}, 0
        if method != "POST" or path.split("?")[0] != "/sms/json":
            return 404, {"type": "https://developer.nexmo.com/api-errors#not-found", "title": "Not Found"}, 0
        params = dict(parse_qsl(body, keep_blank_values=True))
        if params.get("api_key") != self.api_key or params.get("api_secret") != self.api_secret:
            return 200, {"message-count": "1", "messages": [{"status": "4", "error-text": "Bad Credentials"}]}, 0
        self.received.append(params)
        self.faults.play()  # a connection fault instead of an answer, when one is pending
        if self.failures:
            status, payload, delay = self.failures.popleft()
            if status == 200 and payload["messages"][0]["status"] == "0":
                return self._accept(params, delay)
            return status, payload, delay
        return self._accept(params, 0)

    def _accept(self, params: dict[str, str], delay: float) -> tuple[int, dict[str, Any], float]:
        to = params.get("to", "")
        for required in ("from", "to", "text"):
            if not params.get(required):
                return 200, {"message-count": "1", "messages": [{"status": "2", "error-text": f"Missing {required}"}]}, 0
        if not to.isdigit():
            return 200, {"message-count": "1", "messages": [{"status": "3", "error-text": "Invalid to address"}]}, 0
        if to.endswith("0099"):
            return 200, {"message-count": "1", "messages": [{"status": "3", "error-text": "Invalid to address: unroutable"}]}, 0
        size = segments.count(params["text"])
        parts = [secrets.token_hex(8).upper() for _ in range(size.segments)]
        self.sent.append(Sent(parts, to, params["text"], params))
        if params.get("callback") and self.receipts:
            threading.Thread(target=self._receipts, args=(params, parts), daemon=True).start()
        entries = [
            {
                "to": to,
                "message-id": part,
                "status": "0",
                "remaining-balance": "3.14159265",
                "message-price": "0.03330000",
                "network": "12345",
                "client-ref": params.get("client-ref", ""),
            }
            for part in parts
        ]
        return 200, {"message-count": str(len(parts)), "messages": entries}, delay

    def receipt(self, url: str, part_id: str, status: str, *, to: str, client_ref: str, err_code: str = "0") -> requests.Response:
        """Send one delivery receipt, as Vonage does (signed when a signature secret is set)."""
        params: dict[str, str] = {
            "msisdn": to,
            "to": "AcmeInc",
            "network-code": "12345",
            "messageId": part_id,
            "price": "0.03330000",
            "status": status,
            "scts": time.strftime("%y%m%d%H%M", time.gmtime()),
            "err-code": err_code,
            "api-key": self.api_key,
            "client-ref": client_ref,
            "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        }
        return self._deliver(url, params)

    def inbound(
        self,
        url: str,
        msisdn: str,
        to: str,
        text: str,
        concat: tuple[str, int, int] | None = None,
        message_id: str | None = None,
    ) -> requests.Response:
        """Send one inbound SMS webhook as Vonage does (numbers without "+"); ``concat`` = (ref, total,
        part) makes it one part of a long message. Signed when a signature secret is set."""
        words = text.split()
        params: dict[str, str] = {
            "msisdn": msisdn,
            "to": to,
            "messageId": message_id or secrets.token_hex(8).upper(),
            "text": text,
            "type": "unicode" if segments.count(text).encoding == "UCS-2" else "text",
            "keyword": words[0].upper() if words else "",
            "api-key": self.api_key,
            "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        }
        if concat is not None:
            ref, total, part = concat
            params.update({"concat": "true", "concat-ref": ref, "concat-total": str(total), "concat-part": str(part)})
        return self._deliver(url, params)

    def _deliver(self, url: str, params: dict[str, str]) -> requests.Response:
        """Send a callback in ``receipt_format``, signed (``timestamp`` then ``sig``) when a signature secret is set."""
        if self.signature_secret:
            params["timestamp"] = str(int(time.time()))
            params["sig"] = self.sign(params)
        if self.receipt_format == "get":
            return requests.get(url, params=params, timeout=10)
        if self.receipt_format == "form":
            return requests.post(url, data=params, timeout=10)
        return requests.post(url, data=json.dumps(params), headers={"Content-Type": "application/json"}, timeout=10)

    def sign(self, params: dict[str, str]) -> str:
        """``sig`` as Vonage computes it: the official library for HMAC methods. It has no ``md5hash``
        (MD5 of the sorted ``&k=v`` string followed by the secret), so that one uses our own, which a
        unit test checks against the documented algorithm."""
        if self.signature_method == "md5hash":
            from b24sms.adapters.carriers.vonage import sign

            return sign(params, self.signature_secret, "md5hash")
        from vonage_http_client.auth import Auth

        auth = Auth(api_key=self.api_key, signature_secret=self.signature_secret, signature_method=self.signature_method)  # type: ignore[arg-type]
        return str(auth.sign_params(dict(params)))

    def _receipts(self, params: dict[str, str], parts: list[str]) -> None:
        time.sleep(0.05)
        failing = params["to"].endswith("0013")
        for i, part in reversed(list(enumerate(parts))):  # last segment first
            last = i == len(parts) - 1
            status, err = ("failed", "3") if failing and last else ("delivered", "0")
            with contextlib.suppress(requests.RequestException):  # a real receipt can be lost too
                self.receipt(
                    params["callback"], part, status, to=params["to"], client_ref=params.get("client-ref", ""), err_code=err
                )
