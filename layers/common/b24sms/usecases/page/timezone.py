"""The page's times and days in the portal user's time zone, labelled. Bitrix24's ``user.current`` gives
``TIME_ZONE`` (an IANA name, when the portal has one set) and ``TIME_ZONE_OFFSET`` (seconds from UTC);
the session keeps what was found (a name, or an offset like ``+10800``). Without either, or with a name
this runtime's zone database does not know and no offset: UTC, labelled "UTC"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]{0,30}(/[A-Za-z0-9_+\-]{1,30}){0,2}")
OFFSET = re.compile(r"[+-]\d{1,5}")


def zone_of(user: dict[str, Any]) -> str:
    """What the session keeps of the user's zone: its IANA name if known here, else its offset, else ""."""
    name = str(user.get("TIME_ZONE") or "")
    if NAME.fullmatch(name) and _named(name) is not None:
        return name
    offset = str(user.get("TIME_ZONE_OFFSET") or "").strip()
    if re.fullmatch(r"-?\d{1,5}", offset) and abs(int(offset)) <= 14 * 3600 and int(offset):
        return f"{int(offset):+d}"
    return ""


def _named(name: str) -> tzinfo | None:
    try:
        from zoneinfo import ZoneInfo  # cold start: the zone database, read only for a named zone

        return ZoneInfo(name)
    except (ValueError, KeyError, OSError, ImportError):  # ZoneInfoNotFoundError is a KeyError
        return None


def zone(kept: str) -> tuple[tzinfo, str]:
    """The zone a session kept and its label ("Europe/Moscow", "UTC+03:00", "UTC")."""
    if OFFSET.fullmatch(kept) and abs(int(kept)) <= 14 * 3600:
        seconds = int(kept)
        hours, minutes = divmod(abs(seconds) // 60, 60)
        return timezone(timedelta(seconds=seconds)), f"UTC{'+' if seconds >= 0 else '-'}{hours:02d}:{minutes:02d}"
    named = _named(kept) if kept and NAME.fullmatch(kept) else None
    return (named, kept) if named is not None else (UTC, "UTC")


def local_time(at: int, tz: tzinfo) -> str:
    return datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def day_start(day: str, tz: tzinfo) -> int:
    """Midnight of ``day`` (YYYY-MM-DD) in ``tz``, as unix seconds; 0 when it is not a day."""
    try:
        return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=tz).timestamp())
    except ValueError:
        return 0
