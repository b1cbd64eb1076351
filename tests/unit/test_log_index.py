"""The page's log index ``by-portal-log`` is written once per message, at its creation: it projects
nothing an update writes (held two ways: the store's update code read for the projected names, and a
message's whole life on moto with its index entry compared); the log reads statuses from the table,
pages and filters as before, and falls back to ``by-portal-created`` while the new index backfills."""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from b24sms.adapters.store import message_log
from b24sms.adapters.store.message_log import LogFilter
from b24sms.domain.models import Message
from local.template import Template
from tests.moto_alone import moto_alone

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "layers/common/b24sms/adapters/store"
TEMPLATE = Template()


def log_index() -> dict[str, Any]:
    props = TEMPLATE.resources["MessagesTable"]["Properties"]
    (index,) = [i for i in props["GlobalSecondaryIndexes"] if i["IndexName"] == message_log.LOG_INDEX]
    return dict(index)


def projected() -> set[str]:
    """The index's non-table-key attributes: its sort key and what it projects besides the keys."""
    index = log_index()
    assert index["Projection"]["ProjectionType"] in ("KEYS_ONLY", "INCLUDE"), "ALL would rewrite it at every update"
    names = {k["AttributeName"] for k in index["KeySchema"]} | set(index["Projection"].get("NonKeyAttributes", []))
    return names - {"member_id", "message_id"}  # the table's keys: no update can change them


def _reads(func: ast.expr) -> bool:
    """``x.get("a")``, ``Attr("a")``, ``Key("a")``: a name read, not written."""
    return (isinstance(func, ast.Attribute) and func.attr == "get") or (isinstance(func, ast.Name) and func.id in ("Attr", "Key"))


def named_in_writes(path: Path) -> set[str]:
    """Every attribute name a store module's strings could write: each string that is not a
    docstring, an item read (``item["x"]``, ``item.get("x")``) or a boto3 condition (``Attr("x")``),
    split into names (``SET a = :v``, ``REMOVE a, b``, ``{"#n": "a"}``, ``["a", "b"]``)."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skip.add(id(node.value))  # docstrings
        elif isinstance(node, ast.Subscript):
            skip.add(id(node.slice))
        elif isinstance(node, ast.Call) and node.args and _reads(node.func):
            skip.add(id(node.args[0]))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            names |= set(re.findall(r"(?<![\w:#.])[A-Za-z_]\w*", node.value))
    return names


def test_the_log_index_projects_nothing_the_store_writes_after_a_message_is_created() -> None:
    modules = [p for p in sorted(STORE.glob("*.py")) if p.name != "message_log.py"]  # the log only reads
    assert len(modules) > 10
    written = {p.name: named_in_writes(p) & projected() for p in modules}
    assert projected() >= {"created_at", "code", "to"}  # what the log's keys and index filters need
    assert {name: found for name, found in written.items() if found} == {}


def test_the_old_index_stays_for_this_release_with_the_same_keys() -> None:
    props = TEMPLATE.resources["MessagesTable"]["Properties"]
    old = [i for i in props["GlobalSecondaryIndexes"] if i["IndexName"] == message_log.FALLBACK_INDEX]
    assert len(old) == 1 and old[0]["KeySchema"] == log_index()["KeySchema"]


# -- on moto ----------------------------------------------------------------------------------------
@pytest.fixture
def messages_table() -> Iterator[Any]:
    from b24sms.adapters.config import reset_settings
    from b24sms.adapters.store._table import reset_client

    env = {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "PORTALS_TABLE": "portals",
        "MESSAGES_TABLE": "messages",
        "LIMITS_TABLE": "limits",
        "OUTBOUND_QUEUE_URL": "outbound",
        "STATUS_QUEUE_URL": "status",
        "BITRIX_CLIENT_ID": "test",
    }
    with mock.patch.dict(os.environ, env), moto_alone():
        os.environ.pop("AWS_ENDPOINT_URL", None)
        reset_settings()
        reset_client()
        import boto3

        props = TEMPLATE.resources["MessagesTable"]["Properties"]
        boto3.client("dynamodb").create_table(
            TableName="messages",
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
            BillingMode="PAY_PER_REQUEST",
        )
        yield boto3.resource("dynamodb").Table("messages")
    reset_settings()
    reset_client()


def entry(table: Any, member_id: str, message_id: str) -> dict[str, Any]:
    from boto3.dynamodb.conditions import Key

    items = table.query(IndexName=message_log.LOG_INDEX, KeyConditionExpression=Key("member_id").eq(member_id))["Items"]
    (found,) = [i for i in items if i["message_id"] == message_id]
    return dict(found)


def test_a_message_s_whole_life_leaves_its_log_index_entry_as_it_was_created(messages_table: Any) -> None:
    from b24sms.adapters import store
    from b24sms.domain.models import CarrierConfig

    msg = Message(member_id="m", message_id="a", to="+1 555 010-0100", body="hi", code="b24sms", created_at=1_700_000_000)
    assert store.messages.create_message(msg)
    created = entry(messages_table, "m", "a")
    assert created == {
        "member_id": "m", "message_id": "a", "created_at": 1_700_000_000, "to": "+1 555 010-0100", "code": "b24sms",
    }  # fmt: skip
    claimed = store.messages.claim_for_dispatch("m", "a", 60)
    assert claimed is not None
    store.messages.release_for_retry(claimed, "E1", "busy")
    claimed = store.messages.claim_for_dispatch("m", "a", 60)
    assert claimed is not None
    store.messages.record_carrier_accepted(
        claimed, "sandbox", "c-1", "accepted", to="+15550100100", encoding="GSM", segments=2,
        part_ids=("p1", "p2"), config=CarrierConfig("sandbox", sender="S", credentials="k"),
        price="0.01", price_unit="USD", failover="primary down", reconcile_after=60,
    )  # fmt: skip
    store.messages.record_part_status("m", "a", "p1", "delivered", "delivered")
    store.messages.advance_status("m", "a", "delivered", 4, source="callback", carrier_status="DELIVRD", price_after=60)
    store.pushes.mark_pushed("m", "a", 4, note="told")
    assert store.messages.get_message("m", "a").status == "delivered"  # type: ignore[union-attr]
    assert entry(messages_table, "m", "a") == created
    page = message_log.message_log("m", LogFilter(status="delivered"))
    assert [(m.message_id, m.status, m.sent_to) for m in page.messages] == [("a", "delivered", "+15550100100")]


def seed(table: Any, count: int, status: str = "delivered", start: int = 1_700_000_000, prefix: str = "") -> None:
    for i in range(count):
        message = Message(
            member_id="m", message_id=f"{prefix}{i:03d}", to=f"+1555010{i:04d}", code="b24sms" if i % 2 else "other",
            status=status, created_at=start + i,
        )  # fmt: skip
        table.put_item(Item=message.to_item())


def test_the_log_pages_newest_first_and_filters_status_after_the_read(messages_table: Any) -> None:
    seed(messages_table, 30)
    first = message_log.message_log("m", LogFilter())
    assert [m.message_id for m in first.messages] == [f"{i:03d}" for i in range(29, 4, -1)]
    assert first.cursor == "1700000005:005"
    rest = message_log.message_log("m", LogFilter(), cursor=first.cursor)
    assert [m.message_id for m in rest.messages] == ["004", "003", "002", "001", "000"] and rest.cursor == ""
    messages_table.update_item(
        Key={"member_id": "m", "message_id": "007"}, UpdateExpression="SET #s = :f", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":f": "failed"},
    )  # fmt: skip
    assert [m.message_id for m in message_log.message_log("m", LogFilter(status="failed")).messages] == ["007"]
    assert [m.message_id for m in message_log.message_log("m", LogFilter(code="other", digits="0012")).messages] == ["012"]
    in_range = message_log.message_log("m", LogFilter(since=1_700_000_010, until=1_700_000_012))
    assert [m.message_id for m in in_range.messages] == ["012", "011", "010"]


def test_reads_per_log_page_are_bounded(messages_table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a status filter only the 25 shown are read; with one, at most MAX_PAGES_READ index
    pages, each read whole, and a cursor to go on."""
    seed(messages_table, 1200)
    reads: list[int] = []
    from b24sms.adapters.store.messages import get_messages as real

    def counted(keys: list[tuple[str, str]], *, consistent: bool = True) -> Any:
        assert not consistent
        reads.append(len(keys))
        return real(keys, consistent=consistent)

    monkeypatch.setattr(message_log, "get_messages", counted)
    assert len(message_log.message_log("m", LogFilter()).messages) == 25 and reads == [25]
    reads.clear()
    none = message_log.message_log("m", LogFilter(status="failed"))
    assert none.messages == [] and reads == [100] * message_log.MAX_PAGES_READ
    assert none.cursor == "1700000200:200"  # the last key read: Older goes on from there


