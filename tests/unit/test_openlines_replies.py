"""What the operator's chat is told about a reply (replies.push_reply_status), against a stub client."""

from __future__ import annotations

from typing import Any

import pytest

from b24sms.adapters.bitrix import BitrixError
from b24sms.domain.models import Message
from b24sms.usecases import connector, replies

REFUSED = {"SUCCESS": True, "DATA": {"RESULT": [{"SUCCESS": False, "ERRORS": ["Chat not found"]}]}}
TAKEN = {"SUCCESS": True, "DATA": {"RESULT": [{"SUCCESS": True, "ERRORS": []}]}}


@pytest.fixture(autouse=True)
def connector_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connector, "connector_id", lambda: "b24sms_sms")  # no deployment settings here


class Client:
    def __init__(self, answer: Any) -> None:
        self.answer, self.calls = answer, []  # type: ignore[var-annotated]

    def call(self, method: str, params: dict[str, Any]) -> Any:
        self.calls.append((method, params))
        return self.answer


def reply(status: str, code: str = "", reason: str = "") -> Message:
    return Message(
        member_id="m",
        message_id="ol1-1042",
        to="+15550001111",
        status=status,
        error_code=code,
        error_message=reason,
        openlines={"line": "1", "chat_id": "15550001111", "im_chat_id": "1001", "im_message_id": "1042"},
    )


def test_a_failed_reply_is_told_in_its_chat_with_the_reason():
    client = Client(TAKEN)
    assert replies.push_reply_status(client, reply("failed", "OPTED_OUT", "the recipient replied STOP")) == "notified"
    [(method, params)] = client.calls
    [entry] = params["MESSAGES"]
    assert method == "imconnector.send.messages" and params["LINE"] == "1"
    assert entry["chat"]["id"] == entry["user"]["id"] == "15550001111"
    assert entry["message"]["id"] == "ol1-1042-failed"
    assert "the recipient replied STOP [OPTED_OUT]" in entry["message"]["text"]


def test_a_delivered_reply_sends_its_id_as_an_array():
    client = Client(TAKEN)
    assert replies.push_reply_status(client, reply("delivered")) == "delivered"
    [(method, params)] = client.calls
    assert method == "imconnector.send.status.delivery"
    assert params["MESSAGES"][0]["message"]["id"] == ["ol1-1042"]
    assert params["MESSAGES"][0]["im"] == {"chat_id": "1001", "message_id": "1042"}


@pytest.mark.parametrize("status", ["delivered", "failed", "undelivered"])
def test_a_refusal_by_the_portal_is_permanent_not_retried(status: str):
    with pytest.raises(BitrixError) as refused:
        replies.push_reply_status(Client(REFUSED), reply(status))
    assert refused.value.code == "IMCONNECTOR_REFUSED" and not refused.value.transient


def test_a_reply_still_on_its_way_tells_nothing():
    client = Client(TAKEN)
    assert replies.push_reply_status(client, reply("sent")) == "nothing" and client.calls == []
