"""Bitrix24's five message statuses and the one rule about them: never move backwards.

Bitrix24 itself does not enforce order (a late ``sent`` overwrites ``delivered``), and carrier callbacks
arrive out of order, so every change goes through ``advances``: ``queued < sent < final`` and a final
status (delivered, undelivered, failed) is never replaced.
"""

from __future__ import annotations

QUEUED = "queued"
SENT = "sent"
DELIVERED = "delivered"
UNDELIVERED = "undelivered"
FAILED = "failed"

BITRIX_STATUSES = (QUEUED, SENT, DELIVERED, UNDELIVERED, FAILED)
RANK = {QUEUED: 0, SENT: 1, DELIVERED: 2, UNDELIVERED: 2, FAILED: 2}
FINAL = frozenset({DELIVERED, UNDELIVERED, FAILED})


def rank(status: str) -> int:
    try:
        return RANK[status]
    except KeyError:
        raise ValueError(f"not a Bitrix24 message status: {status!r}") from None


def advances(current: str, new: str) -> bool:
    """True when ``new`` is later in a message's life than ``current``."""
    return rank(new) > rank(current)
