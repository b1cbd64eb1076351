"""Who is looking at the application's page: a REST call made with the user's own ``AUTH_ID`` at the
portal's ``client_endpoint`` stored at install (never a posted DOMAIN), so the portal itself vouches
for the user. ``NotConfirmed.reason``: ``portal_unreachable`` or ``bad_auth``."""

from __future__ import annotations

from typing import Any


class NotConfirmed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def call_as_user(client_endpoint: str, auth_id: str, method: str, timeout: float) -> Any:
    """The ``result`` of ``method`` called with the user's token."""
    import requests  # cold start: loaded when the page is opened

    try:
        response = requests.post(f"{client_endpoint}{method}.json", data={"auth": auth_id}, timeout=timeout)
    except requests.RequestException as exc:
        raise NotConfirmed("portal_unreachable") from exc
    if response.status_code != 200:
        raise NotConfirmed("bad_auth")
    try:
        return response.json().get("result")
    except (ValueError, AttributeError) as exc:
        raise NotConfirmed("bad_auth") from exc
