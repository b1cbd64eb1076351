"""The page's message log: its filters as posted, a page of it (``store/message_log.py``), and each
message as a row (the number masked, where it came from, its timeline, its error's sentence)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from b24sms.adapters import store
from b24sms.adapters.store.message_log import LogFilter
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.models import Message
from b24sms.domain.privacy import mask_phone
from b24sms.usecases.page.errors import PageError
from b24sms.usecases.page.timezone import day_start
from b24sms.usecases.replies import OPENLINES_CODE


@dataclass
class LogRow:
    message: Message
    recipient: str
    source: str
    timeline: list[dict[str, Any]]
    error_key: str


def parse_filters(form: dict[str, Any], tz: tzinfo = UTC) -> tuple[LogFilter, str]:
    """The log's filters as posted (its days in ``tz``, the user's zone) and the page's cursor."""

    def text(name: str, limit: int = 40) -> str:
        value = form.get(name)
        return str(value).strip()[:limit] if isinstance(value, str) else ""

    status = text("status")
    if status and status not in ("queued", "sent", "delivered", "undelivered", "failed"):
        status = ""
    digits = "".join(ch for ch in text("digits") if ch.isdigit())[:15]
    since, until = _day(text("since"), tz), _day(text("until"), tz)
    cursor = form.get("cursor")
    cursor = cursor.strip() if isinstance(cursor, str) else ""
    if cursor and not store.message_log.is_cursor(cursor):
        raise PageError("bad_cursor")
    return LogFilter(status, digits, text("sender", 128), since, until + 86399 if until else 0), cursor


MAX_BACK = 30  # newer pages the pager remembers (each a cursor, "" for the first page)


def parse_back(form: dict[str, Any]) -> list[str]:
    """The cursors of the newer pages, oldest last: "Newer" goes back to the last one. A first page is
    ``-``; what is not a cursor is dropped, and only the last ``MAX_BACK`` are kept."""
    values = form.get("back")
    items = values if isinstance(values, list) else []
    kept = [v.strip() for v in items if isinstance(v, str) and (v.strip() == "-" or store.message_log.is_cursor(v.strip()))]
    return kept[-MAX_BACK:]


def _day(value: str, tz: tzinfo) -> int:
    return day_start(value, tz) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else 0


def log_page(member_id: str, filters: LogFilter, cursor: str = "") -> tuple[list[LogRow], str]:
    """A page of the portal's log, newest first, and the cursor of the next (older) one ("" at the end)."""
    try:
        log = store.message_log.message_log(member_id, filters, cursor=cursor)
    except ValueError as exc:
        raise PageError("bad_cursor") from exc
    return [log_row(m) for m in log.messages], log.cursor


MAX_EXPORT = 2000  # messages in one CSV export at most
MAX_EXPORT_PAGES = 80  # log pages read for one export at most (filters can skip many messages)


@dataclass
class LogExport:
    rows: list[LogRow]
    truncated: bool  # more matched than one export holds


def export_log(member_id: str, filters: LogFilter) -> LogExport:
    """The filtered log for a CSV export, newest first: bounded in messages and in reads."""
    rows: list[LogRow] = []
    cursor = ""
    for _ in range(MAX_EXPORT_PAGES):
        page, cursor = log_page(member_id, filters, cursor)
        rows.extend(page)
        if not cursor or len(rows) >= MAX_EXPORT:
            break
    return LogExport(rows[:MAX_EXPORT], bool(cursor) or len(rows) > MAX_EXPORT)


def log_row(message: Message) -> LogRow:
    source = "openlines" if message.code == OPENLINES_CODE else "test" if message.message_id.startswith("test-") else "crm"
    timeline = [{"status": "queued", "at": message.created_at}] + [
        {"status": h.get("status", ""), "at": int(h.get("at", 0))} for h in message.history
    ]
    if message.quiet_until and message.dispatch_state == DispatchState.ACCEPTED:  # quiet hours: when it goes
        timeline.append({"status": "held", "at": message.quiet_until})
    error_key = f"err.{message.error_code}" if message.error_code else ""
    return LogRow(message, mask_phone(message.sent_to or message.to), source, timeline, error_key)
