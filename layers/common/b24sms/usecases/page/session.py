"""Who is looking at the page: the posted AUTH_ID verified at the portal (``open_page``), and the
portal a session stands for (``portal_of``). The session token itself is ``usecases/page_session.py``;
who is looking, asked of the portal, ``bitrix/users.py``."""

from __future__ import annotations

import hmac
from typing import Any

from b24sms.adapters import store
from b24sms.adapters.bitrix.users import NotConfirmed, call_as_user
from b24sms.adapters.config import get_settings
from b24sms.domain.errors import Forbidden, NotAuthenticated
from b24sms.domain.models import Portal
from b24sms.usecases import page_session
from b24sms.usecases.page.timezone import zone_of
from b24sms.usecases.page_session import Session


def open_page(form: dict[str, Any], query: dict[str, str]) -> tuple[Session, str]:
    """The portal opened the page: the posted AUTH_ID is asked about at the client_endpoint stored at
    install (never the posted DOMAIN): ``user.current`` (who), ``user.admin`` (may they change settings)."""
    auth_id, member_id = str(form.get("AUTH_ID") or ""), str(form.get("member_id") or "")
    if not auth_id or not member_id or len(auth_id) > 512 or len(member_id) > 64:
        raise NotAuthenticated("open the application from the portal: AUTH_ID and member_id are missing", "no_auth")
    portal = store.portals.get_portal(member_id)
    if portal is None or not portal.installed or not portal.client_endpoint:
        raise Forbidden("the application is not installed on this portal", "not_installed")
    user = _portal_call(portal, auth_id, "user.current")
    admin = _portal_call(portal, auth_id, "user.admin")
    if not isinstance(user, dict) or not str(user.get("ID") or ""):
        raise NotAuthenticated("the portal did not confirm who you are", "bad_auth")
    lang = str(query.get("LANG") or portal.lang or "en")[:8]
    name = " ".join(str(user.get(k) or "").strip() for k in ("NAME", "LAST_NAME")).strip()
    session = Session(member_id, str(user["ID"]), admin is True, lang, 0)
    if session.admin and session.user_id not in portal.admins:  # admin alerts go to them too
        store.alerts.remember_admin(member_id, session.user_id)
    elif not session.admin and session.user_id in portal.admins:
        store.alerts.forget_admin(member_id, session.user_id)
    tz = zone_of(user)
    token = page_session.issue(
        session.member_id, session.user_id, session.admin, lang, install=portal.install_id, name=name, tz=tz
    )
    return page_session.verify(token), token


def _portal_call(portal: Portal, auth_id: str, method: str) -> Any:
    try:
        return call_as_user(portal.client_endpoint, auth_id, method, get_settings().http_timeout)
    except NotConfirmed as exc:
        text = {
            "portal_unreachable": "the portal could not be asked who you are: try again",
            "bad_auth": "the portal did not accept this session: open the application again",
        }[exc.reason]
        raise NotAuthenticated(text, exc.reason) from exc


def portal_of(session: Session) -> Portal:
    """The session's portal, only while it is installed, and only the install the session was issued
    for: an uninstalled portal gets nothing, and a session from before an uninstall nothing after the
    reinstall."""
    portal = store.portals.get_portal(session.member_id)
    if portal is None or not portal.installed:
        raise Forbidden("the application is not installed on this portal", "not_installed")
    if not hmac.compare_digest(session.install.encode(), portal.install_id.encode()):
        raise NotAuthenticated("the page's session is not valid: open the application again", "bad_session")
    return portal
