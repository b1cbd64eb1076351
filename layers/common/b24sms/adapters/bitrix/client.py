"""A small Bitrix24 REST client: ``POST {client_endpoint}{method}.json`` with PHP-style form bodies.

- every call has a timeout; network errors, 5xx and ``QUERY_LIMIT_EXCEEDED`` are retried a bounded
  number of times with exponential backoff and jitter;
- ``expired_token`` refreshes the portal's tokens once through the ``TokenStore`` (which makes sure
  only one concurrent caller spends the refresh token) and retries the call once;
- ``OPERATION_TIME_LIMIT`` waits for ``operating_reset_at`` when that is near, else raises
  ``OperationTimeLimit`` so the caller can defer the work;
- ``batch`` sends up to 50 commands and reports each command's error separately;
- an optional ``limiter`` (a shared token bucket) is asked before every request, so all functions
  together stay under the portal's rate limit.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from b24sms.adapters.bitrix.errors import (
    BitrixError,
    OperationTimeLimit,
    PortalUnavailable,
    RateLimited,
    TokenExpired,
)
from b24sms.domain.errors import Throttled
from b24sms.domain.formdata import encode_form
from b24sms.domain.models import Portal

if TYPE_CHECKING:
    import requests

BATCH_LIMIT = 50


class TokenStore(Protocol):
    def refresh(self, portal: Portal) -> Portal:
        """Return the portal with fresh tokens (refreshing them, or reading another caller's refresh)."""


@dataclass
class BatchResult:
    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, BitrixError] = field(default_factory=dict)


class BitrixClient:
    def __init__(
        self,
        portal: Portal,
        tokens: TokenStore | None = None,
        *,
        timeout: float | tuple[float, float] = 10.0,  # seconds, or (connect, read)
        max_retries: int = 4,
        backoff: float = 0.5,
        max_operating_wait: float = 5.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        limiter: Callable[[], None] | None = None,
    ) -> None:
        self.portal = portal
        self.tokens = tokens
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_operating_wait = max_operating_wait
        self.session = session or _shared_session()
        self.sleep = sleep
        self.limiter = limiter
        self.requests_made = 0

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call one method and return its ``result``; raise a ``BitrixError`` subclass on error."""
        return self._request(method, dict(params or {}))["result"]

    def batch(self, commands: Mapping[str, tuple[str, Mapping[str, Any]]], halt: bool = False) -> BatchResult:
        """Run up to 50 ``{key: (method, params)}`` commands in one ``batch`` call."""
        if not commands:
            return BatchResult()
        if len(commands) > BATCH_LIMIT:
            raise ValueError(f"a batch holds at most {BATCH_LIMIT} commands, got {len(commands)}")
        cmd = {key: f"{method}?{encode_form(dict(params))}" for key, (method, params) in commands.items()}
        payload = self._request("batch", {"halt": 1 if halt else 0, "cmd": cmd})
        outer = payload.get("result") or {}
        results = outer.get("result") or {}
        raw_errors = outer.get("result_error") or {}
        # PHP encodes an empty map as [], so either may be a list.
        results = results if isinstance(results, dict) else {}
        raw_errors = raw_errors if isinstance(raw_errors, dict) else {}
        errors = {key: _error_from(err, 200, commands[key][0] if key in commands else "batch") for key, err in raw_errors.items()}
        return BatchResult(results=results, errors=errors)

    # -- internals -------------------------------------------------------------------------
    def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        refreshed = False
        attempt = 0
        while True:
            try:
                return self._once(method, params)
            except RateLimited:
                raise  # our own budget is spent (or retries were): retrying here would only wait more
            except TokenExpired:
                if refreshed or self.tokens is None:
                    raise
                self.portal = self.tokens.refresh(self.portal)
                refreshed = True
            except OperationTimeLimit as exc:
                wait = exc.reset_at - time.time()
                if wait > self.max_operating_wait or attempt >= self.max_retries:
                    raise
                self.sleep(max(wait, 0.0) + 0.05)
                attempt += 1
            except BitrixError as exc:
                if not exc.transient or attempt >= self.max_retries:
                    if exc.code == "QUERY_LIMIT_EXCEEDED":
                        raise RateLimited(exc.code, exc.description, exc.http_status, method) from exc
                    raise
                self.sleep(self.backoff * (2**attempt) * random.uniform(0.5, 1.0))
                attempt += 1

    def _once(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.limiter is not None:
            try:
                self.limiter()
            except Throttled as exc:
                raise RateLimited("LOCAL_RATE_LIMIT", str(exc), 0, method) from exc
        url = f"{self.portal.client_endpoint}{method}.json"
        body = encode_form({**params, "auth": self.portal.access_token})
        self.requests_made += 1
        import requests  # cold start: ~80 ms, paid at a function's first portal call rather than at its import

        try:
            response = self.session.post(
                url,
                data=body.encode("utf-8"),
                headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise PortalUnavailable("NETWORK_ERROR", type(exc).__name__, 0, method) from exc
        try:
            payload = response.json()
        except ValueError:
            raise PortalUnavailable(
                "ERROR_UNEXPECTED_ANSWER", f"non-JSON answer, HTTP {response.status_code}", response.status_code, method
            ) from None
        if not isinstance(payload, dict):
            raise PortalUnavailable("ERROR_UNEXPECTED_ANSWER", "answer is not an object", response.status_code, method)
        if "error" in payload:
            raise _error_from(payload, response.status_code, method)
        if response.status_code >= 400:
            raise BitrixError("HTTP_ERROR", f"HTTP {response.status_code}", response.status_code, method)
        return payload


def _error_from(payload: Mapping[str, Any], http_status: int, method: str) -> BitrixError:
    code = str(payload.get("error") or "UNKNOWN_ERROR")
    description = str(payload.get("error_description") or "")
    if code == "expired_token":
        return TokenExpired(code, description, http_status, method)
    if code == "OPERATION_TIME_LIMIT":
        reset_at = 0.0
        timing = payload.get("time")
        if isinstance(timing, Mapping):
            try:
                reset_at = float(timing.get("operating_reset_at") or 0)
            except (TypeError, ValueError):
                reset_at = 0.0
        return OperationTimeLimit(code, description, http_status, method, reset_at or time.time() + 60)
    return BitrixError(code, description, http_status, method)


_SESSION: requests.Session | None = None


def _shared_session() -> requests.Session:
    """One pooled session per process: Lambda reuses it across warm invocations."""
    global _SESSION
    if _SESSION is None:
        import requests  # cold start: as in _once

        _SESSION = requests.Session()
    return _SESSION
