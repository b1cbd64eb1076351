"""Typed errors of the Bitrix24 REST API, carrying the portal's own code and description."""

from __future__ import annotations

# Errors worth retrying later: the portal is busy, down or throttling us.
TRANSIENT_CODES = frozenset(
    {
        "QUERY_LIMIT_EXCEEDED",
        "OVERLOAD_LIMIT",
        "INTERNAL_SERVER_ERROR",
        "ERROR_UNEXPECTED_ANSWER",
        "OPERATION_TIME_LIMIT",
    }
)


class BitrixError(Exception):
    """An error answered by a portal (or the OAuth server): ``code`` is Bitrix24's error code."""

    def __init__(self, code: str, description: str = "", http_status: int = 0, method: str = "") -> None:
        super().__init__(f"{method or 'bitrix'}: {code}: {description}".rstrip(": "))
        self.code = code
        self.description = description
        self.http_status = http_status
        self.method = method

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES or self.http_status >= 500


class TokenExpired(BitrixError):
    """``expired_token``: the access token must be refreshed."""


class RateLimited(BitrixError):
    """``QUERY_LIMIT_EXCEEDED`` after the client's own bounded retries."""


class OperationTimeLimit(BitrixError):
    """``OPERATION_TIME_LIMIT``: the method is blocked until ``reset_at`` (unix time)."""

    def __init__(self, code: str, description: str, http_status: int, method: str, reset_at: float) -> None:
        super().__init__(code, description, http_status, method)
        self.reset_at = reset_at


class PortalUnavailable(BitrixError):
    """The portal (or the OAuth server) could not be reached, or answered something unreadable."""

    @property
    def transient(self) -> bool:
        return True


class TokenRefreshFailed(BitrixError):
    """The OAuth server refused the refresh (``invalid_grant``: the app must be re-installed)."""
