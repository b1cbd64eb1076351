"""The local stack's settings: what AWS reads from SSM, given local defaults, and what a user may set
in the environment of `make run`."""

from __future__ import annotations

from b24sms.adapters import carriers

# Local defaults for what AWS reads from SSM. Any of them can be overridden by the environment.
LOCAL_DEFAULTS = {
    "BITRIX_CLIENT_ID": "local.app",
    "BITRIX_CLIENT_SECRET": "local-client-secret",
    "SANDBOX_SECRET": "local-sandbox-secret",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "DISPATCH_BACKOFF_BASE": "1",
    "POWERTOOLS_METRICS_DISABLED": "true",  # EMF metrics are for CloudWatch; locally they are noise
    # The application page: its session key, framed by the local emulator, no BX24.js from the internet.
    "APP_SESSION_SECRET": "local-app-session-secret",
    "APP_FRAME_ANCESTORS": "'self' http://127.0.0.1:* http://localhost:*",
    "APP_BX24_JS": "",
}
# Settings a user may set in the environment of `make run`: the deployment's, and every carrier's
# (each carrier module declares its own: b24sms.adapters.carriers).
OVERRIDABLE = (
    "PUBLIC_BASE_URL",
    "BITRIX_CLIENT_ID",
    "BITRIX_CLIENT_SECRET",
    "BITRIX_OAUTH_URL",
    "CARRIER",
    "SENDER_CODE",
    "SENDER_NAME",
    "DISPATCH_MAX_ATTEMPTS",
    "DISPATCH_BACKOFF_BASE",
    "HTTP_TIMEOUT",
    "POWERTOOLS_LOG_LEVEL",
    "PORTAL_RATE",
    "PORTAL_BURST",
    "CARRIER_RATE",
    "FALLBACK_CARRIER",
    "CARRIER_ROUTES",
    "FAILOVER_THROTTLE_WAIT",
    "DISPATCH_LEASE_SECONDS",
    "UNKNOWN_OUTCOME_GRACE",
    "PUSH_RETRY_BASE",
    "SYNC_RETRY_BASE",
    "PUSH_RETRY_CAP",
    "DEFAULT_COUNTRY",
    "MAX_SEGMENTS",
    *carriers.settings(),
    "APP_SESSION_SECRET",
    "APP_FRAME_ANCESTORS",
    "APP_BX24_JS",
)
