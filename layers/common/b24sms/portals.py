"""Portals: install, uninstall, authenticating their calls, and keeping their tokens fresh."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from b24sms import storage
from b24sms.bitrix import BitrixError, PortalUnavailable
from b24sms.config import get_settings
from b24sms.http import BadRequest, Forbidden
from b24sms.models import INSTALLED, Portal
from b24sms.ratelimit import TokenBucket

if TYPE_CHECKING:
    from b24sms.bitrix.client import BitrixClient

logger = Logger(child=True)

REFRESH_LOCK_SECONDS = 30
REFRESH_WAIT_SECONDS = 20.0


@dataclass
class InstallRequest:
    member_id: str
    refresh_token: str
    application_token: str
    domain: str = ""
    lang: str = "en"
    source: str = "page"  # "page" (install page POST) or "event" (ONAPPINSTALL)


MAX_FIELD = 512  # member_id (32 hex), tokens (tens of characters)
MAX_DOMAIN = 253  # a DNS name


def parse_install(form: dict[str, Any], query: dict[str, str]) -> InstallRequest:
    """Read either the install page POST or an ONAPPINSTALL event; 400 if neither is complete."""
    if str(form.get("event", "")).upper() == "ONAPPINSTALL" or isinstance(form.get("auth"), dict):
        auth = form.get("auth")
        if not isinstance(auth, dict):
            raise BadRequest("ONAPPINSTALL without an auth block")
        fields = {
            "member_id": auth.get("member_id"),
            "refresh_token": auth.get("refresh_token"),
            "application_token": auth.get("application_token"),
        }
        source, domain = "event", str(auth.get("domain") or "")
        lang = "en"
    else:
        fields = {
            "member_id": form.get("member_id"),
            "refresh_token": form.get("REFRESH_ID"),
            "application_token": form.get("APPLICATION_TOKEN"),
        }
        source, domain = "page", str(query.get("DOMAIN") or "")
        lang = str(query.get("LANG") or "en")
    missing = sorted(name for name, value in fields.items() if not isinstance(value, str) or not value)
    if missing:
        raise BadRequest(f"install request is missing: {', '.join(missing)}")
    too_long = sorted(name for name, value in fields.items() if len(str(value)) > MAX_FIELD)
    if too_long or len(domain) > MAX_DOMAIN:
        raise BadRequest(f"install request has over-long fields: {', '.join(too_long or ['domain'])}")
    return InstallRequest(
        member_id=str(fields["member_id"]),
        refresh_token=str(fields["refresh_token"]),
        application_token=str(fields["application_token"]),
        domain=domain,
        lang=lang[:8],
        source=source,
    )


def install(request: InstallRequest) -> Portal:
    """Store the portal and register our SMS provider on it.

    The request is proven genuine by spending its refresh token at the OAuth server we trust (with
    our client secret): the answer names the portal, and must name the same member_id. A forged
    install with someone else's member_id or a made-up client_endpoint gets nowhere.
    """
    from b24sms import openlines, senders  # they need portals.client_for: import here, not at module load

    try:
        tokens = spend_refresh_token(request.refresh_token)
    except PortalUnavailable:
        raise
    except BitrixError as exc:
        logger.warning("install refused by the OAuth server", extra={"member_id": request.member_id, "error": exc.code})
        raise Forbidden(f"install not confirmed by the OAuth server: {exc.code}") from exc
    if not hmac.compare_digest(tokens["member_id"], request.member_id) or not tokens["client_endpoint"]:
        raise Forbidden("install not confirmed: the OAuth server names another portal")

    existing = storage.get_portal(request.member_id)
    keep_secret = existing is not None and existing.installed and existing.handler_secret
    now = storage.now()
    portal = Portal(
        member_id=request.member_id,
        client_endpoint=tokens["client_endpoint"],
        domain=tokens["domain"] or request.domain,
        server_endpoint=tokens["server_endpoint"],
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        expires_at=tokens["expires_at"],
        token_version=(existing.token_version + 1) if existing else 1,
        application_token=request.application_token,
        handler_secret=existing.handler_secret if keep_secret and existing else secrets.token_urlsafe(32),
        status=INSTALLED,
        scope=tokens["scope"],
        lang=request.lang,
        installed_at=existing.installed_at if keep_secret and existing else now,
        updated_at=now,
        carrier_config=existing.carrier_config if existing else {},  # set by an operator: survives re-installs
        openlines=existing.openlines if existing else {},
        senders=existing.senders if existing else {},  # added on the application's page
    )
    storage.put_portal(portal)
    client = client_for(portal)
    action = senders.register(client, portal)
    senders.bind_events(client)
    try:
        openlines.register(client, portal)
    except BitrixError as exc:  # SMS works without the Open Lines channel: install anyway, say why
        logger.warning("Open Lines connector not registered", extra={"member_id": portal.member_id, "error": exc.code})
    logger.info("portal installed", extra={"member_id": portal.member_id, "sender": action, "source": request.source})
    return portal


def spend_refresh_token(refresh_token: str) -> dict[str, Any]:
    """A new token pair from the OAuth server we trust, with our client credentials."""
    from b24sms.bitrix import oauth  # imports requests: only functions that talk to Bitrix24 pay

    settings = get_settings()
    return oauth.refresh(
        settings.bitrix_oauth_url, settings.bitrix_client_id, settings.bitrix_client_secret, refresh_token, settings.http_timeout
    )


def authenticate_event(form: dict[str, Any]) -> Portal:
    """An application event is genuine only if it carries the application_token stored at install."""
    auth = form.get("auth")
    if not isinstance(auth, dict):
        raise Forbidden("event without an auth block")
    member_id = str(auth.get("member_id") or "")
    token = str(auth.get("application_token") or "")
    portal = storage.get_portal(member_id) if member_id else None
    expected = portal.application_token if portal and portal.installed else ""
    # Compare even when there is nothing to compare with, so timing does not tell portals apart.
    if not hmac.compare_digest(token.encode(), (expected or secrets.token_hex(16)).encode()) or not expected or not portal:
        raise Forbidden("unknown portal or wrong application_token")
    return portal


def uninstall(portal: Portal, clean: bool) -> int:
    """Lock the portal out (tokens and secrets erased); with ``clean`` also erase its messages."""
    storage.mark_uninstalled(portal.member_id)
    deleted = storage.delete_portal_messages(portal.member_id) if clean else 0
    logger.info("portal uninstalled", extra={"member_id": portal.member_id, "clean": clean, "messages_deleted": deleted})
    return deleted


class StoredTokens:
    """The token store the REST client refreshes through.

    Only one caller spends a refresh token: it takes a lock on the stored token version with a
    conditional write, refreshes, and writes the new pair as the next version. Everyone else who
    hit ``expired_token`` meanwhile waits for that version and re-reads the new access token.
    """

    def __init__(self, wait_seconds: float = REFRESH_WAIT_SECONDS) -> None:
        self.wait_seconds = wait_seconds

    def refresh(self, portal: Portal) -> Portal:
        version = portal.token_version
        if storage.try_lock_refresh(portal.member_id, version, REFRESH_LOCK_SECONDS):
            try:
                tokens = spend_refresh_token(portal.refresh_token)
            except Exception:
                storage.release_refresh_lock(portal.member_id)
                raise
            if storage.save_refreshed_tokens(portal.member_id, version, tokens):
                logger.info("tokens refreshed", extra={"member_id": portal.member_id, "token_version": version + 1})
                portal.access_token = tokens["access_token"]
                portal.refresh_token = tokens["refresh_token"]
                portal.expires_at = tokens["expires_at"]
                portal.token_version = version + 1
                return portal
        deadline = time.monotonic() + self.wait_seconds
        while True:
            current = storage.get_portal(portal.member_id)
            if current is None or not current.installed:
                raise BitrixError("PORTAL_UNINSTALLED", "the portal uninstalled the application", 0, "oauth")
            if current.token_version > version:
                return current
            if time.monotonic() > deadline:
                raise PortalUnavailable("TOKEN_REFRESH_TIMEOUT", "another refresh did not finish in time", 0, "oauth")
            time.sleep(0.1)


def client_for(portal: Portal, max_wait: float = 10.0) -> BitrixClient:
    """A REST client for the portal, paced by the portal's shared token bucket."""
    from b24sms.bitrix.client import BitrixClient  # imports requests: only functions that call portals pay

    settings = get_settings()
    bucket = TokenBucket(f"portal#{portal.member_id}", settings.portal_rate, settings.portal_burst, max_wait=max_wait)
    return BitrixClient(portal, StoredTokens(), timeout=settings.http_timeout, limiter=bucket.acquire)
