"""The HTTP edge shared by every API function: the API Gateway (HTTP API, payload 2.0) event read
through Powertools' event data class, request bodies decoded within bounds, and the one mapping from
what went wrong (domain errors, a portal's ``BitrixError``) to an HTTP status: ``http_status``.
Answers are JSON in Bitrix24's ``{error, error_description}`` shape.

API Gateway routes each path to its own function, so a function needs no router: ``http_function``
wraps one route's code, and ``lambda_handler`` is every HTTP function's handler (logged, traced);
``message_page`` is the one HTML page that tells a person something. (Powertools' resolver keeps the
current event in a class attribute shared by every resolver in the process, which is fine in Lambda but
not in the local stack, which runs all functions in one process and serves requests concurrently.)
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms.adapters import carriers, telemetry
from b24sms.adapters.bitrix import BitrixError
from b24sms.adapters.carriers import CallbackRequest, SignatureError, UnknownCarrier
from b24sms.adapters.config import get_settings
from b24sms.domain import errors
from b24sms.domain.formdata import DEFAULT_LIMITS, check_size, decode_form

logger = Logger(child=True)

# Most specific first: TooLarge is an Invalid.
_STATUS: tuple[tuple[type[errors.DomainError], int], ...] = (
    (errors.TooLarge, 413),
    (errors.Invalid, 400),
    (errors.NotAuthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.TryLater, 503),
)


def http_status(exc: Exception) -> int:
    """The HTTP status of an error: the domain's errors by kind (a ``FormError`` is an ``Invalid``,
    413 when too large), a portal's error 503 when worth retrying (busy, down) else 502, anything
    else 500."""
    if isinstance(exc, BitrixError):
        return 503 if exc.transient else 502
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


@dataclass
class HtmlPage:
    body: str
    status: int = 200


MESSAGE_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>{paragraphs}</body></html>
"""


def message_page(title: str, *paragraphs: str, status: int = 200, lang: str = "en") -> HtmlPage:
    """The one HTML page that tells a person looking something in a few sentences (escaped): what went
    wrong (the first paragraph is ``#message``), or that it worked."""
    first, rest = (paragraphs[0], paragraphs[1:]) if paragraphs else ("", ())
    text = f'<p id="message">{html.escape(first)}</p>' + "".join(f"<p>{html.escape(p)}</p>" for p in rest)
    body = MESSAGE_PAGE.format(lang=html.escape(lang[:2]), title=html.escape(title), paragraphs=text)
    return HtmlPage(body, status)


@dataclass
class XmlResponse:
    """A text answer a carrier expects (XML by default), e.g. the empty TwiML (``<Response/>``) Twilio
    expects from an SMS webhook, or SMS.ru's ``100``; or a text file to save (the page's CSV export)."""

    body: str
    status: int = 200
    content_type: str = "text/xml; charset=utf-8"
    filename: str = ""  # a file to save (Content-Disposition: attachment)

    def response(self) -> dict[str, Any]:
        headers = {"Content-Type": self.content_type}
        if self.filename:
            headers["Content-Disposition"] = f'attachment; filename="{self.filename}"'
        return {
            "statusCode": self.status,
            "headers": headers,
            "body": self.body,
            "isBase64Encoded": False,
        }


Handler = Callable[[APIGatewayProxyEventV2], "dict[str, Any] | HtmlPage | XmlResponse"]


def json_response(status: int, payload: Any) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload, ensure_ascii=False),
        "isBase64Encoded": False,
    }


