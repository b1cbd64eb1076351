"""The senders' reconcile on a portal that got the sender between ``sender.list`` and ``sender.add``
(a sync and ONAPPUPDATE at once): ``ERROR_SENDER_ALREADY_INSTALLED`` means update it, not fail."""

from __future__ import annotations

from typing import Any

from b24sms.adapters.bitrix import BitrixError
from b24sms.usecases import senders


class Portal:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        self.calls.append(method)
        if method == "messageservice.sender.add":
            raise BitrixError("ERROR_SENDER_ALREADY_INSTALLED", "Sender already installed!", 400, method)
        return True


def test_a_sender_added_meanwhile_is_updated():
    client = Portal()
    report = senders.SyncReport("m", "d")
    fields = {"CODE": "b24sms", "HANDLER": "https://x.example/h", "NAME": {}, "DESCRIPTION": {}}
    senders._reconcile(client, [], fields, False, report)  # type: ignore[arg-type]
    assert client.calls == ["messageservice.sender.add", "messageservice.sender.update"]
    assert report.updated == ["b24sms"] and report.added == []
