"""What every file of events/ shares: the fixed time and host, and an API Gateway event for a route of
template.yaml (local/event_files.py writes the files)."""

from __future__ import annotations

from typing import Any

from local.lambda_events import http_event
from local.template import Template

TS = 1763798400  # fixed, so the files are reproducible
HOST = "abc123.execute-api.us-east-1.amazonaws.com"
FORM = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Bitrix24 Webhook Engine"}
DOMAIN = "example.bitrix24.com"
CLIENT_ENDPOINT = f"https://{DOMAIN}/rest/"


def http(
    template: Template, path: str, body: str, query: str = "", headers: dict[str, str] | None = None, method: str = "POST"
) -> dict[str, Any]:
    for route in template.routes():
        match = route.pattern.match(path)
        if match and route.method == method:
            event = http_event(
                route,
                method,
                path,
                query,
                {k.lower(): v for k, v in (headers or FORM).items()},
                body.encode(),
                match.groupdict(),
                "203.0.113.10",
                HOST,
                443,
                now=TS,
                request_id="demo",
            )
            event["requestContext"]["domainName"] = HOST
            return event
    raise KeyError(path)
