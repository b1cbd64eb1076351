"""The DynamoDB tables the outbound path uses, in memory, with the semantics the code relies on:
conditional writes (a write whose condition fails changes nothing and returns None/False), the sparse
indexes (``by-pending`` while a message waits to be sent, ``by-push-pending`` from a status the portal
has not seen until ``mark_pushed`` catches up; ``by-portal-log`` only counted, once per message),
``ReturnValues=ALL_NEW``. It mirrors ``b24sms.adapters.store`` function by function (same names and
arguments) and counts what each call would cost: request units (a failed conditional write still
costs its write), index writes, and the writes and reads landing on each portal's partition per
second (the partition key is ``member_id``)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import replace
from typing import Any, NamedTuple

from b24sms.domain import bitrix_statuses
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.models import CarrierConfig, Message, Portal
from local.memory.chats import SimChats
from local.memory.meter import Meter

# The meter and the chats table have modules of their own; still importable from here.
__all__ = ["PUSHED_AT_START", "Meter", "SimChats", "SimLimits", "SimMessages", "SimPortals", "Turn"]

PUSHED_AT_START = bitrix_statuses.rank(bitrix_statuses.SENT)
ITEM_KB = 1.0  # a message item's size (the text is dropped once sent): 1 WRU a write, 0.25 of a 4 KB read


class SimMessages:
    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.items: dict[tuple[str, str], Message] = {}
        # by-push-pending: portal -> {message_id: push_since}; by-pending: keys waiting to be sent
        self.push_pending: dict[str, dict[str, float]] = defaultdict(dict)
        self.waiting: set[tuple[str, str]] = set()
        self.reconciling: set[tuple[str, str]] = set()  # by-reconcile: taken by a carrier, no final status yet
        self.by_carrier_ref: dict[str, tuple[str, str]] = {}
        self.day_counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self.status_at: dict[tuple[str, str], float] = {}  # when the status the portal must see was stored

    def _w(self, member_id: str, index_writes: int = 0, op: str = "UpdateItem") -> None:
        self.meter.write("messages", member_id, op, index_writes)

    def create_message(self, message: Message) -> bool:
        key = (message.member_id, message.message_id)
        if key in self.items:
            self._w(message.member_id, 0, "PutItem")  # its condition failed: the write unit, no index entry
            return False
        # Index entries: by-pending (while it waits to be sent) and by-portal-log, the page's log (written
        # here only: it projects nothing an update changes). by-portal-created, kept one release while
        # by-portal-log backfills, is not counted (every message write rewrote it: docs/operations.md).
        self._w(message.member_id, (message.dispatch_state == DispatchState.ACCEPTED) + 1, "PutItem")
        self.items[key] = message
        if message.dispatch_state == DispatchState.ACCEPTED:
            self.waiting.add(key)
        return True

    def get_message(self, member_id: str, message_id: str) -> Message | None:
        self.meter.read("messages", member_id)
        return self.items.get((member_id, message_id))

    def get_messages(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Message]:
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 100):
            chunk = unique[start : start + 100]
            self.meter.read("messages", chunk[0][0], "BatchGetItem", units=len(chunk))
        return {k: self.items[k] for k in unique if k in self.items}

    def find_key_by_carrier_id(self, carrier: str, carrier_message_id: str) -> tuple[str, str] | None:
        key = self.by_carrier_ref.get(f"{carrier}#{carrier_message_id}")
        self.meter.read("messages", key[0] if key else "", "Query", 0.5)
        return key

    def claim(self, member_id: str, message_id: str, lease_seconds: int) -> tuple[Message | None, Message | None]:
        claimed = self.claim_for_dispatch(member_id, message_id, lease_seconds)
        return (claimed, None) if claimed is not None else (None, self.items.get((member_id, message_id)))

    def claim_for_dispatch(self, member_id: str, message_id: str, lease_seconds: int) -> Message | None:
        key = (member_id, message_id)
        message = self.items.get(key)
        if message is None or message.dispatch_state != DispatchState.ACCEPTED:
            self._w(member_id)
            return None
        self._w(member_id, 1)
        t = self.meter.clock.now_int()
        self.items[key] = replace(
            message,
            dispatch_state=DispatchState.SENDING,
            lease_until=t + lease_seconds,
            attempts=message.attempts + 1,
            updated_at=t,
        )
        self.waiting.discard(key)
        return self.items[key]

    def record_carrier_accepted(
        self,
        message: Message,
        carrier: str,
        carrier_message_id: str,
        carrier_status: str,
        *,
        to: str,
        encoding: str,
        segments: int,
        part_ids: tuple[str, ...] = (),
        config: CarrierConfig | None = None,
        price: str = "",
        price_unit: str = "",
        failover: str = "",
        reconcile_after: int = 0,
    ) -> Message | None:
        key = (message.member_id, message.message_id)
        current = self.items.get(key)
        entering = current is not None and reconcile_after > 0  # by-reconcile's entry, in this same write
        self._w(message.member_id, 0 if current is None else 1 + entering)
        if entering:
            self.reconciling.add(key)
        if current is None:
            return None
        self.items[key] = replace(
            current,
            dispatch_state=DispatchState.SENT,
            carrier=carrier,
            carrier_message_id=carrier_message_id,
            carrier_status=current.carrier_status or carrier_status,
            sent_to=to,
            encoding=encoding,
            segments=segments,
            failover=failover or current.failover,
            body="",
            lease_until=0,
            updated_at=self.meter.clock.now_int(),
            price=price or current.price,
            price_unit=price_unit if price else current.price_unit,
        )
        self.by_carrier_ref[f"{carrier}#{carrier_message_id}"] = key
        return self.items[key]

    def record_part_status(self, *args: Any) -> Message | None:
        raise NotImplementedError("the simulated carrier reports whole messages")

    def release_for_retry(self, message: Message, error_code: str, error_message: str, refund_attempt: bool = False) -> None:
        key = (message.member_id, message.message_id)
        current = self.items[key]
        self._w(message.member_id, 1)
        if current.dispatch_state != DispatchState.SENDING:
            raise RuntimeError("ConditionalCheckFailed")  # the real call is unguarded: it raises
        self.items[key] = replace(
            current,
            dispatch_state=DispatchState.ACCEPTED,
            error_code=error_code,
            attempts=current.attempts - (1 if refund_attempt else 0),
            lease_until=0,
        )
        self.waiting.add(key)

    def mark_outcome_unknown(self, message: Message) -> bool:
        key = (message.member_id, message.message_id)
        current = self.items[key]
        self._w(message.member_id)
        if current.dispatch_state != DispatchState.SENDING or current.lease_until != message.lease_until:
            return False
        self.items[key] = replace(current, dispatch_state=DispatchState.UNKNOWN, lease_until=0)
        return True

    def advance_status(
        self,
        member_id: str,
        message_id: str,
        status: str,
        status_rank: int,
        *,
        source: str,
        carrier_status: str = "",
        error_code: str = "",
        error_message: str = "",
        dispatch_state: str = "",
        carrier_message_id: str = "",
        price: str = "",
        price_unit: str = "",
        price_after: int = 0,
        sent_with_defaults: str = "",
    ) -> Message | None:
        key = (member_id, message_id)
        current = self.items.get(key)
        ok = (
            current is not None
            and current.status_rank < status_rank
            and not (carrier_message_id and current.carrier_message_id and current.carrier_message_id != carrier_message_id)
            and not (
                sent_with_defaults
                and current.carrier == sent_with_defaults
                and (current.carrier_sender or current.carrier_credentials)
            )
        )
        # out of by-reconcile, unless only its price is left to ask (SPEC.price_after)
        leaving = ok and status in bitrix_statuses.FINAL and key in self.reconciling and not (price_after and not price)
        self._w(member_id, (1 if ok and status_rank > PUSHED_AT_START else 0) + leaving)
        if not ok or current is None:
            return None
        if leaving:
            self.reconciling.discard(key)
        changes: dict[str, Any] = {"status": status, "status_rank": status_rank, "updated_at": self.meter.clock.now_int()}
        if carrier_status:
            changes["carrier_status"] = carrier_status
        if error_code:
            changes["error_code"] = error_code
        if price:
            changes.update(price=price, price_unit=price_unit)
        if dispatch_state:
            changes.update(dispatch_state=DispatchState(dispatch_state), body="", lease_until=0)
            self.waiting.discard(key)
        self.items[key] = replace(current, **changes)
        if status_rank > PUSHED_AT_START:
            self.push_pending[member_id][message_id] = self.meter.clock.monotonic()
            self.status_at[key] = self.meter.clock.monotonic()
        return self.items[key]

    def mark_pushed(self, member_id: str, message_id: str, pushed_rank: int, note: str = "") -> bool:
        key = (member_id, message_id)
        current = self.items.get(key)
        if current is None or current.pushed_rank >= pushed_rank:
            self._w(member_id)
            self._w(member_id)  # both of the real code's conditional writes fail
            return False
        caught_up = current.status_rank <= pushed_rank
        self._w(member_id, 1 if caught_up else 0)
        if not caught_up:
            self._w(member_id)  # the first write's condition failed; the second lands
        self.items[key] = replace(current, pushed_rank=pushed_rank)
        if caught_up:
            self.push_pending[member_id].pop(message_id, None)
            if not self.push_pending[member_id]:
                del self.push_pending[member_id]
        return True

    def pending_for_portal(self, member_id: str, limit: int = 500) -> tuple[list[Message], bool]:
        entries = self.push_pending.get(member_id, {})
        ids = sorted(entries, key=entries.__getitem__)  # oldest first
        found = [self.items[(member_id, i)] for i in ids[:limit]]
        # An index query is eventually consistent: half a unit per 4 KB read, one page of up to 500.
        pages = max(1, math.ceil(min(len(ids), limit) / 500))
        for _ in range(pages):
            self.meter.read("messages", member_id, "Query", max(0.5, math.ceil(len(found) * ITEM_KB / 4) * 0.5 / pages))
        return found, len(ids) > limit

    def add_day_counts(
        self, counts: dict[tuple[str, str], dict[str, int]], seen: dict[tuple[str, str], dict[str, int]] | None = None
    ) -> int:
        for (member_id, day), increments in counts.items():
            self._w(member_id)
            self.day_counts[(member_id, day)].update(increments)
            if seen is not None:
                seen[(member_id, day)] = dict(self.day_counts[(member_id, day)])
        return len(counts)


class SimPortals:
    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.items: dict[str, Portal] = {}

    def add(self, member_id: str) -> Portal:
        portal = Portal(member_id, f"https://{member_id}.bitrix24.sim/rest/", handler_secret=f"k-{member_id}", access_token="t")  # noqa: S106
        self.items[member_id] = portal
        return portal

    def get_portal(self, member_id: str) -> Portal | None:
        self.meter.read("portals", member_id)
        return self.items.get(member_id)

    def save_senders(self, member_id: str, senders: dict[str, dict[str, str]]) -> bool:
        self.meter.write("portals", member_id)
        portal = self.items.get(member_id)
        if portal is None or not portal.installed:
            return False
        self.items[member_id] = replace(portal, senders=senders)
        return True

    def take_sender_number(self, member_id: str, number: int) -> bool:
        """``sender_seq`` only rises (conditional): False when it is at ``number`` or above already."""
        self.meter.write("portals", member_id)
        portal = self.items.get(member_id)
        if portal is None or not portal.installed or portal.sender_seq >= number:
            return False
        self.items[member_id] = replace(portal, sender_seq=number)
        return True


class Turn(NamedTuple):
    busy_until: float
    last_push: float
    wake_at: float = 0.0
    linger: float = 0.0


class SimLimits:
    """LimitsTable: the push turns (store.limits) and the portals' token buckets (TokenBucket)."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.turns: dict[str, dict[str, Any]] = {}
        self.buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def push_turn(self, member_id: str) -> Turn:
        self.meter.read("limits", member_id)
        turn = self.turns.get(member_id, {})
        return Turn(turn.get("busy_until", 0.0), turn.get("last_push", 0.0), turn.get("wake_at", 0.0), turn.get("linger", 0.0))

    def set_push_wake(self, member_id: str, at: float) -> None:
        self.meter.write("limits", member_id)
        self.turns.setdefault(member_id, {})["wake_at"] = at

    def take_push_turn(self, member_id: str, owner: str, until: float) -> bool:
        self.meter.write("limits", member_id)
        turn = self.turns.setdefault(member_id, {})
        if turn.get("busy_until", 0.0) >= self.meter.clock.time():
            return False
        turn.update(busy_until=until, owner=owner)
        return True

    def end_push_turn(self, member_id: str, owner: str, pushed: bool, linger: float = 0.0) -> None:
        self.meter.write("limits", member_id)
        turn = self.turns.get(member_id, {})
        if turn.get("owner") == owner:
            # REMOVE busy_until, as store.limits does; here it holds when the turn ended instead, which
            # is the same for every drain that starts later. A drain the event loop runs earlier in
            # simulated time (invocations run whole, each on its own clock: local/memory/clock.py) sees
            # the portal busy, as it would have: without this, two drains of a portal overlapped in
            # simulated time and the simulation charged the portal's bucket for calls made in parallel.
            turn["busy_until"] = self.meter.clock.time()
            turn.pop("owner", None)
            if pushed:
                turn["last_push"] = self.meter.clock.time()
                turn["linger"] = linger

    def acquire(self, key: str, member_id: str, rate: float, burst: float, max_wait: float) -> bool:
        """``TokenBucket.acquire``'s arithmetic (one consistent read and one conditional write a
        token); sleeps on the simulated clock while the wait fits in ``max_wait``, else False."""
        waited = 0.0
        while True:
            self.meter.read("limits", member_id)
            now = self.meter.clock.time()
            tokens, at = self.buckets.get(key, (burst, now))
            tokens = min(burst, tokens + max(0.0, now - at) * rate)
            if tokens >= 1:
                self.meter.write("limits", member_id)
                self.buckets[key] = (tokens - 1, max(now, at))  # never back: no refill counted twice
                return True
            wait = (1 - tokens) / rate
            if waited + wait > max_wait:
                return False
            self.meter.clock.sleep(wait)
            waited += wait
