"""How long a portal just pushed waits before its next small batch (the status push's coalescing).

An idle portal's status goes out at once. A portal whose statuses keep coming (a campaign: the
carrier's reports trickle in over its whole length) is pushed less and less often: each push that
follows the last within twice the current linger doubles it, up to ``cap``; a pause of twice the
linger brings it back to ``base``. So a trickle of statuses costs a few REST calls instead of one each,
from the portal's own 2 requests/s that its other applications share, and the first status of a
campaign is never held. Full batches of 50 never wait (usecases/push.py).
"""

from __future__ import annotations


def current(stored: float, base: float) -> float:
    """The linger in force: the one stored with the portal's push turn, never below ``base``."""
    return max(stored, base)


def after_push(stored: float, since_last_push: float, base: float, cap: float) -> float:
    """The linger to store after a push that came ``since_last_push`` seconds after the previous one."""
    linger = current(stored, base)
    if since_last_push < 2 * linger:  # the statuses keep coming: wait longer before the next small batch
        return min(max(cap, base), linger * 2)
    return base
