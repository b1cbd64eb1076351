"""A portal's REST client with its tokens kept fresh: ``client_for(portal)``.

``StoredTokens`` is the token store the client refreshes through. Only one caller spends a refresh
token: it takes a lock on the stored token version with a conditional write, refreshes, and writes the
new pair as the next version. Everyone else who hit ``expired_token`` meanwhile waits for that version
and re-reads the new access token.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from b24sms.adapters import store
from b24sms.adapters.bitrix.errors import BitrixError, PortalUnavailable
from b24sms.adapters.config import get_settings
from b24sms.adapters.store.limits import TokenBucket
from b24sms.domain.models import Portal

if TYPE_CHECKING:
    from b24sms.adapters.bitrix.client import BitrixClient

logger = Logger(child=True)

REFRESH_LOCK_SECONDS = 30
REFRESH_WAIT_SECONDS = 20.0


def spend_refresh_token(refresh_token: str) -> dict[str, Any]:
    """A new token pair from the OAuth server we trust, with our client credentials."""
    from b24sms.adapters.bitrix import oauth  # cold start: the OAuth module, loaded only by functions that refresh tokens

    settings = get_settings()
    return oauth.refresh(
        settings.bitrix_oauth_url, settings.bitrix_client_id, settings.bitrix_client_secret, refresh_token, settings.http_timeout
    )


class StoredTokens:
    """The token store the REST client refreshes through (see the module's docstring)."""

    def __init__(self, wait_seconds: float = REFRESH_WAIT_SECONDS) -> None:
        self.wait_seconds = wait_seconds

    def refresh(self, portal: Portal) -> Portal:
        version = portal.token_version
        if store.portals.try_lock_refresh(portal.member_id, version, REFRESH_LOCK_SECONDS):
            try:
                tokens = spend_refresh_token(portal.refresh_token)
            except Exception:
                store.portals.release_refresh_lock(portal.member_id)
                raise
            if store.portals.save_refreshed_tokens(portal.member_id, version, tokens):
                logger.info("tokens refreshed", extra={"member_id": portal.member_id, "token_version": version + 1})
                portal.access_token = tokens["access_token"]
                portal.refresh_token = tokens["refresh_token"]
                portal.expires_at = tokens["expires_at"]
                portal.token_version = version + 1
                return portal
        deadline = time.monotonic() + self.wait_seconds
        while True:
            current = store.portals.get_portal(portal.member_id)
            if current is None or not current.installed:
                raise BitrixError("PORTAL_UNINSTALLED", "the portal uninstalled the application", 0, "oauth")
            if current.token_version > version:
                return current
            if time.monotonic() > deadline:
                raise PortalUnavailable("TOKEN_REFRESH_TIMEOUT", "another refresh did not finish in time", 0, "oauth")
            time.sleep(0.1)


def client_for(portal: Portal, max_wait: float = 10.0, *, fail_fast: bool = False) -> BitrixClient:
    """A REST client for the portal, paced by the portal's shared token bucket. ``fail_fast`` (the
    status push): no sleeping retries (busy, 5xx, network, OPERATION_TIME_LIMIT): the first error is
    raised, so the caller defers the work instead of holding a Lambda shared with other portals."""
    from b24sms.adapters.bitrix.client import (
        BitrixClient,
    )  # cold start: the REST client module (requests itself waits for its first call)

    settings = get_settings()
    bucket = TokenBucket(f"portal#{portal.member_id}", settings.portal_rate, settings.portal_burst, max_wait=max_wait)
    if fail_fast:
        return BitrixClient(
            portal, StoredTokens(), timeout=settings.http_timeout, max_retries=0, max_operating_wait=0.0, limiter=bucket.acquire
        )
    return BitrixClient(portal, StoredTokens(), timeout=settings.http_timeout, limiter=bucket.acquire)
