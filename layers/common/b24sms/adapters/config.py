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
    sync_queue_url: str
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
    sync_retry_base: float
    push_retry_cap: float
    default_country: str
    max_segments: int
    # Quiet hours' wake-ups (usecases/quiet.py): EventBridge Scheduler's group, the queue it sends a
    # portal's wake-up to (OutboundQueue) and the role it sends as; "": quiet hours hold nothing.
    quiet_schedule_group: str = ""
    quiet_wake_target_arn: str = ""
    quiet_wake_role_arn: str = ""

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
        sync_queue_url=os.environ.get("SYNC_QUEUE_URL", ""),  # only the sender sync's two functions have it
        bitrix_client_id=_env("BITRIX_CLIENT_ID"),
        bitrix_oauth_url=_env("BITRIX_OAUTH_URL", DEFAULT_OAUTH_URL).rstrip("/"),
        carrier=os.environ.get("CARRIER", ""),  # "": the first registered (carriers.default_name)
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
        sync_retry_base=float(_env("SYNC_RETRY_BASE", "60")),
        push_retry_cap=float(_env("PUSH_RETRY_CAP", "3600")),  # the longest wait between tries (tests shorten it)
        default_country=os.environ.get("DEFAULT_COUNTRY", "").upper(),  # for national numbers, e.g. RU
        max_segments=int(_env("MAX_SEGMENTS", "10")),
        quiet_schedule_group=os.environ.get("QUIET_SCHEDULE_GROUP", ""),
        quiet_wake_target_arn=os.environ.get("QUIET_WAKE_TARGET_ARN", ""),
        quiet_wake_role_arn=os.environ.get("QUIET_WAKE_ROLE_ARN", ""),
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
    return secret(name) if is_configured(name) else ""


def is_configured(name: str) -> bool:
    """Whether the secret or deployment value ``name`` is set (the value or its ``name_PARAM``; not read)."""
    return bool(os.environ.get(name) or os.environ.get(f"{name}_PARAM"))


# -- settings read when asked ----------------------------------------------------------------------
# Not cached in Settings: the local stack and the tests change them while functions stay imported.


def setting(name: str, default: str = "") -> str:
    """A deployment setting a module declares itself (a carrier's ``<ID>_API_BASE``, its default
    sender): the environment variable ``name``, else ``default``."""
    return os.environ.get(name, default)


def account_hold_max() -> int:
    """How long a message waits for its held carrier account before it fails (``ACCOUNT_HOLD_MAX``, s)."""
    return int(os.environ.get("ACCOUNT_HOLD_MAX") or 3600)


def account_probe_seconds() -> int:
    """How often one message tries a held carrier account again (``ACCOUNT_PROBE_SECONDS``)."""
    return int(os.environ.get("ACCOUNT_PROBE_SECONDS") or 60)


def account_recheck_seconds() -> int:
    """How often a message waiting for a held carrier account looks whether the hold ended
    (``ACCOUNT_RECHECK_SECONDS``; the page's **Check** ends it between probes)."""
    return int(os.environ.get("ACCOUNT_RECHECK_SECONDS") or 60)


def app_carriers(known: tuple[str, ...]) -> tuple[str, ...]:
    """The carriers the page offers (``APP_CARRIERS``, comma-separated), in ``known``'s order; all by default."""
    wanted = [c.strip() for c in os.environ.get("APP_CARRIERS", ",".join(known)).split(",")]
    return tuple(c for c in known if c in wanted)


def carrier_routes() -> str:
    """The deployment's routing table (``CARRIER_ROUTES``: ``+7=smsru, KZ=smsru, *=twilio``; "" none)."""
    return os.environ.get("CARRIER_ROUTES", "")


def fallback_carrier() -> str:
    """The deployment's fallback carrier (``FALLBACK_CARRIER``; "" none)."""
    return os.environ.get("FALLBACK_CARRIER", "").strip()


def failover_max_wait() -> float:
    """Seconds a carrier may make a message wait by throttling before it fails over (``FAILOVER_THROTTLE_WAIT``)."""
    return float(os.environ.get("FAILOVER_THROTTLE_WAIT") or "60")


def tracing_enabled() -> bool:
    """X-Ray tracing is on only when the template's ``Tracing`` parameter turned it on (it sets
    ``POWERTOOLS_TRACE_DISABLED`` to ``false``); off everywhere else, the local stack included."""
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").strip().lower() in ("false", "0")


def carrier_secrets_prefix() -> str:
    """Where per-portal credentials live in Secrets Manager (``CARRIER_SECRETS_PREFIX``)."""
    return os.environ.get("CARRIER_SECRETS_PREFIX") or "b24sms/local/"


def sandbox_send_delay() -> float:
    """Seconds the sandbox carrier waits per send (``SANDBOX_SEND_DELAY_MS``; the bench sets it)."""
    return float(os.environ.get("SANDBOX_SEND_DELAY_MS", "0")) / 1000


def recover_after() -> int:
    """Seconds a message may wait to be sent before the recovery sweep queues it again (``RECOVER_AFTER``)."""
    return int(os.environ.get("RECOVER_AFTER", "1200"))


def push_recover_after() -> int:
    """Seconds a stored status may wait unpushed before the sweep queues its push again (``PUSH_RECOVER_AFTER``)."""
    return int(os.environ.get("PUSH_RECOVER_AFTER", "300"))


def push_linger() -> float:
    """Seconds a portal just pushed gets only full batches of 50 (``PUSH_LINGER``, default 2): the
    status push's coalescing in a campaign (usecases/push.py). An idle portal is never held by it."""
    return float(os.environ.get("PUSH_LINGER", "2"))


def push_linger_max() -> float:
    """Seconds a portal's linger grows to while its statuses keep coming (``PUSH_LINGER_MAX``, default 8):
    each push within twice the linger doubles it, a pause brings it back (domain/linger.py)."""
    return float(os.environ.get("PUSH_LINGER_MAX", "8"))


def handler_portal_cache() -> float:
    """Seconds a warm HANDLER function keeps an authenticated portal (``HANDLER_PORTAL_CACHE``, default
    5; 0 reads it on every call): an uninstall is refused within that time, a rotated secret at once."""
    return float(os.environ.get("HANDLER_PORTAL_CACHE") or "5")


def reconcile_after() -> int:
    """Seconds after which every carrier's non-final messages are asked about (``RECONCILE_AFTER``);
    0 (the default): each carrier's own ``SPEC.delivery_time``."""
    return int(os.environ.get("RECONCILE_AFTER") or "0")


def reconcile_give_up_after() -> int:
    """Seconds after its creation a message nobody can give a final status ends ``undelivered``
    (``RECONCILE_GIVE_UP_AFTER``, 72 h: carriers' own receipts stop coming by then)."""
    return int(os.environ.get("RECONCILE_GIVE_UP_AFTER") or "259200")


def reconcile_queue_url() -> str:
    """The reconciler's queue (``RECONCILE_QUEUE_URL``): one message per carrier account per sweep."""
    return os.environ.get("RECONCILE_QUEUE_URL", "")


def frame_ancestors(default: str) -> str:
    """Who may frame the application's page (``APP_FRAME_ANCESTORS``; ``default`` when unset or empty)."""
    return os.environ.get("APP_FRAME_ANCESTORS") or default


def bx24_js(default: str) -> str:
    """The BX24 library's URL for the page (``APP_BX24_JS``; "" locally: no script from outside)."""
    return os.environ.get("APP_BX24_JS", default)


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
