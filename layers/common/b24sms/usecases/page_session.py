"""The application page's session: a short-lived token the page carries in every call (a header or a
form field: third-party iframe cookies are unreliable), signed with HMAC-SHA256 under a per-deployment
secret (``APP_SESSION_SECRET``: SSM SecureString in AWS, the environment locally) and bound to the
portal (member_id) and its install (``Portal.install_id``: a session from before an uninstall is
refused after the reinstall), the user and whether that user is an administrator of the portal.

A state-changing call must carry a valid token with ``admin``: a page on another site cannot forge
one, so the calls are CSRF-safe by construction."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from b24sms.adapters.config import secret
from b24sms.domain.errors import Forbidden, NotAuthenticated

TTL_SECONDS = 3600  # at most an hour; the portal opens the page again with a fresh AUTH_ID
MAX_TOKEN = 1024
MAX_NAME = 40  # characters of the user's name in the token (it stays under MAX_TOKEN in any script)


@dataclass(frozen=True)
class Session:
    member_id: str
    user_id: str
    admin: bool
    lang: str
    expires_at: int
    install: str = ""  # the portal's install_id when the session was issued
    name: str = ""  # the user's name as the portal gave it (the audit log names who changed what)
    tz: str = ""  # the user's time zone as the portal gave it (page/timezone.py): "" is UTC

    def require_admin(self) -> None:
        if not self.admin:
            raise Forbidden("only the portal's administrators change the application's settings", "admin_only")


def _key() -> bytes:
    return secret("APP_SESSION_SECRET").encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(
    member_id: str,
    user_id: str,
    admin: bool,
    lang: str = "en",
    ttl: int = TTL_SECONDS,
    now: float | None = None,
    key: bytes | None = None,
    install: str = "",
    name: str = "",
    tz: str = "",
) -> str:
    """A token for this session (``key``: another key than the deployment's, for the event files;
    ``install``: the portal's install_id)."""
    expires = int((time.time() if now is None else now) + min(ttl, TTL_SECONDS))
    claims: dict[str, object] = {"m": member_id, "u": user_id, "a": bool(admin), "l": lang, "e": expires}
    if install:  # a portal installed before install ids has none: its sessions look as they did
        claims["i"] = install
    if name:
        claims["n"] = name[:MAX_NAME]
    if tz:
        claims["z"] = tz[:64]
    payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signature = _b64(hmac.new(key or _key(), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def verify(token: str, now: float | None = None) -> Session:
    """The session a token stands for; 401 if it is missing, malformed, forged or expired."""
    if not token or len(token) > MAX_TOKEN or token.count(".") != 1:
        raise NotAuthenticated("the page's session is missing or malformed: open the application again", "no_session")
    payload, signature = token.split(".")
    expected = _b64(hmac.new(_key(), payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise NotAuthenticated("the page's session is not valid: open the application again", "bad_session")
    try:
        claims = json.loads(_unb64(payload))
        session = Session(
            str(claims["m"]),
            str(claims["u"]),
            claims["a"] is True,
            str(claims["l"]),
            int(claims["e"]),
            str(claims.get("i", "")),
            str(claims.get("n", ""))[:MAX_NAME],
            str(claims.get("z", ""))[:64],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise NotAuthenticated("the page's session is not valid: open the application again", "bad_session") from exc
    if session.expires_at <= (time.time() if now is None else now):
        raise NotAuthenticated("the page's session has expired: open the application again", "session_expired")
    return session
