"""What every HTTP function shares: errors as JSON in Bitrix24's shape, and form body decoding."""

from __future__ import annotations

import base64
import json
from typing import Any

from b24sms.formdata import DEFAULT_LIMITS, FormError, check_size, decode_form


class HttpError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, description: str, code: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        if code:
            self.code = code

    def body(self) -> str:
        return json.dumps({"error": self.code, "error_description": self.description})


class BadRequest(HttpError):
    status = 400
    code = "bad_request"


class Unauthorized(HttpError):
    status = 401
    code = "unauthorized"


class Forbidden(HttpError):
    status = 403
    code = "forbidden"


class NotFound(HttpError):
    status = 404
    code = "not_found"


class Unavailable(HttpError):
    status = 503
    code = "unavailable"


class PayloadTooLarge(HttpError):
    status = 413
    code = "payload_too_large"


def bad_body(exc: FormError) -> HttpError:
    """The HTTP answer to a body outside the bounds of ``formdata``: 413 when too large, else 400."""
    return PayloadTooLarge(str(exc)) if exc.status == 413 else BadRequest(str(exc))


def raw_body(event: dict[str, Any]) -> str:
    """The body as sent, bounded in size before anything reads it (413 when larger)."""
    body = str(event.get("body") or "")
    limit = DEFAULT_LIMITS.max_bytes
    if event.get("isBase64Encoded"):
        if len(body) > (limit + 2) // 3 * 4 + 4:  # base64 of the largest body we take, and some slack
            raise PayloadTooLarge(f"body larger than {limit} bytes")
        try:
            body = base64.b64decode(body).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("body is not valid base64 UTF-8") from exc
    try:
        check_size(body)
    except FormError as exc:
        raise bad_body(exc) from exc
    return body


def form_body(event: dict[str, Any]) -> dict[str, Any]:
    """The request body as nested data; 400 unless it is a non-empty form-encoded body."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type != "application/x-www-form-urlencoded":
        raise BadRequest(f"expected application/x-www-form-urlencoded, got {content_type[:80]}", "unsupported_media_type")
    body = raw_body(event)
    if not body.strip():
        raise BadRequest("empty body: expected a form-encoded body")
    try:
        form = decode_form(body)
    except FormError as exc:
        raise bad_body(exc) from exc
    if not form:
        raise BadRequest("body holds no form fields")
    return form


def public_url(event: dict[str, Any], base_url: str) -> str:
    """The public URL the caller used: our public base URL plus the raw path and query (as signed
    by carriers). The stage prefix is part of the base URL, not of rawPath."""
    path = event.get("rawPath") or "/"
    stage = (event.get("requestContext") or {}).get("stage") or ""
    if stage and stage != "$default" and path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1 :]
    query = event.get("rawQueryString") or ""
    return f"{base_url}{path}" + (f"?{query}" if query else "")
