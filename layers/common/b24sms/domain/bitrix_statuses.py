"""Bitrix24's five message statuses and the one rule about them: never move backwards.

Bitrix24 itself does not enforce order (a late ``sent`` overwrites ``delivered``), and carrier callbacks
arrive out of order, so every change is stored with its ``rank`` and lands only if that rank is higher
than the stored one (a conditional write: ``adapters/store/messages.advance_status``): ``queued < sent
< final``, and a final status (delivered, undelivered, failed) is never replaced.

These are Bitrix24's words, not our pipeline's: where a message stands in dispatch is ``dispatch_states.py``.
"""

from __future__ import annotations

QUEUED = "queued"
SENT = "sent"
DELIVERED = "delivered"
UNDELIVERED = "undelivered"
FAILED = "failed"

RANK = {QUEUED: 0, SENT: 1, DELIVERED: 2, UNDELIVERED: 2, FAILED: 2}
FINAL = frozenset({DELIVERED, UNDELIVERED, FAILED})


def rank(status: str) -> int:
    try:
        return RANK[status]
    except KeyError:
        raise ValueError(f"not a Bitrix24 message status: {status!r}") from None


def combine_parts(parts: list[str], total: int) -> str | None:
    """One status for a message sent as ``total`` segments, from what each segment's receipt says
    (Bitrix24 words, "" for nothing yet): ``delivered`` only when every segment is; any segment
    undelivered or failed makes the message so (the worst wins); otherwise ``sent`` once any segment
    is sent or delivered; else nothing to say yet."""
    for worst in (FAILED, UNDELIVERED):
        if worst in parts:
            return worst
    if total > 0 and len(parts) >= total and all(p == DELIVERED for p in parts):
        return DELIVERED
    if any(p in (SENT, DELIVERED) for p in parts):
        return SENT
    return None
