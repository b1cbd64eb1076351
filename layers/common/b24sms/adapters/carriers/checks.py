"""A carrier account's credentials checked against the carrier's own API before they are saved (the
application page's **Check**): each carrier declares its check in its ``SPEC`` (Twilio fetches the
account, Vonage and SMS.ru ask for the balance, AWS describes the origination identity). Nothing is
sent. ``CheckFailed.reason`` says what went wrong in a word the page turns into a sentence:
``unreachable``, ``bad_credentials``, ``no_account`` or ``aws_identity``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from b24sms.adapters.carriers import spec
from b24sms.adapters.carriers.base import CheckFailed
from b24sms.adapters.config import get_settings

__all__ = ["CheckFailed", "check", "http"]


def check(carrier: str, creds: Mapping[str, str], sender: str) -> None:
    """Ask carrier ``carrier`` about these credentials and sender; ``CheckFailed`` when it refuses."""
    spec(carrier).check(creds, sender)


def http(carrier: str, method: str, url: str, **kwargs: Any) -> Any:
    """One request of a check; its HTTP refusals as ``CheckFailed`` (401/403 ``bad_credentials``, 404
    ``no_account``, else ``unreachable``)."""
    import requests  # cold start: loaded when an admin checks credentials

    try:
        response = requests.request(method, url, timeout=get_settings().http_timeout, **kwargs)
    except requests.RequestException as exc:
        raise CheckFailed("unreachable", carrier) from exc
    if response.status_code in (401, 403):
        raise CheckFailed("bad_credentials", carrier)
    if response.status_code == 404:
        raise CheckFailed("no_account", carrier)
    if response.status_code >= 400:
        raise CheckFailed("unreachable", carrier)
    return response
