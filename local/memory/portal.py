"""Bitrix24 portals as the push sees them over HTTP: each with its own bucket (Bitrix24's leaky bucket:
2 requests/s, burst 50; a request over it is answered ``QUERY_LIMIT_EXCEEDED``), a time per REST call,
and a fault mode: ``slow`` (``delay`` seconds a call), ``down`` between ``down_from`` and ``down_until``
(connection refused). The REAL ``BitrixClient`` talks to them through ``SimSession`` (its ``session``),
so the client's own request, batch and error handling run as deployed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import requests

from local.memory.clock import SimClock


class Bucket:
    """Bitrix24's per-portal limit: ``burst`` requests at once, refilled at ``rate`` a second."""

    def __init__(self, clock: SimClock, rate: float = 2.0, burst: float = 50.0) -> None:
        self.clock, self.rate, self.burst = clock, rate, burst
        self.tokens, self.at = burst, clock.monotonic()

    def take(self) -> bool:
        now = self.clock.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class SimPortal:
    member_id: str
    bucket: Bucket
    call_seconds: float = 0.1
    mode: str = "ok"  # ok | slow | down
    delay: float = 1.0  # slow: seconds a call
    down_from: float = 0.0
    down_until: float = 0.0
    requests: int = 0
    query_limit_exceeded: int = 0
    refused: int = 0
    timeouts: int = 0
    # Calls that reached the portal earlier in simulated time than one before them. Invocations run
    # whole, each on its own clock (local/memory/clock.py), so this counts what the simulation cannot
    # judge truly: the bucket's verdict assumes calls arrive in time order. It must stay 0.
    out_of_order: int = 0
    last_call_at: float = 0.0
    seen: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # message id -> (status, at)

    def is_down(self, now: float) -> bool:
        return self.mode == "down" and self.down_from <= now < self.down_until


def _commands(body: bytes) -> dict[str, dict[str, str]]:
    """A batch's commands by their key (``cmd[<key>]``), or a single call's params under ""."""
    form = parse_qs(body.decode(), keep_blank_values=True)
    out: dict[str, dict[str, str]] = {}
    for key, [value, *_] in form.items():
        if key.startswith("cmd[") and key.endswith("]"):
            query = value.split("?", 1)[1] if "?" in value else ""
            out[key[4:-1]] = {k: v[0] for k, v in parse_qs(query).items()}
    return out if out else {"": {k: v[0] for k, v in form.items()}}


class _Response:
    def __init__(self, status_code: int, payload: dict[str, Any]) -> None:
        self.status_code, self._payload = status_code, payload

    def json(self) -> dict[str, Any]:
        return self._payload


class SimSession:
    """``requests.Session.post`` for one portal, on the simulated clock."""

    def __init__(self, portal: SimPortal, clock: SimClock) -> None:
        self.portal, self.clock = portal, clock

    def post(self, url: str, data: bytes, headers: dict[str, str], timeout: Any) -> _Response:
        portal = self.portal
        portal.requests += 1
        _, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        if portal.is_down(self.clock.monotonic()):
            portal.refused += 1
            raise requests.ConnectionError("connection refused")
        took = portal.delay if portal.mode == "slow" else portal.call_seconds
        if took > read:
            self.clock.sleep(read)
            portal.timeouts += 1
            raise requests.ReadTimeout("read timed out")
        self.clock.sleep(took)
        arrived = self.clock.monotonic()
        if arrived < portal.last_call_at:
            portal.out_of_order += 1
        portal.last_call_at = max(portal.last_call_at, arrived)
        if not portal.bucket.take():
            portal.query_limit_exceeded += 1
            return _Response(503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"})
        commands = _commands(data)
        now = self.clock.monotonic()
        for params in commands.values():
            if "MESSAGE_ID" in params:
                portal.seen.setdefault(params["MESSAGE_ID"], []).append((params.get("STATUS", ""), now))
        if url.endswith("/batch.json"):
            return _Response(200, {"result": {"result": {key: True for key in commands}, "result_error": []}})
        return _Response(200, {"result": True})
