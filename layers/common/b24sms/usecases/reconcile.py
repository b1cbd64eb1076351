"""Reconciliation: a message whose carrier callback was lost ends with the status the carrier holds,
late but right, instead of ``sent`` forever.

A message enters the sparse index ``by-reconcile`` in the write that records the carrier's answer
to the send, due after its carrier's usual delivery time (``SPEC.delivery_time``, or the deployment's
``RECONCILE_AFTER``), and leaves it in the write that stores its final status: a message whose
callback comes in time costs the reconciler nothing but the index's own writes.

- ``sweep`` (ReconcileFunction, every five minutes) reads what is due: one Query per index shard,
  at most ``SWEEP_LIMIT`` messages, never a Scan. It takes each (a conditional write moving its due
  time on: never more than one query per message per interval, even with two sweeps racing) and
  queues ONE message per carrier account with at most ``PER_ACCOUNT`` of them; an account's excess
  waits for the next sweep. A message whose final status is already stored just leaves the index; one
  whose carrier has no status query (AWS, Vonage) is due next when it is to be given up.
- ``check_account`` (ReconcileAccountFunction, one queue message per invocation) asks that account's
  carrier about each message, paced at the carrier's ``status_queries_per_second``, and applies each
  answer through the callback's own path (``status_updates.apply_report``: forward only, pushed like
  any status). A message with no final status ``RECONCILE_GIVE_UP_AFTER`` after it was created ends
  ``undelivered`` with ``RECONCILE_NO_FINAL_STATUS``. One slow account holds only its own invocation.

The interval doubles with each query that found the message still non-final (from the delivery time
up to ``MAX_INTERVAL``), so a message costs a few queries over its 72 hours, not one per sweep.

A final message in the index wants only its price (``SPEC.price_after``, usecases/reconcile_price.py):
queued like the others, asked once (at most ``reconcile_price.TRIES`` times), then it leaves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import carriers, config, queues, store
from b24sms.adapters.carriers import Carrier, StatusReport, TransientCarrierError, UnknownCarrier
from b24sms.domain import bitrix_statuses
from b24sms.domain.models import CarrierConfig
from b24sms.usecases import reconcile_price, status_updates

logger = Logger(child=True)

SWEEP_LIMIT = 800  # due messages looked at per sweep
PER_ACCOUNT = 100  # messages one carrier account is asked about per sweep (one queue message)
MAX_INTERVAL = 6 * 3600  # the longest wait between two queries about one message
GIVE_UP_CODE = "RECONCILE_NO_FINAL_STATUS"
FINAL_RANK = bitrix_statuses.rank(bitrix_statuses.DELIVERED)


def interval(after: int, tries: int) -> int:
    """Seconds until a message asked about for the ``tries``-th time is due again."""
    return int(min(max(after, 60) * 2 ** max(tries, 0), MAX_INTERVAL))


def sweep(limit: int = SWEEP_LIMIT) -> dict[str, int]:
    """Take the due messages and queue them per carrier account; what it did, counted."""
    now = store.now()
    give_up_after = config.reconcile_give_up_after()
    accounts: dict[tuple[str, str, str], list[list[Any]]] = {}
    counts = {"due": 0, "queued": 0, "dropped": 0, "deferred": 0, "later": 0}
    for item in store.recon.due(limit, now):
        counts["due"] += 1
        price_only = item.status_rank >= FINAL_RANK  # final: only its price may be left to ask
        price_after = carriers.price_after(item.carrier) if price_only and item.carrier_message_id else 0
        if price_only and (not price_after or item.tries >= reconcile_price.TRIES):  # nothing (more) to ask
            counts["dropped"] += store.recon.drop(item.member_id, item.message_id, item.due)
            continue
        give_up_at = item.created_at + give_up_after
        askable = bool(item.carrier_message_id) and carriers.status_query_rate(item.carrier) > 0
        if not price_only and not askable and now < give_up_at:  # nobody to ask: due again when it is given up
            counts["later"] += store.recon.take(item.member_id, item.message_id, item.due, give_up_at)
            continue
        account = (item.carrier, item.credentials, item.sender)
        batch = accounts.setdefault(account, [])
        if len(batch) >= PER_ACCOUNT:  # this account's share of the sweep is full: the next sweep
            counts["deferred"] += 1
            continue
        after = price_after or carriers.delivery_time(item.carrier)
        due_again = now + interval(after, item.tries)
        if now < give_up_at and not price_only:
            due_again = min(due_again, max(give_up_at, now + 60))
        if store.recon.take(item.member_id, item.message_id, item.due, due_again):
            batch.append([item.member_id, item.message_id, item.carrier_message_id, item.created_at, item.status_rank])
    bodies = [
        {"carrier": carrier, "credentials": credentials, "sender": sender, "messages": batch}
        for (carrier, credentials, sender), batch in sorted(accounts.items())
        if batch
    ]
    if bodies:
        queues.enqueue_reconciles(bodies)
    counts["queued"] = sum(len(b["messages"]) for b in bodies)
    counts["accounts"] = len(bodies)
    if counts["queued"] or counts["dropped"]:
        logger.info("reconciliation sweep", extra=counts)
    return counts


def _adapter(carrier: str, credentials: str, sender: str) -> Carrier | None:
    own = CarrierConfig(carrier, sender, credentials=credentials) if (sender or credentials) else None
    try:
        return carriers.get_carrier(carrier, own)
    except UnknownCarrier:
        logger.warning("reconciliation: carrier not configured", extra={"carrier": carrier})
        return None


def check_account(
    body: dict[str, Any], remaining: Callable[[], float] = lambda: 60.0, sleep: Callable[[float], None] = time.sleep
) -> dict[str, int]:
    """Ask one carrier account about its queued messages (paced) and apply what it says; give up on
    those past ``RECONCILE_GIVE_UP_AFTER``. Stops early when ``remaining()`` (seconds) runs low:
    what is left is asked at its next interval."""
    carrier = str(body["carrier"])
    rate = carriers.status_query_rate(carrier)
    adapter = _adapter(carrier, str(body.get("credentials", "")), str(body.get("sender", ""))) if rate > 0 else None
    pause = 1.0 / rate if rate > 0 else 0.0
    give_up_after = config.reconcile_give_up_after()
    counts = {"asked": 0, "advanced": 0, "final": 0, "given_up": 0, "failed": 0, "unknown": 0, "priced": 0}
    last = 0.0
    costs: dict[tuple[str, str], dict[str, int]] = {}  # the prices found: one ADD per portal and day
    for entry in body.get("messages", []):
        member_id, message_id, carrier_message_id, created_at = entry[:4]
        known_rank = int(entry[4]) if len(entry) > 4 else 0  # the status stored when it was swept
        if remaining() < 5:
            break
        key = f"{member_id}.{message_id}"
        report: StatusReport | None = None
        if adapter is not None and rate > 0 and carrier_message_id:
            wait = last + pause - time.monotonic()
            if wait > 0:
                sleep(wait)
            last = time.monotonic()
            counts["asked"] += 1
            try:
                report = carriers.query_status(adapter, str(carrier_message_id), key)
                counts["unknown"] += report is None
            except TransientCarrierError as exc:
                counts["failed"] += 1
                logger.warning("reconciliation: query failed", extra={"carrier": carrier, "code": exc.code})
        if known_rank >= FINAL_RANK:  # final when swept: only its price is wanted
            counts["priced"] += reconcile_price.record(str(member_id), str(message_id), report, costs)
            continue
        source = f"reconciler:{carrier}"
        if report is not None and report.bitrix_status is not None and bitrix_statuses.rank(report.bitrix_status) > known_rank:
            report = replace(report, message_key=key, part_id="")  # its price, if it has one, rides the status
            outcome = status_updates.apply_report(carrier, report, source=source)
            counts["advanced"] += outcome == "advanced"
            if report.bitrix_status in bitrix_statuses.FINAL:
                counts["final"] += 1
                continue
        if store.now() >= int(created_at) + give_up_after:
            hours = give_up_after // 3600
            ended = StatusReport(
                str(carrier_message_id), report.carrier_status if report else "", bitrix_statuses.UNDELIVERED, key, GIVE_UP_CODE,
                f"no final status from the carrier {hours} h after sending",
            )  # fmt: skip
            counts["given_up"] += status_updates.apply_report(carrier, ended, source=source) == "advanced"
    reconcile_price.add(costs)
    logger.info("reconciliation of an account", extra={"carrier": carrier, **counts})
    return counts
