"""The OAuth server (``oauth.bitrix.info``'s ``/oauth/token/``): ``grant_type=refresh_token`` only,
with the app's client id and secret, rotating refresh tokens (each is spent once), and an optional
delay (``oauth_delay``, slept outside the lock) so that concurrent refreshes really overlap."""

from __future__ import annotations

import time
from typing import Any

from local.emulator.state import EmulatorState


def token(state: EmulatorState, query: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(status, answer) of a token request."""
    if state.oauth_delay:
        time.sleep(state.oauth_delay)
    with state.lock:
        if query.get("client_id") != state.client_id or query.get("client_secret") != state.client_secret:
            return 401, {"error": "invalid_client", "error_description": "Invalid client credentials"}
        if query.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"}
        refresh_token = str(query.get("refresh_token", ""))
        portal = next((p for p in state.portals.values() if refresh_token in p.refresh_tokens), None)
        if portal is None:
            return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}
        portal.refresh_tokens.discard(refresh_token)  # rotation: a refresh token is spent once
        access, refresh = portal.issue_tokens()
        portal.refreshes += 1
        return 200, {
            "access_token": access,
            "expires": int(time.time() + portal.token_ttl),
            "expires_in": int(portal.token_ttl),
            "scope": f"app,{portal.scope}",
            "domain": portal.domain,
            "server_endpoint": portal.server_endpoint,
            "status": "L",
            "client_endpoint": portal.client_endpoint,
            "member_id": portal.member_id,
            "user_id": 1,
            "refresh_token": refresh,
        }
