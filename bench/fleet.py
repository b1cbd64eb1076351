"""The fleet section of `make bench`: many portals, each with its own 2 req/s burst-50 bucket, every
one installed through the real install flow, all handing their SMS over together; some slow (each REST
call answered 1 s late), some down for the first minute (refusing connections, or answering 503).

What it reports, for the healthy portals (the faulty ones must cost only themselves):
REST calls per status, the last status against its floor (what the portals' buckets allow: their own
handover), the p95 and the tail of status latency (handover to final status), and the same healthy
portals' figures in a second run without the faulty ones (the ratio shows what the faulty ones cost
them); lost, pushed twice and QUERY_LIMIT_EXCEEDED over every portal. The arithmetic is in pure
functions (``portal_row``, ``summary``) so that tests can check it on made-up timelines.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack

FINAL = ("delivered", "undelivered", "failed")
STATUS_METHOD = "messageservice.message.status.update"
BATCH_SIZE = 50  # commands in one Bitrix24 batch call


@dataclass
class PortalRow:
    """One portal's run, as plain numbers (what the arithmetic needs)."""

    kind: str  # healthy, slow, refusing, 503
    sent: dict[str, float]  # message id -> when the portal handed it over (wall clock)
    final: dict[str, float | None]  # message id -> when its final status landed (None: never)
    push_calls: int = 0  # REST calls that carried statuses (batch or a single status.update)
    duplicates: int = 0  # status updates that repeated one already applied
    limit_exceeded: int = 0
    rate: float = 2.0
    burst: float = 50.0
    extra: dict[str, Any] = field(default_factory=dict)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def floor_seconds(row: PortalRow, started: float) -> float:
    """The earliest the portal's last status could land, from ``started``: after its last handover,
    and no earlier than its bucket lets the batch calls through (one call per 50 statuses; the burst
    takes 50 calls at once, then ``rate`` a second)."""
    handover = max(row.sent.values(), default=started) - started
    calls = math.ceil(len(row.sent) / BATCH_SIZE)
    return max(handover, (calls - row.burst) / row.rate if calls > row.burst else 0.0)


def portal_row(portal: EmulatedPortal, kind: str, ids: list[str], since_call: int) -> PortalRow:
    """What the emulator recorded for ``ids`` of ``portal`` (calls from index ``since_call`` on)."""
    sent = {m: portal.status_times[m][0] for m in ids if portal.status_times.get(m)}
    final = {m: (portal.status_times[m][-1] if portal.final_status(m) in FINAL else None) for m in ids}
    calls = portal.calls[since_call:]
    push_calls = sum(1 for c in calls if not c.in_batch and (c.method == "batch" or c.method == STATUS_METHOD))
    applied: Counter[tuple[str, str]] = Counter(
        (str(c.params.get("MESSAGE_ID")), str(c.params.get("STATUS")))
        for c in calls
        if c.method == STATUS_METHOD and c.status == 200
    )
    return PortalRow(
        kind=kind,
        sent=sent,
        final=final,
        push_calls=push_calls,
        duplicates=sum(n - 1 for n in applied.values()),
        limit_exceeded=sum(1 for c in calls if c.error == "QUERY_LIMIT_EXCEEDED"),
        rate=portal.rate,
        burst=portal.burst,
    )


def summary(rows: list[PortalRow], started: float) -> dict[str, Any]:
    """The figures of one run: healthy portals' calls per status, last status vs floor, latency; lost,
    duplicated and QUERY_LIMIT_EXCEEDED over every portal."""
    healthy = [r for r in rows if r.kind == "healthy"]
    landed = [r.final[m] - r.sent[m] for r in healthy for m in r.sent if r.final.get(m) is not None]  # type: ignore[operator]
    pushed = sum(1 for r in healthy for t in r.final.values() if t is not None)
    last = max((t for r in healthy for t in r.final.values() if t is not None), default=None)
    floor = max((floor_seconds(r, started) for r in healthy), default=0.0)
    faulty_last = max((t for r in rows if r.kind != "healthy" for t in r.final.values() if t is not None), default=None)
    out: dict[str, Any] = {
        "portals": len(rows),
        "kinds": dict(Counter(r.kind for r in rows)),
        "messages": sum(len(r.sent) for r in rows),
        "healthy_statuses": pushed,
        "healthy_push_calls": sum(r.push_calls for r in healthy),
        "rest_calls_per_status": sum(r.push_calls for r in healthy) / max(pushed, 1),
        "goal_rest_calls_per_status": 1 / 18,  # a portal's 20 statuses in one batch call
        "last_status_seconds": None if last is None else last - started,
        "floor_seconds": floor,
        "last_vs_floor": None if last is None else (last - started) / max(floor, 1e-9),
        "faulty_last_status_seconds": None if faulty_last is None else faulty_last - started,
        "p95_latency_seconds": percentile(landed, 95) if landed else None,
        "tail_latency_seconds": max(landed) if landed else None,
        "lost": sum(1 for r in rows for t in r.final.values() if t is None),
        "duplicated": sum(r.duplicates for r in rows),
        "query_limit_exceeded": sum(r.limit_exceeded for r in rows),
    }
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing, or b is 0 (nothing measured: a run that pushed nothing
    within its wait has 0 calls per status, and a ratio over it means nothing)."""
    if a is None or b is None or b <= 0:
        return None
    return a / b


def compare(with_faulty: dict[str, Any], without: dict[str, Any]) -> dict[str, float | None]:
    """The healthy portals' latency with the faulty ones over the same without them."""
    return {
        "p95": ratio(with_faulty.get("p95_latency_seconds"), without.get("p95_latency_seconds")),
        "tail": ratio(with_faulty.get("tail_latency_seconds"), without.get("tail_latency_seconds")),
        "rest_calls_per_status": ratio(with_faulty.get("rest_calls_per_status"), without.get("rest_calls_per_status")),
    }


