"""Install: the install page POST or the ONAPPINSTALL event, proven genuine at the OAuth server, then
the portal stored and our SMS provider, our events and (when granted) the Open Lines connector
registered on it. Uninstall is an event (``usecases/bitrix_events.py``)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import store
from b24sms.adapters.bitrix import BitrixError, PortalUnavailable
from b24sms.adapters.bitrix.tokens import client_for, spend_refresh_token
from b24sms.adapters.config import get_settings
from b24sms.domain.errors import Forbidden, Invalid
from b24sms.domain.models import INSTALLED, Portal
from b24sms.usecases import bitrix_events, connector, senders

logger = Logger(child=True)


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


def page_url() -> str:
    """The application's page, where an "open" POST that reached the install URL goes on to."""
    return f"{get_settings().public_base_url}/bitrix/app"


def is_open_of_installed(form: dict[str, Any]) -> bool:
    """A POST to the install URL that opens the application (the user's AUTH_ID, no APPLICATION_TOKEN)
    on a portal where it is installed: the application's page answers it, the install does not run again."""
    if "event" in form or "auth" in form or form.get("APPLICATION_TOKEN") or not form.get("AUTH_ID"):
        return False
    member_id = str(form.get("member_id") or "")
    portal = store.portals.get_portal(member_id) if member_id and len(member_id) <= 64 else None
    return portal is not None and portal.installed


def parse_install(form: dict[str, Any], query: dict[str, str]) -> InstallRequest:
    """Read either the install page POST or an ONAPPINSTALL event; ``Invalid`` if neither is complete."""
    if str(form.get("event", "")).upper() == "ONAPPINSTALL" or isinstance(form.get("auth"), dict):
        auth = form.get("auth")
        if not isinstance(auth, dict):
            raise Invalid("ONAPPINSTALL without an auth block")
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
        raise Invalid(f"install request is missing: {', '.join(missing)}")
    too_long = sorted(name for name, value in fields.items() if len(str(value)) > MAX_FIELD)
    if too_long or len(domain) > MAX_DOMAIN:
        raise Invalid(f"install request has over-long fields: {', '.join(too_long or ['domain'])}")
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
    try:
        tokens = spend_refresh_token(request.refresh_token)
    except PortalUnavailable:
        raise
    except BitrixError as exc:
        logger.warning("install refused by the OAuth server", extra={"member_id": request.member_id, "error": exc.code})
        raise Forbidden(f"install not confirmed by the OAuth server: {exc.code}") from exc
    if not hmac.compare_digest(tokens["member_id"], request.member_id) or not tokens["client_endpoint"]:
        raise Forbidden("install not confirmed: the OAuth server names another portal")

    existing = store.portals.get_portal(request.member_id)
    keep_secret = existing is not None and existing.installed and existing.handler_secret
    now = store.now()
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
        install_id=existing.install_id if keep_secret and existing else secrets.token_hex(8),
        updated_at=now,
        carrier_config=existing.carrier_config if existing else {},  # set by an operator: survives re-installs
        openlines=existing.openlines if existing else {},
        senders=existing.senders if existing else {},  # added on the application's page
        sender_seq=existing.sender_seq if existing else 0,  # a removed sender's CODE stays used
        routing=existing.routing if existing else {},  # set by an operator, as carrier_config
        carrier_accounts=existing.carrier_accounts if existing else {},
    )
    store.portals.put_portal(portal)
    client = client_for(portal)
    action = senders.register(client, portal)
    bitrix_events.bind(client, bitrix_events.bindable(portal, scoped=False))
    try:
        connector.register(client, portal)
        bitrix_events.bind(client, bitrix_events.bindable(portal, scoped=True))
    except BitrixError as exc:  # SMS works without the Open Lines channel: install anyway, say why
        logger.warning("Open Lines connector not registered", extra={"member_id": portal.member_id, "error": exc.code})
    logger.info("portal installed", extra={"member_id": portal.member_id, "sender": action, "source": request.source})
    return portal
