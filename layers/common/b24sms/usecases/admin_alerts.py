"""Admin alerts (issue #20 item 4): when sending breaks for a portal (its carrier account is held:
credentials, suspended, balance) its administrators get one notification, and one more when it
recovers; never one per SMS. The open/closed state is a conditional write on the portal's record
(``store.alerts``), so of many dispatchers seeing the same refusal exactly one notifies.

The notification is a portal job (``usecases/portal_jobs``: made in the portal's push turn, paced,
retried, never lost) of two calls: ``user.current`` with the application's token (the administrator
who installed it), then ``im.notify.system.add`` to that user and to each administrator seen opening the
application's page (``Portal.admins``, kept by the page's session), one ``TAG`` per cause so a repeat
replaces the earlier notification. It needs the ``im`` scope: a portal without it drops the job with
a log line, and nothing else changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import store
from b24sms.adapters.config import get_settings
from b24sms.domain import alerts
from b24sms.domain.models import Portal
from b24sms.usecases import portal_jobs

logger = Logger(child=True)

FOLLOW_UP = "admin_alert"
SCOPE = "im"

Call = tuple[str, dict[str, Any]]
# How a job is queued for a portal: (member_id, job_id, calls, then, data, scope) -> kept or not.
JobQueue = Callable[[str, str, list[Call], str, dict[str, Any], str], bool]


def _portal_job(member_id: str, job_id: str, calls: list[Call], then: str, data: dict[str, Any], scope: str) -> bool:
    return portal_jobs.add(member_id, job_id, calls, then=then, data=data, scope=scope)


queue_job: JobQueue = _portal_job  # tests put a stand-in here


def raised(member_id: str, cause: str, **values: object) -> bool:
    """``cause`` started for the portal: notify its administrators if nobody has yet."""
    if not store.alerts.open_alert(member_id, cause):
        return False
    return _notify(member_id, cause, recovered=False, values=values)


def cleared(member_id: str, cause: str, **values: object) -> bool:
    """``cause`` is over: notify once, if it had been told."""
    if not store.alerts.close_alert(member_id, cause):
        return False
    return _notify(member_id, cause, recovered=True, values=values)


def _notify(member_id: str, cause: str, recovered: bool, values: dict[str, object]) -> bool:
    portal = store.portals.get_portal(member_id)
    if portal is None or not portal.installed:
        return False
    text = alerts.message(cause, portal.lang, recovered, f"{get_settings().public_base_url}/bitrix/app", **values)
    job_id = f"alert#{cause}#{'ok' if recovered else 'broken'}#{store.now()}"
    data = {"message": text, "tag": alerts.tag(cause)}
    kept = queue_job(member_id, job_id, [("user.current", {})], FOLLOW_UP, data, SCOPE)
    logger.info("admin alert", extra={"cause": cause, "recovered": recovered, "queued": kept})
    return kept


def notify_calls(portal: Portal, data: dict[str, Any], results: dict[int, Any]) -> list[Call]:
    """The follow-up of an alert's ``user.current``: the notification to that user (the installer) and to
    every administrator seen opening the page (``Portal.admins``), once each."""
    user = results.get(0)
    installer = str(user.get("ID", "")) if isinstance(user, dict) else ""
    users = list(dict.fromkeys([u for u in (installer, *sorted(portal.admins, key=_numeric)) if u]))
    return [("im.notify.system.add", {"USER_ID": u, "MESSAGE": data["message"], "TAG": data["tag"]}) for u in users]


def _numeric(user_id: str) -> tuple[int, str]:
    return (int(user_id), "") if user_id.isdigit() else (0, user_id)


portal_jobs.register(FOLLOW_UP, notify_calls)
