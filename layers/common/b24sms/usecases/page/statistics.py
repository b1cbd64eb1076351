"""The page's statistics: the portal's day counters (``store/counters.py``) summed (``domain/stats.py``)."""

from __future__ import annotations

from b24sms.adapters import store
from b24sms.domain import stats


def summary(member_id: str) -> stats.Summary:
    return stats.summarise(store.counters.day_counters(member_id))
