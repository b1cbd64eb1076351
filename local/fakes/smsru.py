"""A fake of SMS.ru's API on 127.0.0.1, answering as SMS.ru does (``json=1``): ``POST /sms/send``
(``api_id``, ``to``, the text as ``msg`` or ``text``: sources disagree, both are taken), ``/my/balance``
(the credential check), ``/callback/add`` (registers the callback URL, as its panel does) and
``/sms/status`` (the reconciler's query: the final code of each id it sent, ``-1`` for one it did not).

Every answer is HTTP 200, refusals too: a whole-request error is ``{"status": "ERROR", "status_code":
200, ...}``; otherwise ``sms[<number>]`` says per number whether it was taken (``sms_id``) or refused
(``status_code``), so one number can fail in an answer that says OK.

Delivery statuses go to the registered callback URL (one per account, never per SMS), as SMS.ru sends
them: a form POST of ``data[]`` entries, each the lines ``sms_status``, ``<sms_id>``, ``<code>``, with
an entry of another kind among them; anything but ``100`` as the answer is tried again (up to
``callback_tries``). Outcome by recipient: ...0099 is refused at send (207), ...0013 ends 107 (not
delivered), others 102 then 103 (delivered).

Connection faults (``faults.next("close")``, ``refuse_for(seconds)``: see ``local.fakes.faults``) play on
the next sends; ``received`` keeps every send request read, faulted or not.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests

from local.fakes.faults import Faults, ServedFake
from local.httpserver import Reply, json_reply


@dataclass
class Sent:
    sms_id: str
    to: str
    body: str
    params: dict[str, str]


@dataclass
class SmsRuFake(ServedFake):
    api_id: str = field(default_factory=lambda: secrets.token_hex(16).upper())
    callback_url: str = ""  # as registered in the panel (or by callback/add)
    receipts: bool = True  # False: accepted sends get no status callbacks (a test posts its own)
    callback_tries: int = 3
    sent: list[Sent] = field(default_factory=list)
    failures: deque[dict[str, Any]] = field(default_factory=deque)  # per-number refusals for the next sends
    callbacks: list[tuple[str, int, str]] = field(default_factory=list)  # (body, HTTP status, answer) of each try
    base_url: str = ""
    faults: Faults = field(default_factory=Faults)
    received: list[dict[str, str]] = field(default_factory=list)  # every send request read, faulted or not
    finals: dict[str, str] = field(default_factory=dict)  # sms_id -> the code ``sms/status`` answers
    queried: list[str] = field(default_factory=list)  # the ids asked about with ``sms/status``

    def __post_init__(self) -> None:
        self._ids = itertools.count(10000000)

    def start(self) -> SmsRuFake:
        def respond(method: str, path: str, headers: dict[str, str], body: bytes, _: str) -> Reply:
            status, payload = self.handle(method, path, body.decode())
            return json_reply(status, payload)

        self._serve(respond)
        return self

    def received_for(self, to: str) -> int:
        """How many send requests for number ``to`` (with or without "+") reached the fake."""
        return sum(1 for p in self.received if p.get("to") == to.lstrip("+"))

    def fail_next(self, status_code: int, text: str) -> None:
        """The next send's number is refused with ``status_code`` (the answer as a whole says OK)."""
        self.failures.append({"status": "ERROR", "status_code": status_code, "status_text": text})

    def handle(self, method: str, path: str, body: str) -> tuple[int, dict[str, Any]]:
        route, _, query = path.partition("?")
        params = {**dict(parse_qsl(query)), **dict(parse_qsl(body, keep_blank_values=True))}
        if params.get("api_id") != self.api_id:
            return 200, {"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"}
        if route == "/my/balance":
            return 200, {"status": "OK", "status_code": 100, "balance": 4122.56}
        if route == "/callback/add" and params.get("url"):
            self.callback_url = params["url"]
            return 200, {"status": "OK", "status_code": 100, "callback": [self.callback_url]}
        if route == "/sms/status":  # the reconciler's query: each id's code as SMS.ru holds it (-1: unknown)
            ids = [i for i in params.get("sms_id", "").split(",") if i]
            self.queried.extend(ids)
            found = {i: self._status(i) for i in ids}
            return 200, {"status": "OK", "status_code": 100, "sms": found, "balance": 4122.56}
        if method != "POST" or route != "/sms/send":
            return 200, {"status": "ERROR", "status_code": 404, "status_text": "Метод не найден"}
        self.received.append(params)
        self.faults.play()  # a connection fault instead of an answer, when one is pending
        return 200, self._send(params)

    def _send(self, params: dict[str, str]) -> dict[str, Any]:
        to, text = params.get("to", ""), params.get("msg") or params.get("text") or ""
        if not text:
            return {"status": "ERROR", "status_code": 210, "status_text": "Нет текста сообщения"}
        if self.failures:
            entry = self.failures.popleft()
        elif not to.isdigit():
            entry = {"status": "ERROR", "status_code": 202, "status_text": f"Неправильно указан номер {to}"}
        elif to.endswith("0099"):
            entry = {"status": "ERROR", "status_code": 207, "status_text": f"На номер {to} нельзя отправлять"}
        else:
            sms_id = f"{secrets.randbelow(900000) + 100000}-{next(self._ids)}"
            entry = {"status": "OK", "status_code": 100, "sms_id": sms_id}
            self.sent.append(Sent(sms_id, to, text, params))
            final = "107" if to.endswith("0013") else "103"
            self.finals[sms_id] = final
            if self.callback_url and self.receipts:
                threading.Thread(target=self._statuses, args=(sms_id, ("102", final)), daemon=True).start()
        return {"status": "OK", "status_code": 100, "sms": {to: entry}, "balance": 4122.56}

    def _status(self, sms_id: str) -> dict[str, Any]:
        code = self.finals.get(sms_id)
        if code is None:
            return {"status": "ERROR", "status_code": -1, "status_text": "Сообщение не найдено"}
        return {"status": "OK", "status_code": int(code), "status_text": "", "cost": "1.50", "sms": 1}

    def callback(self, url: str, *entries: tuple[str, str], other: bool = True) -> requests.Response:
        """POST status entries ``(sms_id, code)`` as SMS.ru does, with an entry of another kind first
        (``other``); tried again until answered ``100`` (``callback_tries``). The last response."""
        lines = [f"sms_status\n{sms_id}\n{code}" for sms_id, code in entries]
        if other:
            lines.insert(0, f"callback_test\n{int(time.time())}")
        body = urlencode([("data[]", line) for line in lines])
        response = None
        for _ in range(self.callback_tries):
            response = requests.post(url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
            self.callbacks.append((body, response.status_code, response.text))
            if response.status_code == 200 and response.text.strip() == "100":
                break
            time.sleep(0.2)
        assert response is not None
        return response

    def _statuses(self, sms_id: str, codes: tuple[str, ...]) -> None:
        for code in codes:
            time.sleep(0.05)
            with contextlib.suppress(requests.RequestException):  # a real callback can be lost too
                self.callback(self.callback_url, (sms_id, code))
