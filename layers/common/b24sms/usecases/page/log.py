"""The page's message log: its filters as posted, a page of it (``store/message_log.py``), and each
message as a row (the number masked, where it came from, its timeline, its error's sentence)."""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from typing import Any

from b24sms.adapters import store
from b24sms.adapters.store.message_log import LogFilter
from b24sms.domain.models import Message
from b24sms.domain.privacy import mask_phone
from b24sms.domain.states import DispatchState
from b24sms.usecases.page.errors import PageError
from b24sms.usecases.replies import OPENLINES_CODE


@dataclass
class LogRow:
    message: Message
    recipient: str
    source: str
    timeline: list[dict[str, Any]]
    error_key: str


def parse_filters(form: dict[str, Any]) -> tuple[LogFilter, str]:
    def text(name: str, limit: int = 40) -> str:
        value = form.get(name)
        return str(value).strip()[:limit] if isinstance(value, str) else ""

    status = text("status")
    if status and status not in ("queued", "sent", "delivered", "undelivered", "failed"):
        status = ""
    digits = "".join(ch for ch in text("digits") if ch.isdigit())[:15]
    since, until = _day(text("since")), _day(text("until"))
    cursor = form.get("cursor")
    cursor = cursor.strip() if isinstance(cursor, str) else ""
    if cursor and not store.message_log.is_cursor(cursor):
        raise PageError("bad_cursor")
    return LogFilter(status, digits, text("sender", 128), since, until + 86399 if until else 0), cursor


def _day(value: str) -> int:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return 0
    try:
        return int(calendar.timegm(time.strptime(value, "%Y-%m-%d")))
    except ValueError:
        return 0


def log_page(member_id: str, filters: LogFilter, cursor: str = "") -> tuple[list[LogRow], str]:
    """A page of the portal's log, newest first, and the cursor of the next (older) one ("" at the end)."""
    try:
        log = store.message_log.message_log(member_id, filters, cursor=cursor)
    except ValueError as exc:
        raise PageError("bad_cursor") from exc
    return [log_row(m) for m in log.messages], log.cursor


def log_row(message: Message) -> LogRow:
    source = "openlines" if message.code == OPENLINES_CODE else "test" if message.message_id.startswith("test-") else "crm"
    timeline = [{"status": "queued", "at": message.created_at}] + [
        {"status": h.get("status", ""), "at": int(h.get("at", 0))} for h in message.history
    ]
    if message.quiet_until and message.dispatch_state == DispatchState.ACCEPTED:  # quiet hours: when it goes
        timeline.append({"status": "held", "at": message.quiet_until})
    error_key = f"err.{message.error_code}" if message.error_code else ""
    return LogRow(message, mask_phone(message.sent_to or message.to), source, timeline, error_key)
