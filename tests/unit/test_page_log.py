"""The page's log on in-memory stand-ins: the pager's memory of newer pages and the CSV export's bounds."""

from __future__ import annotations

from typing import Any

import pytest

from b24sms.adapters.store.message_log import LogFilter
from b24sms.domain.models import Message
from b24sms.usecases.page import log


def test_the_pager_keeps_only_cursors_and_at_most_its_bound() -> None:
    kept = log.parse_back({"back": ["-", "17:abc", "x", 7, "1:\x00", *[f"{i}:m{i}" for i in range(40)]]})
    assert kept[: -log.MAX_BACK] == [] and len(kept) == log.MAX_BACK and kept[-1] == "39:m39"
    assert log.parse_back({"back": ["-", "17:abc", "nope"]}) == ["-", "17:abc"]
    assert log.parse_back({"back": "17:abc"}) == []


def test_an_export_is_bounded_in_messages_and_in_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []

    def endless(member_id: str, filters: Any, cursor: str = "") -> tuple[list[log.LogRow], str]:
        reads.append(cursor)
        rows = [log.log_row(Message(member_id="m", message_id=f"{len(reads)}-{i}", to="+15550100100")) for i in range(25)]
        return rows, f"{len(reads)}:next"

    monkeypatch.setattr(log, "log_page", endless)
    export = log.export_log("m", LogFilter())
    assert len(export.rows) == log.MAX_EXPORT and export.truncated and len(reads) == log.MAX_EXPORT // 25

    monkeypatch.setattr(log, "log_page", lambda m, f, cursor="": ([], "1:more"))  # filters that match nothing
    reads.clear()
    assert log.export_log("m", LogFilter()).truncated  # stopped after MAX_EXPORT_PAGES reads, not endless