def http_function(route: Handler) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Run one route: its dict answer becomes 200 JSON, an ``HtmlPage`` an HTML page, and errors JSON."""

    def lambda_entry(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            result = route(APIGatewayProxyEventV2(event))
        except errors.DomainError as exc:
            status = http_status(exc)
            # Descriptions can quote what the caller sent: logged truncated.
            if status >= 500:
                logger.error("request failed", extra={"error": exc.code, "description": exc.description[:200]})
            else:
                logger.info("request refused", extra={"status": status, "error": exc.code, "description": exc.description[:200]})
            return json_response(status, {"error": exc.code, "error_description": exc.description})
        except BitrixError as exc:
            logger.warning("portal call failed", extra={"error": exc.code, "method": exc.method})
            description = f"the portal answered {exc.method}: {exc.description or exc.code}"
            return json_response(http_status(exc), {"error": exc.code, "error_description": description})
        if isinstance(result, XmlResponse):
            return result.response()
        if isinstance(result, HtmlPage):
            return {
                "statusCode": result.status,
                "headers": {"Content-Type": "text/html; charset=utf-8"},
                "body": result.body,
                "isBase64Encoded": False,
            }
        return json_response(200, result)

    return lambda_entry


def lambda_handler(route: Handler, logger: Logger) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """An HTTP function's Lambda handler: ``route`` through ``http_function``, traced when tracing is on,
    logged with the Lambda context (state cleared per invocation). Each HTTP handler ends with it."""
    return logger.inject_lambda_context(telemetry.traced(http_function(route)), clear_state=True)


def headers_of(event: dict[str, Any]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}


def raw_body(event: dict[str, Any]) -> str:
    """The body as sent, bounded in size before anything reads it (``TooLarge`` when larger)."""
    body = str(event.get("body") or "")
    limit = DEFAULT_LIMITS.max_bytes
    if event.get("isBase64Encoded"):
        if len(body) > (limit + 2) // 3 * 4 + 4:  # base64 of the largest body we take, and some slack
            raise errors.TooLarge(f"body larger than {limit} bytes")
        try:
            body = base64.b64decode(body).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.Invalid("body is not valid base64 UTF-8") from exc
    check_size(body)
    return body


def form_body(event: dict[str, Any]) -> dict[str, Any]:
    """The request body as nested data; ``Invalid`` unless it is a non-empty form-encoded body."""
    headers = headers_of(event)
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type != "application/x-www-form-urlencoded":
        raise errors.Invalid(f"expected application/x-www-form-urlencoded, got {content_type[:80]}", "unsupported_media_type")
    body = raw_body(event)
    if not body.strip():
        raise errors.Invalid("empty body: expected a form-encoded body")
    form = decode_form(body)
    if not form:
        raise errors.Invalid("body holds no form fields")
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


def carrier_request(event: APIGatewayProxyEventV2) -> CallbackRequest:
    """A carrier's call to us, as its signature covers it: the exact public URL, headers, raw body, query."""
    return CallbackRequest(
        url=public_url(event.raw_event, get_settings().public_base_url),
        headers=headers_of(event.raw_event),
        body=raw_body(event.raw_event),
        query=event.query_string_parameters or {},
    )


def carrier_answer(name: str, route: str, default: dict[str, Any]) -> dict[str, Any] | XmlResponse:
    """What carrier ``name`` expects its ``route`` (``status`` or ``inbound``) to answer, as its spec
    declares it (Twilio's TwiML, SMS.ru's ``100``); else ``default``, our JSON."""
    spec = carriers.spec(name)
    answer = spec.status_answer if route == "status" else spec.inbound_answer
    return XmlResponse(answer[1], content_type=answer[0]) if answer else default


@contextmanager
def carrier_errors() -> Iterator[None]:
    """A carrier we have no settings for is 404 (why is logged, not told: an unauthenticated caller
    learns nothing of our configuration), a bad signature 403, a malformed call 400 (413 too large)."""
    try:
        yield
    except UnknownCarrier as exc:
        logger.warning("call for a carrier this deployment does not serve", extra={"detail": str(exc)[:300]})
        raise errors.NotFound("unknown carrier", "unknown_carrier") from exc
    except SignatureError as exc:
        raise errors.Forbidden(str(exc), "bad_signature") from exc
    except errors.DomainError:
        raise
    except ValueError as exc:
        raise errors.Invalid(str(exc)[:300]) from exc
