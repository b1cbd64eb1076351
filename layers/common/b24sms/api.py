"""The HTTP side shared by every API function: the API Gateway (HTTP API, payload 2.0) event read
through Powertools' event data class, and our errors turned into JSON answers in Bitrix24's
``{error, error_description}`` shape.

API Gateway routes each path to its own function, so a function needs no router: ``http_function``
wraps one route's code. (Powertools' resolver keeps the current event in a class attribute shared by
every resolver in the process, which is fine in Lambda but not in the local stack, which runs all
functions in one process and serves requests concurrently.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import http
from b24sms.bitrix import BitrixError
from b24sms.carriers import CallbackRequest, SignatureError, UnknownCarrier
from b24sms.config import get_settings
from b24sms.formdata import FormError
from b24sms.http import HttpError

logger = Logger(child=True)


@dataclass
class HtmlPage:
    body: str
    status: int = 200


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
            try:
                result = route(APIGatewayProxyEventV2(event))
            except FormError as exc:  # a body outside the bounds, wherever it was decoded
                raise http.bad_body(exc) from exc
        except HttpError as exc:
            # Descriptions can quote what the caller sent: logged truncated.
            if exc.status >= 500:
                logger.error("request failed", extra={"error": exc.code, "description": exc.description[:200]})
            else:
                logger.info(
                    "request refused", extra={"status": exc.status, "error": exc.code, "description": exc.description[:200]}
                )
            return json_response(exc.status, {"error": exc.code, "error_description": exc.description})
        except BitrixError as exc:
            logger.warning("portal call failed", extra={"error": exc.code, "method": exc.method})
            status = 503 if exc.transient else 502
            description = f"the portal answered {exc.method}: {exc.description or exc.code}"
            return json_response(status, {"error": exc.code, "error_description": description})
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


def headers_of(event: dict[str, Any]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}


def carrier_request(event: APIGatewayProxyEventV2) -> CallbackRequest:
    """A carrier's call to us, as its signature covers it: the exact public URL, headers, raw body, query."""
    return CallbackRequest(
        url=http.public_url(event.raw_event, get_settings().public_base_url),
        headers=headers_of(event.raw_event),
        body=http.raw_body(event.raw_event),
        query=event.query_string_parameters or {},
    )


@contextmanager
def carrier_errors() -> Iterator[None]:
    """A carrier we have no settings for is 404 (why is logged, not told: an unauthenticated caller
    learns nothing of our configuration), a bad signature 403, a malformed call 400 (413 too large)."""
    try:
        yield
    except UnknownCarrier as exc:
        logger.warning("call for a carrier this deployment does not serve", extra={"detail": str(exc)[:300]})
        raise http.NotFound("unknown carrier", "unknown_carrier") from exc
    except SignatureError as exc:
        raise http.Forbidden(str(exc), "bad_signature") from exc
    except FormError as exc:
        raise http.bad_body(exc) from exc
    except ValueError as exc:
        raise http.BadRequest(str(exc)[:300]) from exc


@dataclass
class XmlResponse:
    """An XML answer, e.g. the empty TwiML (``<Response/>``) Twilio expects from an SMS webhook."""

    body: str
    status: int = 200

    def response(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": "text/xml; charset=utf-8"},
            "body": self.body,
            "isBase64Encoded": False,
        }
