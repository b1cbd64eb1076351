"""What went wrong, in the domain's words. Domain and use-case code raise these; only ``b24sms.api``
(the HTTP edge) turns them into HTTP statuses (``api.http_status``), and a queue- or SNS-triggered
function decides for itself whether to retry. ``code`` is the ``error`` field of a JSON answer."""

from __future__ import annotations


class DomainError(Exception):
    code = "internal_error"

    def __init__(self, description: str, code: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        if code:
            self.code = code


class Invalid(DomainError):
    """The request is malformed or outside the bounds: nothing is written."""

    code = "bad_request"


class TooLarge(Invalid):
    """The request (its body) is larger than we take."""

    code = "payload_too_large"


class NotAuthenticated(DomainError):
    """The caller did not prove who they are (a HANDLER URL without its key, a wrong key)."""

    code = "unauthorized"


class Forbidden(DomainError):
    """The caller is known not to be allowed (a wrong application_token, a bad signature)."""

    code = "forbidden"


class NotFound(DomainError):
    """What the request names does not exist here (an unknown carrier, a line not connected)."""

    code = "not_found"


class TryLater(DomainError):
    """Busy right now (another call holds the work): the caller should try again."""

    code = "unavailable"


class Throttled(Exception):
    """A shared rate limit (a token bucket) has no token within the caller's wait."""

    def __init__(self, key: str, retry_after: float) -> None:
        super().__init__(f"rate limit of {key}: next token in {retry_after:.1f}s")
        self.key = key
        self.retry_after = retry_after
