"""The Bitrix24 OAuth server: refreshing a portal's token pair."""

from __future__ import annotations

import time
from typing import Any

from b24sms.adapters.bitrix.errors import PortalUnavailable, TokenRefreshFailed


def refresh(oauth_url: str, client_id: str, client_secret: str, refresh_token: str, timeout: float) -> dict[str, Any]:
    """Spend ``refresh_token`` for a new pair. The answer also names the portal (member_id,
    client_endpoint, domain), which is how an install is proven to come from a real portal."""
    import requests  # cold start: ~80 ms, paid at the first refresh rather than at import

    try:
        response = requests.get(
            f"{oauth_url}/oauth/token/",
            params={
                "grant_type": "refresh_token",
                "client_id": client_id,
                "client_secret": client_secret,
                "refresh_token": refresh_token,
            },
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise PortalUnavailable("NETWORK_ERROR", f"OAuth server: {type(exc).__name__}", 0, "oauth") from exc
    try:
        payload = response.json()
    except ValueError:
        raise PortalUnavailable(
            "ERROR_UNEXPECTED_ANSWER", f"OAuth server: HTTP {response.status_code}", response.status_code, "oauth"
        ) from None
    if not isinstance(payload, dict) or "error" in payload or "access_token" not in payload:
        payload = payload if isinstance(payload, dict) else {}
        code = str(payload.get("error") or "invalid_answer")
        description = str(payload.get("error_description") or "")
        if response.status_code >= 500:
            raise PortalUnavailable(code, description, response.status_code, "oauth")
        raise TokenRefreshFailed(code, description, response.status_code, "oauth")
    expires_in = int(payload.get("expires_in") or 3600)
    return {
        "access_token": str(payload["access_token"]),
        "refresh_token": str(payload.get("refresh_token") or ""),
        "expires_at": int(payload.get("expires") or time.time() + expires_in),
        "member_id": str(payload.get("member_id") or ""),
        "client_endpoint": str(payload.get("client_endpoint") or ""),
        "server_endpoint": str(payload.get("server_endpoint") or ""),
        "domain": str(payload.get("domain") or ""),
        "scope": str(payload.get("scope") or ""),
    }
