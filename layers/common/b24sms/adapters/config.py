"""Settings of a deployment, read from the environment.

Secrets come from the environment locally (``BITRIX_CLIENT_SECRET``) and from SSM Parameter Store in
AWS: when only ``<NAME>_PARAM`` is set, the value is read (decrypted, cached five minutes) through
Powertools parameters. The template passes parameter *names*, never the secrets themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_OAUTH_URL = "https://oauth.bitrix.info"


@dataclass(frozen=True)
class Settings:
    portals_table: str
    messages_table: str
    limits_table: str
    chats_table: str
    outbound_queue_url: str
    status_queue_url: str
    bitrix_client_id: str
    bitrix_oauth_url: str
    carrier: str
    sender_code: str
    sender_name: str
    http_timeout: float
    dispatch_max_attempts: int
    dispatch_backoff_base: float
    message_ttl_days: int
    portal_rate: float
    portal_burst: float
    carrier_rate: float
    dispatch_lease_seconds: int
    unknown_outcome_grace: int
    push_retry_base: float
    push_retry_cap: float
    default_country: str
    max_segments: int

    @property
    def public_base_url(self) -> str:
        """Where the portal and carriers reach us. In AWS an SSM parameter (the template writes the
        API's URL, or your custom domain, there): changing it needs no redeploy."""
        return secret("PUBLIC_BASE_URL").rstrip("/")

    @property
    def bitrix_client_secret(self) -> str:
        return secret("BITRIX_CLIENT_SECRET")

    def carrier_secret(self, carrier: str) -> str:
        return secret(f"{carrier.upper()}_SECRET")


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        if default is not None:
            return default
        raise RuntimeError(f"missing configuration: environment variable {name} is not set")
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings(
        portals_table=_env("PORTALS_TABLE"),
        messages_table=_env("MESSAGES_TABLE"),
        limits_table=_env("LIMITS_TABLE"),
        chats_table=os.environ.get("CHATS_TABLE", ""),
        outbound_queue_url=_env("OUTBOUND_QUEUE_URL"),
        status_queue_url=_env("STATUS_QUEUE_URL"),
        bitrix_client_id=_env("BITRIX_CLIENT_ID"),
        bitrix_oauth_url=_env("BITRIX_OAUTH_URL", DEFAULT_OAUTH_URL).rstrip("/"),
        carrier=_env("CARRIER", "sandbox"),
        sender_code=_env("SENDER_CODE", "b24sms"),
        sender_name=_env("SENDER_NAME", "SMS gateway"),
        http_timeout=float(_env("HTTP_TIMEOUT", "10")),
        dispatch_max_attempts=int(_env("DISPATCH_MAX_ATTEMPTS", "5")),
        dispatch_backoff_base=float(_env("DISPATCH_BACKOFF_BASE", "10")),
        message_ttl_days=int(_env("MESSAGE_TTL_DAYS", "90")),
        # Bitrix24 allows 2 req/s with a burst of 50 per portal; leave room for the portal's other apps.
        portal_rate=float(_env("PORTAL_RATE", "2")),
        portal_burst=float(_env("PORTAL_BURST", "40")),
        carrier_rate=float(_env("CARRIER_RATE", "0")),  # sends/s across all functions; 0: no limit
        dispatch_lease_seconds=int(_env("DISPATCH_LEASE_SECONDS", "60")),
        unknown_outcome_grace=int(_env("UNKNOWN_OUTCOME_GRACE", "900")),
        push_retry_base=float(_env("PUSH_RETRY_BASE", "5")),
        push_retry_cap=float(_env("PUSH_RETRY_CAP", "3600")),  # the longest wait between tries (tests shorten it)
        default_country=os.environ.get("DEFAULT_COUNTRY", "").upper(),  # for national numbers, e.g. RU
        max_segments=int(_env("MAX_SEGMENTS", "10")),
    )


def secret(name: str) -> str:
    """A secret or deployment value: the environment variable ``name`` if set, else the SSM parameter named by ``name_PARAM``."""
    value = os.environ.get(name)
    if value:
        return value
    param = os.environ.get(f"{name}_PARAM")
    if not param:
        raise RuntimeError(f"missing configuration: set {name} or {name}_PARAM")
    from aws_lambda_powertools.utilities import parameters  # cold start: only AWS deployments need it

    return str(parameters.get_parameter(param, decrypt=True, max_age=300))


def optional_secret(name: str) -> str:
    """Like :func:`secret`, but "" when neither ``name`` nor ``name_PARAM`` is set."""
    if not os.environ.get(name) and not os.environ.get(f"{name}_PARAM"):
        return ""
    return secret(name)


def secret_json(reference: str) -> dict[str, str]:
    """A JSON secret in Secrets Manager (name or ARN), cached five minutes: a portal's carrier
    credentials. A rotated secret is picked up within that time, with no redeploy."""
    from aws_lambda_powertools.utilities import parameters  # cold start: only portals with own credentials

    value = parameters.get_secret(reference, transform="json", max_age=300)
    if not isinstance(value, dict):
        raise ValueError(f"secret {reference!r} is not a JSON object")
    return {str(k): str(v) for k, v in value.items()}


_generation = 0


def settings_generation() -> int:
    """Changes whenever settings are reset: caches of what the settings imply can tell they are stale."""
    return _generation


def reset_settings() -> None:
    """Forget cached settings (tests and the local runner change the environment)."""
    global _generation
    _generation += 1
    get_settings.cache_clear()