def kinds(portals: int, slow: int, refusing: int, unavailable: int) -> list[str]:
    """The kind of each portal: the faulty ones spread through the fleet, not bunched at one end."""
    faulty = ["slow"] * slow + ["refusing"] * refusing + ["503"] * unavailable
    out = ["healthy"] * portals
    if faulty:
        step = portals / len(faulty)
        for i, kind in enumerate(faulty):
            out[int(i * step)] = kind
    return out


def plan_for(portals: int, faulty_share: float = 0.1) -> list[str]:
    """The issue's fleet: a tenth slow, a tenth down (half refusing connections, half answering 503)."""
    slow = round(portals * faulty_share)
    down = round(portals * faulty_share)
    refusing = math.ceil(down / 2)
    return kinds(portals, slow, refusing, down - refusing)


def phase(
    emu: PortalEmulator,
    stack: LocalStack,
    portals: int,
    small: int,
    per_portal: int,
    down_seconds: float,
    slow_seconds: float,
    seconds_left: Any,
    progress: Any = None,
    save: Any = None,
) -> dict[str, Any]:
    """The three runs of the section: ``portals`` with a tenth slow and a tenth down; as many, all
    healthy (the same load, without the faulty ones); ``small`` with the same shares (flat?).
    ``seconds_left()`` says how long a run may still wait for its statuses."""
    out: dict[str, Any] = {"portals": portals, "small_portals": small, "per_portal": per_portal, "down_seconds": down_seconds}
    out["slow_seconds"] = slow_seconds
    runs = (
        ("with_faulty", "fa", plan_for(portals)),
        ("without_faulty", "fb", ["healthy"] * portals),
        ("small", "fc", plan_for(small)),
    )
    for key, prefix, plan in runs:
        if progress:
            counts = dict(Counter(plan))
            progress(f"   fleet run {key}: {len(plan)} portals {counts} x {per_portal} SMS")
        out[key] = run(emu, stack, prefix, plan, per_portal, down_seconds, slow_seconds, seconds_left(), progress=progress)
        if save:
            save(out)
    out["healthy_with_vs_without"] = compare(out["with_faulty"], out["without_faulty"])
    out["calls_per_status_vs_small"] = ratio(out["with_faulty"]["rest_calls_per_status"], out["small"]["rest_calls_per_status"])
    return out


def install_fleet(emu: PortalEmulator, stack: LocalStack, prefix: str, plan: list[str], workers: int = 4) -> list[EmulatedPortal]:
    """Every portal through the real install flow (the install page, as the portal's iframe posts it)."""

    def one(i: int) -> EmulatedPortal:
        portal = emu.add_portal(f"{prefix}{i:03d}")
        if plan[i] == "refusing":
            emu.own_endpoint(portal)  # its own socket, so that it can refuse connections
        response = emu.install(portal, f"{stack.base_url}/bitrix/install")
        assert response.status_code == 200, response.text
        return portal

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(len(plan))))


def run(
    emu: PortalEmulator,
    stack: LocalStack,
    prefix: str,
    plan: list[str],
    per_portal: int,
    down_seconds: float,
    slow_seconds: float,
    wait_seconds: float,
    workers: int = 8,
    progress: Any = None,
) -> dict[str, Any]:
    """One fleet run: install, break the faulty portals, hand over every SMS together, wait for the
    final statuses (at most ``wait_seconds``), and summarise."""
    portals = install_fleet(emu, stack, prefix, plan)
    marks = [len(p.calls) for p in portals]
    timers: list[threading.Timer] = []
    for portal, kind in zip(portals, plan, strict=True):
        if kind == "slow":
            emu.slow_down(portal, slow_seconds)
        elif kind in ("refusing", "503"):
            timers.append(emu.take_down(portal, down_seconds, refuse=kind == "refusing"))
    started = time.time()
    jobs = [(p, i) for i in range(per_portal) for p in range(len(portals))]  # round robin: all together

    def hand_over(job: tuple[int, int]) -> tuple[int, str]:
        p, i = job
        message_id, response = emu.send_sms(portals[p], f"+1557{p:03d}{i:03d}7", "Fleet campaign", with_auth=False)
        assert response.status_code == 200, response.text
        return p, message_id

    ids: list[list[str]] = [[] for _ in portals]
    with ThreadPoolExecutor(workers) as pool:
        for p, message_id in pool.map(hand_over, jobs):
            ids[p].append(message_id)
    handed = time.time()
    if progress:
        progress(f"   {len(jobs)} SMS handed over in {handed - started:.0f} s; waiting for their statuses")
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if all(p.final_status(m) in FINAL for p, own in zip(portals, ids, strict=True) for m in own):
            break
        time.sleep(0.5)
    for timer in timers:
        timer.cancel()
    for portal, kind in zip(portals, plan, strict=True):  # leave nothing broken for a later run
        if kind == "slow":
            emu.slow_down(portal, 0)
        elif kind == "503":
            portal.down = False
        elif kind == "refusing":
            emu.accept_connections(portal)
    with emu.lock:
        rows = [portal_row(p, kind, own, mark) for p, kind, own, mark in zip(portals, plan, ids, marks, strict=True)]
    figures = summary(rows, started)
    figures["handover_seconds"] = handed - started
    figures["waited_seconds"] = wait_seconds
    return figures