class Backfilling:
    """The table, except that a Query on ``by-portal-log`` fails as DynamoDB fails it while the
    index backfills."""

    def __init__(self, table: Any, message: str = message_log.BACKFILLING) -> None:
        self.table, self.message = table, message
        self.indexes: list[str] = []

    def query(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        self.indexes.append(kwargs["IndexName"])
        if kwargs["IndexName"] == message_log.LOG_INDEX:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": self.message}}, "Query")
        return self.table.query(**kwargs)


def test_while_the_new_index_backfills_the_log_reads_the_old_one(messages_table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(messages_table, 30)
    stand_in = Backfilling(messages_table)
    monkeypatch.setattr(message_log, "_messages", lambda: stand_in)
    first = message_log.message_log("m", LogFilter())
    assert [m.message_id for m in first.messages][:2] == ["029", "028"] and first.cursor == "1700000005:005"
    assert stand_in.indexes == [message_log.LOG_INDEX, message_log.FALLBACK_INDEX]
    seed(messages_table, 220, prefix="x", start=1_600_000_000)  # older: 250 in all, three index pages
    stand_in.indexes.clear()
    none = message_log.message_log("m", LogFilter(status="failed"))
    assert none.messages == [] and none.cursor == ""
    # The new index is asked once per log page, not once per index page.
    assert stand_in.indexes == [message_log.LOG_INDEX] + [message_log.FALLBACK_INDEX] * 3


def test_any_other_refusal_of_the_query_is_raised(messages_table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    stand_in = Backfilling(messages_table, message="The table does not have the specified index: by-portal-log")
    monkeypatch.setattr(message_log, "_messages", lambda: stand_in)
    with pytest.raises(ClientError):
        message_log.message_log("m", LogFilter())
    assert stand_in.indexes == [message_log.LOG_INDEX]
