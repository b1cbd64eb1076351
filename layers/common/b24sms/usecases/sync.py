"""The sender sync as a fan-out (issue #18): one SQS message per portal, each portal synced on its own.

``start`` (the sender sync function, invoked by an operator) does no REST call: it reads one page of
the installed portals (a Scan of at most ``PAGE`` items, ``member_id`` only) and queues a message per
portal on the sync queue, ten to a SendMessageBatch; when the table has more, the last message of the
page is a continuation (``{"scan_from": LastEvaluatedKey}``), and the sync queue's consumer reads the
next page when it gets there. So no invocation loops over the fleet: each one costs one Scan page and
at most ``PAGE / 10 + 1`` SQS requests, however many portals are installed. With ``member_ids`` it
queues just those portals (what the tests use: a test syncs only the portals it installed).

``process`` (the sync queue's consumer) syncs one portal per message (``events.sync_portal``, what
ONAPPUPDATE runs). A portal that fails (down, refusing, a REST error) defers only its own message:
its visibility becomes ``SYNC_RETRY_BASE`` (60 s) doubling per receive, up to an hour, and after the
queue's maxReceiveCount it lands in the dead-letter queue (alarmed). The sync is idempotent, so a
message delivered twice only costs the listing calls again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import queues, store
from b24sms.adapters.bitrix.tokens import client_for
from b24sms.adapters.config import get_settings
from b24sms.domain.errors import Invalid
from b24sms.usecases import bitrix_events, senders

logger = Logger(child=True)

PAGE = 100  # portals per Scan page, and so per invocation: 1 Scan + 11 SendMessageBatch at most
MAX_MEMBER_IDS = 1000  # an operator's list; more is the full sync's job
MAX_DELAY = 3600


@dataclass
class Queued:
    """What ``start`` or a continuation queued: portals, and whether a next page follows."""

    portals: int = 0
    next_page: bool = False
    requests: int = 0  # SQS requests made

    def as_dict(self) -> dict[str, Any]:
        return {"queued": self.portals, "next_page": self.next_page, "sqs_requests": self.requests}


@dataclass
class Processed:
    """What one batch of the sync queue did; ``failures`` are the message ids to hand back."""

    reports: list[senders.SyncReport] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    pages: int = 0
    skipped: int = 0  # not installed any more, or a message that is not ours


def member_ids_of(event: Any) -> list[str] | None:
    """The optional ``{"member_ids": [...]}`` of the sender sync's input: None for every portal."""
    if not isinstance(event, dict) or event.get("member_ids") is None:
        return None
    ids = event["member_ids"]
    if not isinstance(ids, list) or not all(isinstance(m, str) and 0 < len(m) <= 64 for m in ids):
        raise Invalid("member_ids must be a list of member ids")
    if len(ids) > MAX_MEMBER_IDS:
        raise Invalid(f"at most {MAX_MEMBER_IDS} member_ids; leave them out to sync every portal")
    return list(dict.fromkeys(ids))


def start(event: Any) -> Queued:
    """The sender sync: queue every installed portal (the first page, and a continuation), or just
    the portals ``member_ids`` names."""
    ids = member_ids_of(event)
    if ids is None:
        return fan_out(None)
    return Queued(portals=len(ids), requests=queues.enqueue_syncs([{"member_id": m} for m in ids]))


def fan_out(scan_from: dict[str, Any] | None, page: int = PAGE) -> Queued:
    """One page of installed portals, from ``scan_from``, onto the sync queue; a continuation last
    when the table has more."""
    ids, next_key = store.portals.installed_page(scan_from, page)
    bodies: list[dict[str, Any]] = [{"member_id": m} for m in ids]
    if next_key:
        bodies.append({"scan_from": next_key})
    queued = Queued(portals=len(ids), next_page=bool(next_key), requests=queues.enqueue_syncs(bodies) if bodies else 0)
    logger.info("sender sync: portals queued", extra=queued.as_dict())
    return queued


def sync_one(member_id: str) -> senders.SyncReport | None:
    """Sync one portal (None: it is not installed any more, nothing to do)."""
    portal = store.portals.get_portal(member_id)
    if portal is None or not portal.installed:
        return None
    return bitrix_events.sync_portal(client_for(portal), portal)


def retry_delay(receives: int) -> int:
    """Seconds before a failed portal's sync is tried again: ``SYNC_RETRY_BASE`` doubling per receive."""
    return int(min(get_settings().sync_retry_base * 2 ** max(receives - 1, 0), MAX_DELAY))


def _defer(record: dict[str, Any], done: Processed) -> None:
    receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
    try:
        queues.delay_redelivery(
            str(record.get("eventSourceARN") or ""), str(record.get("receiptHandle") or ""), retry_delay(receives)
        )
    except Exception:  # the message then comes back after the queue's visibility timeout
        logger.exception("sync message not delayed")
    done.failures.append(str(record.get("messageId") or ""))


def process(records: list[dict[str, Any]]) -> Processed:
    """Each record of the sync queue on its own: a portal to sync or a page of portals to queue.
    A failure defers only that record."""
    done = Processed()
    for record in records:
        try:
            body = json.loads(str(record.get("body") or ""))
        except ValueError:
            body = None
        if not isinstance(body, dict) or not (isinstance(body.get("member_id"), str) or isinstance(body.get("scan_from"), dict)):
            logger.error("sync message dropped: not a portal or a page", extra={"message_id": record.get("messageId")})
            done.skipped += 1
            continue
        try:
            if isinstance(body.get("scan_from"), dict):
                fan_out(body["scan_from"])
                done.pages += 1
                continue
            report = sync_one(body["member_id"])
        except Exception:  # a DynamoDB or SQS error: this record only, retried later
            logger.exception("sync message failed", extra={"member_id": body.get("member_id", "")})
            _defer(record, done)
            continue
        if report is None:
            logger.info("sender sync: portal not installed", extra={"member_id": body["member_id"]})
            done.skipped += 1
            continue
        done.reports.append(report)
        if report.error:
            logger.warning("sender sync failed: retried later", extra=report.as_dict())
            _defer(record, done)
        else:
            logger.info("sender sync", extra=report.as_dict())
    return done
