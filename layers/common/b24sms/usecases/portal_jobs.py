"""Portal jobs: REST calls to a portal other than status pushes (CRM timeline entries, admin
notifications), queued per portal, never lost, made by the status push in the portal's turn after its
statuses, through the same paced client and ``batch`` calls of up to 50.

- ``add`` keeps a job (``store.jobs``: one item, ``ChatsTable``, ``job#<member_id>``; the same job id
  twice keeps one) and, with ``wake``, puts the portal's token on the status queue, so the push comes;
- the push (``usecases/push.py``) drains a portal's jobs when its receive holds the portal's token:
  after the statuses, in the same turn (one drain of a portal at a time, so a job is never made twice
  at once), within the same time budget; a portal that is down, slow or throttling keeps its jobs and
  its token is deferred as its statuses are;
- a call the portal refuses for good is dropped with a log line, never retried: the item is gone or
  closed to us (``OWNER_NOT_FOUND``, ``ACCESS_DENIED``, ``NOT_FOUND``), the scope was not granted,
  or the call is malformed; a transient error keeps the calls not yet made (no call made twice);
- a job may name a follow-up (``then``): code registered here by name (``register``) that turns the
  results of its calls into the next calls (``crm.duplicate.findbycomm`` → ``crm.timeline.logmessage.add``
  on each item found); those are made in the same drain when time allows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import queues, store
from b24sms.adapters.bitrix import BitrixError
from b24sms.adapters.bitrix.client import BATCH_LIMIT, BitrixClient
from b24sms.adapters.store.jobs import Call, Job

__all__ = ["Job", "add", "drain", "register"]
from b24sms.domain.models import Portal

logger = Logger(child=True)

JOBS_PER_DRAIN = 50  # a portal's jobs read per drain (one Query); a portal with more is woken again
DROP_CODES = frozenset({"OWNER_NOT_FOUND", "ACCESS_DENIED", "NOT_FOUND", "insufficient_scope"})
CONNECT_TIMEOUT = 1.0

# A follow-up: (portal, the job's data, the results of its calls by index) -> the next calls.
FollowUp = Callable[[Portal, dict[str, Any], dict[int, Any]], list[Call]]
FOLLOW_UPS: dict[str, FollowUp] = {}


def register(name: str, follow_up: FollowUp) -> None:
    FOLLOW_UPS[name] = follow_up


def add(
    member_id: str,
    job_id: str,
    calls: list[Call],
    *,
    then: str = "",
    data: dict[str, Any] | None = None,
    scope: str = "",
    wake: bool = True,
) -> bool:
    """Owe the portal ``calls`` (made in order, in its next push turn); the same ``job_id`` again adds
    nothing (False). ``scope``: what the calls need (a portal that did not grant it drops the job).
    ``wake``: queue the portal's token so a push comes (False only inside the portal's own drain)."""
    if not store.jobs.enabled():
        logger.warning("portal job not kept: no ChatsTable in this deployment", extra={"member_id": member_id})
        return False
    if not store.jobs.add(member_id, Job(job_id, calls, then, data or {}, scope)):
        return False
    if wake:
        queues.enqueue_portal_push(member_id)
    return True


@dataclass
class JobsReport:
    made: int = 0  # jobs finished
    dropped: int = 0  # calls dropped (refused for good)
    left: bool = False  # jobs remain (a transient error, the budget spent, more than one drain takes)
    deferred: BitrixError | None = None  # the portal's transient error, if any
    calls: list[str] = field(default_factory=list)  # the methods called (tests, metrics)


def drain(client: BitrixClient, portal: Portal, deadline: float, kept: Any = None) -> JobsReport:
    """Make the portal's jobs (the caller holds the portal's push turn): ``batch`` calls of up to 50,
    a follow-up's calls in a second round. ``kept``: where the jobs are (``store.jobs``, or the caller's
    stand-in). Raises nothing a portal answers: see ``JobsReport``."""
    kept = store.jobs if kept is None else kept
    report = JobsReport()
    jobs = kept.pending(portal.member_id, JOBS_PER_DRAIN)
    report.left = len(jobs) >= JOBS_PER_DRAIN
    jobs = [j for j in jobs if _granted(kept, portal, j, report)]
    for _round in range(2):
        if not jobs:
            break
        jobs = _round_of(kept, client, portal, jobs, deadline, report)
        if report.deferred is not None or time.monotonic() >= deadline:
            report.left = report.left or bool(jobs)
            break
    else:
        report.left = report.left or bool(jobs)
    return report


def _granted(kept: Any, portal: Portal, job: Job, report: JobsReport) -> bool:
    if not job.scope or portal.has_scope(job.scope):
        return True
    logger.warning(
        "portal job dropped: scope not granted", extra={"member_id": portal.member_id, "job": job.job_id, "scope": job.scope}
    )
    kept.finish(portal.member_id, job.job_id)
    report.dropped += len(job.calls)
    return False


def _round_of(kept: Any, client: BitrixClient, portal: Portal, jobs: list[Job], deadline: float, report: JobsReport) -> list[Job]:
    """Make every call of ``jobs``; returns the jobs that go on to a follow-up round."""
    commands = [(n, i, call) for n, job in enumerate(jobs) for i, call in enumerate(job.calls)]
    results: dict[tuple[int, int], Any] = {}
    refused: set[tuple[int, int]] = set()
    made: set[tuple[int, int]] = set()
    for start in range(0, len(commands), BATCH_LIMIT):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        chunk = commands[start : start + BATCH_LIMIT]
        client.timeout = (min(CONNECT_TIMEOUT, left), left)
        try:
            answer = client.batch({f"j{n}c{i}": call for n, i, call in chunk})
        except BitrixError as exc:
            if exc.transient or exc.code == "expired_token":
                report.deferred = exc
                break
            raise
        report.calls += [call[0] for _, _, call in chunk]
        for n, i, call in chunk:
            key = f"j{n}c{i}"
            error = answer.errors.get(key)
            if error is None:
                results[(n, i)] = answer.results.get(key)
                made.add((n, i))
            elif error.transient:
                report.deferred = report.deferred or error
            else:
                logger.warning(
                    "portal job call dropped",
                    extra={"member_id": portal.member_id, "job": jobs[n].job_id, "method": call[0], "error": error.code},
                )
                report.dropped += 1
                refused.add((n, i))
                made.add((n, i))
        if report.deferred is not None:
            break
    follow: list[Job] = []
    for n, job in enumerate(jobs):
        keys = [(n, i) for i in range(len(job.calls))]
        rest = [job.calls[i] for k, i in zip(keys, range(len(job.calls)), strict=True) if k not in made]
        if rest:  # a transient error or the budget: what is not made yet waits, nothing is made twice
            if len(rest) < len(job.calls):
                kept.progress(portal.member_id, job.job_id, rest, job.then, job.data)
            continue
        next_calls: list[Call] = []
        if job.then:
            follow_up = FOLLOW_UPS.get(job.then)
            if follow_up is None:
                logger.error("portal job has an unknown follow-up", extra={"job": job.job_id, "then": job.then})
            else:
                found = {i: results[(n, i)] for i in range(len(job.calls)) if (n, i) in results}
                next_calls = follow_up(portal, job.data, found)
        if next_calls:
            kept.progress(portal.member_id, job.job_id, next_calls, "", job.data)
            follow.append(Job(job.job_id, next_calls, "", job.data, job.scope, job.attempts + 1, job.since))
            continue
        kept.finish(portal.member_id, job.job_id)
        report.made += 1
    return follow
