"""What every HTTP function shares: errors as JSON in Bitrix24's shape, and form body decoding."""

from __future__ import annotations

import base64
import json
from typing import Any

from b24sms.formdata import FormError, decode_form


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


def raw_body(event: dict[str, Any]) -> str:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("body is not valid base64 UTF-8") from exc
    return str(body)


def form_body(event: dict[str, Any]) -> dict[str, Any]:
    """The request body as nested data; 400 unless it is a non-empty form-encoded body."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type != "application/x-www-form-urlencoded":
        raise BadRequest(f"expected application/x-www-form-urlencoded, got {content_type}", "unsupported_media_type")
    body = raw_body(event)
    if not body.strip():
        raise BadRequest("empty body: expected a form-encoded body")
    try:
        form = decode_form(body)
    except FormError as exc:
        raise BadRequest(str(exc)) from exc
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
