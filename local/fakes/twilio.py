"""A fake of Twilio's Messages API on 127.0.0.1: Basic auth, Twilio's error bodies, and status
callbacks POSTed to ``StatusCallback`` signed exactly as Twilio signs them (computed with the official
``twilio`` library's RequestValidator: a dev dependency, the oracle for our own verification).

Outcome by recipient: ...0099 is refused at send (21612, cannot route), ...0610 is unsubscribed
(21610), ...0013 ends ``undelivered`` (30003), others ``sent`` then ``delivered``. ``inbound`` plays a
customer's SMS to our number: Twilio's inbound webhook, signed the same way.

``GET .../Messages/<sid>.json`` fetches a message's resource (the reconciler's status query): its
final status, whether or not its callbacks were posted; ``drop_callbacks`` accepts sends but posts
no callback (a lost callback); ``fetched`` lists the sids asked about, in order. The resource has
``price`` (``-0.00790`` by default, ``price=None``: null, not known yet) and ``price_unit`` ``USD``.

Status callbacks honour Twilio's connection overrides in the URL's fragment as Twilio documents them
(``rc`` retries, default 1; ``rp`` policy: ``ct`` connect failures by default, ``5xx``, ``4xx``, ``all``);
the fragment is signed with the URL and never sent.

Connection faults (``faults.next("close")``, ``refuse_for(seconds)``: see ``local.fakes.faults``) play on
the next sends; ``received`` keeps every send request read, faulted or not, to count them per message.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import requests

from b24sms.domain import segments
from local.fakes.faults import Faults, ServedFake
from local.httpserver import Reply, json_reply


@dataclass
class Sent:
    sid: str
    to: str
    body: str
    params: dict[str, str]


@dataclass
class TwilioFake(ServedFake):
    account_sid: str = field(default_factory=lambda: "AC" + secrets.token_hex(16))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    sent: list[Sent] = field(default_factory=list)
    failures: deque[tuple[int, dict[str, Any], float]] = field(default_factory=deque)  # status, body, delay
    callback_statuses: tuple[str, ...] = ("sent", "delivered")
    retried: int = 0  # status callbacks posted again after an error answer (connection overrides)
    base_url: str = ""
    faults: Faults = field(default_factory=Faults)
    received: list[dict[str, str]] = field(default_factory=list)  # every send request read, faulted or not
    drop_callbacks: bool = False  # True: no status callback is posted (the carrier's resource still has it)
    finals: dict[str, str] = field(default_factory=dict)  # sid -> the status its resource shows
    fetched: list[str] = field(default_factory=list)  # sids fetched (GET .../Messages/<sid>.json)
    # What a fetched resource's ``price`` shows (Twilio's: negative, a string, USD for a US account);
    # None: null, as Twilio shows it until the price is known, some minutes after the final status.
    price: str | None = "-0.00790"

    def start(self) -> TwilioFake:
        def respond(method: str, path: str, headers: dict[str, str], body: bytes, _: str) -> Reply:
            status, payload, delay = self.handle(path, headers.get("authorization", ""), body.decode())
            if delay:
                time.sleep(delay)
            return json_reply(status, payload, {"Retry-After": "1"} if status == 429 else None)

        self._serve(respond)
        return self

    def received_for(self, key: str) -> int:
        """How many send requests for our message ``key`` (``member_id.message_id``) reached the fake."""
        return sum(1 for p in self.received if parse_qs(urlsplit(p.get("StatusCallback", "")).query).get("ref") == [key])

    def fail_next(self, status: int, code: int, message: str, delay: float = 0.0) -> None:
        self.failures.append((status, {"code": code, "message": message, "more_info": "", "status": status}, delay))

    def handle(self, path: str, authorization: str, body: str) -> tuple[int, dict[str, Any], float]:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if path.split("?")[0] == f"/2010-04-01/Accounts/{self.account_sid}.json":  # fetch the account (a credentials check)
            if authorization != expected:
                return 401, {"code": 20003, "message": "Authenticate", "status": 401}, 0
            return 200, {"sid": self.account_sid, "status": "active", "friendly_name": "fake account"}, 0
        messages = f"/2010-04-01/Accounts/{self.account_sid}/Messages/"
        if path.startswith(messages) and path.endswith(".json"):  # fetch one message's resource
            return self._fetch(path[len(messages) : -len(".json")], authorization == expected)
        if path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}, 0
        if authorization != expected:
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}, 0
        self.received.append(dict(parse_qsl(body)))
        self.faults.play()  # a connection fault instead of an answer, when one is pending
        if self.failures:
            status, payload, delay = self.failures.popleft()
            if status == 200:  # accepted, but slow to answer
                return self._accept(dict(parse_qsl(body)), delay)
            return status, payload, delay
        return self._accept(dict(parse_qsl(body)), 0)

    def _accept(self, params: dict[str, str], delay: float) -> tuple[int, dict[str, Any], float]:
        to = params.get("To", "")
        if not to.startswith("+"):
            return 400, {"code": 21211, "message": f"The 'To' number {to} is not a valid phone number.", "status": 400}, 0
        if to.endswith("0099"):
            return 400, {"code": 21612, "message": "The 'To' phone number is not currently reachable via SMS.", "status": 400}, 0
        if to.endswith("0610"):
            return 400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}, 0
        sid = "SM" + secrets.token_hex(16)
        self.sent.append(Sent(sid, to, params.get("Body", ""), params))
        callback = params.get("StatusCallback")
        final = ("sent", "undelivered") if to.endswith("0013") else self.callback_statuses
        self.finals[sid] = final[-1] if final else "queued"
        if callback and not self.drop_callbacks:
            threading.Thread(target=self._callbacks, args=(callback, sid, to, params.get("From", ""), final), daemon=True).start()
        answer = {
            "sid": sid,
            "status": "queued",
            "to": to,
            "account_sid": self.account_sid,
            "error_code": None,
            "error_message": None,
        }
        return 201, answer, delay

    def _fetch(self, sid: str, authorized: bool) -> tuple[int, dict[str, Any], float]:
        self.fetched.append(sid)
        if not authorized:
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}, 0
        status = self.finals.get(sid)
        if status is None:
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}, 0
        failed = status == "undelivered"
        answer = {
            "sid": sid,
            "account_sid": self.account_sid,
            "status": status,
            "error_code": 30003 if failed else None,
            "error_message": "Unreachable destination handset" if failed else None,
            "price": self.price,
            "price_unit": "USD",
        }
        return 200, answer, 0

    def callback(self, url: str, sid: str, status: str, to: str = "+15550000000", error_code: str = "") -> requests.Response:
        """POST one status callback, signed as Twilio signs it."""
        from twilio.request_validator import RequestValidator

        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.account_sid,
            "To": to,
            "From": "+15005550006",
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            params["ErrorCode"] = error_code
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)

    def inbound(self, url: str, from_number: str, to_number: str, body: str) -> requests.Response:
        """POST one inbound SMS webhook (a new ``SM...`` sid), with Twilio's fields, signed as Twilio signs it."""
        from twilio.request_validator import RequestValidator

        sid = "SM" + secrets.token_hex(16)
        params = {
            "ToCountry": "US",
            "ToState": "CA",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "SAN FRANCISCO",
            "FromZip": "94105",
            "SmsSid": sid,
            "FromState": "CA",
            "SmsStatus": "received",
            "FromCity": "SAN FRANCISCO",
            "Body": body,
            "FromCountry": "US",
            "To": to_number,
            "MessagingServiceSid": "",
            "ToZip": "94105",
            "NumSegments": str(segments.count(body).segments),
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_number,
            "ApiVersion": "2010-04-01",
        }
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)

    def _callbacks(self, url: str, sid: str, to: str, sender: str, statuses: tuple[str, ...]) -> None:
        time.sleep(0.05)
        overrides = dict(parse_qsl(urlsplit(url).fragment))
        retries, policy = int(overrides.get("rc", "1")), set(overrides.get("rp", "ct").split(","))
        for status in statuses:
            for _ in range(1 + retries):
                try:
                    answer = self.callback(url, sid, status, to, "30003" if status == "undelivered" else "")
                except requests.RequestException:  # a real callback can be lost too
                    if policy & {"ct", "all"}:
                        continue
                    break
                kind = f"{answer.status_code // 100}xx"
                if answer.status_code < 400 or not policy & {kind, "all"}:
                    break
                self.retried += 1
