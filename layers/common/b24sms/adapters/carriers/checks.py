"""A carrier account's credentials checked against the carrier's own API before they are saved (the
application page's **Check**): Twilio fetches the account, Vonage asks for the balance, AWS describes
the origination identity. Nothing is sent. ``CheckFailed.reason`` says what went wrong in a word the
page turns into a sentence: ``unreachable``, ``bad_credentials``, ``no_account`` or ``aws_identity``."""

from __future__ import annotations

import os
from typing import Any

from b24sms.adapters.carriers.twilio import DEFAULT_API as TWILIO_API
from b24sms.adapters.carriers.vonage import DEFAULT_API as VONAGE_API
from b24sms.adapters.config import get_settings


class CheckFailed(Exception):
    def __init__(self, reason: str, carrier: str) -> None:
        super().__init__(f"{carrier}: {reason}")
        self.reason = reason
        self.carrier = carrier


def _http(carrier: str, method: str, url: str, **kwargs: Any) -> Any:
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


def twilio(account_sid: str, auth_token: str) -> None:
    base = os.environ.get("TWILIO_API_BASE", TWILIO_API).rstrip("/")
    _http("Twilio", "GET", f"{base}/2010-04-01/Accounts/{account_sid}.json", auth=(account_sid, auth_token))


def vonage(api_key: str, api_secret: str) -> None:
    base = os.environ.get("VONAGE_API_BASE", VONAGE_API).rstrip("/")
    response = _http("Vonage", "GET", f"{base}/account/get-balance", params={"api_key": api_key, "api_secret": api_secret})
    try:
        response.json()["value"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckFailed("bad_credentials", "Vonage") from exc


def aws(identity: str) -> None:
    import boto3  # cold start: loaded when an admin checks an AWS origination identity

    client = boto3.client("pinpoint-sms-voice-v2")
    try:
        if identity.startswith("pool-") or ":pool/" in identity:
            client.describe_pools(PoolIds=[identity])
        elif identity.startswith("+") or identity.startswith("phone-") or ":phone-number/" in identity:
            client.describe_phone_numbers(PhoneNumberIds=[identity])
        else:
            client.describe_sender_ids(SenderIds=[{"SenderId": identity, "IsoCountryCode": "US"}])
    except Exception as exc:
        raise CheckFailed("aws_identity", "AWS") from exc
