"""`make bench-fleet`: 10,000 portals by simulation (issue #18 item 8).

The REAL use cases run: the HANDLER's ``accept.authenticate_handler`` and ``accept.accept``, the
dispatch queue's ``dispatch.dispatch`` (as functions/dispatch/app.py calls it), the carrier callback's
``status_updates.apply_report`` and the status queue's ``status_queue.push_records`` with the real
``BitrixClient``. What they talk to is in memory (local/memory/): DynamoDB tables with conditional writes
and the sparse indexes, SQS queues (visibility, ChangeMessageVisibility, receive counts, DLQ, the
trigger's batch size and concurrency), a carrier that accepts and calls back after a delay, and portals
with their own 2 req/s burst-50 buckets. Time is simulated: nothing sleeps, an event loop orders what
happens, and each invocation (each portal drain within a push) advances its own clock by what it waits
on (AWS calls, the carrier, the portal).

    python -m bench.fleet_sim                     # 10,000 portals, and the same fleet with no faulty portal
    python -m bench.fleet_sim --portals 500       # a smaller fleet
    python -m bench.fleet_sim --no-baseline       # only the run with faulty portals
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import random
import statistics
import sys
import time as real_time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Any

from local.memory.portal import Bucket, SimPortal
from local.memory.sqs import SimQueue
from local.memory.world import World

PRICES = {  # the same list prices as bench/run.py (us-east-1, on-demand, arm64)
    "dynamodb_write_request_unit": 0.625 / 1e6,
    "dynamodb_read_request_unit": 0.125 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "http_api_request": 1.00 / 1e6,
}
LAMBDA_MEMORY_GB = 0.25  # MemorySize 256 in template.yaml
SQS_IN_FLIGHT_LIMIT = 120_000
PARTITION_WCU, PARTITION_RCU = 1000, 3000
ACCOUNT_CONCURRENCY = 1000
SIZE_CLASSES = (("1-9", 9), ("10-99", 99), ("100-999", 999), ("1000-5000", 5000))  # a new account's default Lambda concurrency


@dataclass
class Config:
    portals: int = 10_000
    seed: int = 18
    alpha: float = 0.8  # campaign sizes: P(size > x) = x^-alpha, 1 to max_campaign
    max_campaign: int = 5000
    handover: float = 10.0  # SMS/s a portal hands to the HANDLER during its campaign
    spread: float = 1800.0  # campaigns start within this many seconds
    slow_share: float = 0.01
    down_share: float = 0.01
    slow_call: float = 1.0  # seconds a REST call of a slow portal takes
    down_seconds: float = 3600.0
    call_seconds: float = 0.1  # a healthy portal's REST call
    carrier_send: float = 0.2  # the carrier's answer to a send
    callback_median: float = 5.0  # seconds from send to the delivery report (lognormal)
    aws_latency: float = 0.005  # each DynamoDB / SQS request
    dispatch_concurrency: int = 100  # DispatchConcurrency (template default 5; see the report)
    dispatch_batch: int = 10
    push_concurrency: int = 10
    push_batch: int = 100
    push_window: float = 1.0  # StatusBatchWindow
    push_timeout: float = 120.0
    poll: float = 0.1  # how soon a trigger sees a new message
    horizon: float = 12 * 3600.0


class SimCarrier:
    name = "simcarrier"

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.sent = 0

    def send(self, sms: Any) -> Any:
        from b24sms.adapters.carriers.base import SendResult

        self.sim.clock.sleep(self.sim.cfg.carrier_send)
        self.sent += 1
        cid = f"c{self.sent}"
        delay = self.sim.rng.lognormvariate(math.log(self.sim.cfg.callback_median), 0.5)
        self.sim.loop.at(self.sim.clock.monotonic() + delay, lambda: self.sim.callback(sms.key, cid))
        return SendResult(cid)


class Trigger:
    """A Lambda SQS event source mapping: up to ``concurrency`` invocations, ``batch`` records each;
    records not reported failed are deleted when the invocation ends."""

    def __init__(
        self,
        sim: Simulation,
        name: str,
        queue: SimQueue,
        batch: int,
        concurrency: int,
        interval: float,
        handler: Callable[..., list[str]],
    ) -> None:
        self.sim, self.name, self.queue = sim, name, queue
        self.batch, self.concurrency, self.interval, self.handler = batch, concurrency, interval, handler
        self.running = 0
        self.peak = 0
        self.next_poll = math.inf  # when the earliest poll scheduled is due

    def wake(self, at: float | None = None) -> None:
        """Poll at ``at`` (default: ``interval`` from now) unless a poll is due sooner already."""
        when = max(self.sim.clock.monotonic() + self.interval if at is None else at, self.sim.clock.base)
        if when < self.next_poll:
            self.next_poll = when
            self.sim.loop.at(when, lambda: self.poll(when))

    def poll(self, due: float | None = None) -> None:
        if due is not None and due != self.next_poll:
            return  # superseded by a sooner poll
        self.next_poll = math.inf
        while self.running < self.concurrency:
            records = self.queue.receive(self.batch)
            self.sim.aws["sqs.ReceiveMessage"] += 1
            if not records:
                break
            self.running += 1
            self.peak = max(self.peak, self.running)
            failures, took = self.sim.clock.run(self.handler, records)
            self.sim.invoked(self.name, took)
            self.sim.loop.after(took, functools.partial(self.finish, records, failures))
        if self.running < self.concurrency:
            at = self.queue.next_visible()
            if at is not None:
                self.wake(max(at, self.sim.clock.base + self.interval))

    def finish(self, records: list[dict[str, Any]], failures: list[str]) -> None:
        self.running -= 1
        failed = set(failures)
        done = [r for r in records if r["messageId"] not in failed]
        for record in done:
            self.queue.delete(record["receiptHandle"])
        self.sim.aws["sqs.DeleteMessageBatch"] += math.ceil(len(done) / 10)
        self.wake(self.sim.clock.base)


@dataclass
class PortalPlan:
    member_id: str
    size: int
    start: float
    kind: str  # healthy | slow | down


@dataclass
class Figures:
    label: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0
    simulated_seconds: float = 0.0
    sms: int = 0
    portals: dict[str, int] = field(default_factory=dict)
    campaign_sizes: dict[str, float] = field(default_factory=dict)
    statuses_pushed: int = 0
    lost: int = 0
    duplicated: int = 0
    query_limit_exceeded: int = 0
    calls_out_of_time_order: int = 0  # the simulation's own check (SimPortal.out_of_order): must be 0
    dlq: dict[str, int] = field(default_factory=dict)
    rest_calls_per_status_healthy: float = 0.0
    rest_calls_per_status_by_campaign: dict[str, float] = field(default_factory=dict)
    latency_healthy: dict[str, float] = field(default_factory=dict)
    latency_faulty: dict[str, dict[str, float]] = field(default_factory=dict)
    last_status_after_floor: dict[str, float] = field(default_factory=dict)
    per_sms: dict[str, float] = field(default_factory=dict)
    invocations_per_sms: dict[str, float] = field(default_factory=dict)
    cost_per_million: float = 0.0
    cost_parts: dict[str, float] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)


def campaign_sizes(rng: random.Random, count: int, alpha: float, cap: int) -> list[int]:
    """Skewed (Pareto, tail ``alpha``) sizes from 1 to ``cap``: most portals send a few SMS, a few
    send thousands."""
    return [min(cap, max(1, int(1 / (1 - rng.random()) ** (1 / alpha)))) for _ in range(count)]


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class Simulation:
    def __init__(self, cfg: Config, faulty: bool = True) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.world = World(cfg.aws_latency)
        self.clock, self.loop, self.meter = self.world.clock, self.world.loop, self.world.meter
        self.messages, self.portals, self.limits, self.chats = (
            self.world.messages,
            self.world.portals,
            self.world.limits,
            self.world.chats,
        )
        self.outbound, self.status, self.sqs = self.world.outbound, self.world.status, self.world.sqs
        self.carrier = self.world.carrier = SimCarrier(self)
        self.aws: Counter[str] = Counter()  # requests the Lambda service makes for us (receives, deletes)
        self.invocations: Counter[str] = Counter()
        self.lambda_seconds: defaultdict[str, float] = defaultdict(float)
        self.concurrent: Counter[str] = Counter()
        self.sim_portals = self.world.sim_portals
        self.plans: list[PortalPlan] = []
        self.accepted: dict[tuple[str, str], float] = {}
        self.handler_errors = 0
        self.in_flight_samples: list[tuple[float, int, int]] = []
        self.arrivals_per_second: Counter[int] = Counter()
        self._plan(faulty)
        self.dispatch_trigger = Trigger(
            self, "DispatchFunction", self.outbound, cfg.dispatch_batch, cfg.dispatch_concurrency, cfg.poll, self._dispatch
        )
        self.push_trigger = Trigger(
            self, "PushFunction", self.status, cfg.push_batch, cfg.push_concurrency, cfg.push_window, self._push
        )

    # -- the fleet -----------------------------------------------------------------------------------
    def _plan(self, faulty: bool) -> None:
        cfg = self.cfg
        sizes = campaign_sizes(self.rng, cfg.portals, cfg.alpha, cfg.max_campaign)
        starts = [self.rng.uniform(0, cfg.spread) for _ in range(cfg.portals)]
        order = list(range(cfg.portals))
        self.rng.shuffle(order)
        slow = set(order[: round(cfg.portals * cfg.slow_share)]) if faulty else set()
        down = set(order[len(slow) : len(slow) + round(cfg.portals * cfg.down_share)]) if faulty else set()
        for n in range(cfg.portals):
            member_id = f"p{n:05d}"
            kind = "slow" if n in slow else "down" if n in down else "healthy"
            self.portals.add(member_id)
            portal = SimPortal(
                member_id, Bucket(self.clock), cfg.call_seconds, "ok" if kind == "healthy" else kind, cfg.slow_call
            )
            if kind == "down":  # down from its campaign's start, for an hour
                portal.down_from, portal.down_until = starts[n], starts[n] + cfg.down_seconds
            self.sim_portals[member_id] = portal
            self.plans.append(PortalPlan(member_id, sizes[n], starts[n], kind))

    # -- the functions (thin, as in functions/*/app.py) -------------------------------------------------
    def invoked(self, name: str, seconds: float) -> None:
        self.invocations[name] += 1
        self.lambda_seconds[name] += seconds

    def _handover(self, plan: PortalPlan, n: int) -> None:
        from b24sms.usecases import accept

        def handler() -> None:
            portal = accept.authenticate_handler({"portal": plan.member_id, "key": f"k-{plan.member_id}"})
            message_id = f"{plan.member_id}-{n}"
            accept.accept(portal, accept.OutgoingSms(message_id, f"+7916{n % 10_000_000:07d}", "Campaign text", "b24sms"))
            self.accepted[(plan.member_id, message_id)] = self.clock.monotonic()

        _, took = self.clock.run(handler)
        self.invoked("HandlerFunction", took)
        self.arrivals_per_second[int(self.clock.base)] += 1
        self.dispatch_trigger.wake()
        if n + 1 < plan.size:
            self.loop.after(1 / self.cfg.handover, lambda: self._handover(plan, n + 1))

    def _dispatch(self, records: list[dict[str, Any]]) -> list[str]:
        """functions/dispatch/app.py's record loop: RetryLater puts the record back with its delay."""
        from b24sms.adapters import queues
        from b24sms.usecases import dispatch

        failures = []
        for record in records:
            member_id, message_id = queues.parse_body(record["body"])
            try:
                dispatch.dispatch(member_id, message_id)
            except dispatch.RetryLater as exc:
                queues.delay_redelivery(record["eventSourceARN"], record["receiptHandle"], exc.delay)
                failures.append(record["messageId"])
            except Exception:
                self.handler_errors += 1
                failures.append(record["messageId"])
        return failures

    def _push(self, records: list[dict[str, Any]]) -> list[str]:
        from b24sms.usecases import status_queue

        return status_queue.push_records(records, self.cfg.push_timeout).failures

    def callback(self, key: str, carrier_message_id: str) -> None:
        """The carrier's delivery report reaching StatusFunction."""
        from b24sms.adapters.carriers.base import StatusReport
        from b24sms.domain import bitrix_statuses
        from b24sms.usecases import status_updates

        report = StatusReport(carrier_message_id, "DELIVRD", bitrix_statuses.DELIVERED, message_key=key)
        _, took = self.clock.run(status_updates.apply_report, SimCarrier.name, report)
        self.invoked("StatusFunction", took)
        self.push_trigger.wake()

    def _sample(self) -> None:
        self.in_flight_samples.append((self.clock.base, self.outbound.in_flight_now(), self.status.in_flight_now()))
        if len(self.loop):  # something else is still to happen
            self.loop.after(30.0, self._sample)

    # -- the run ---------------------------------------------------------------------------------------
    def installed(self) -> AbstractContextManager[None]:
        """The use cases' adapters pointed at the stand-ins, their clocks at the simulated one."""
        return self.world.installed()

    def run(self) -> None:
        with self.installed():
            for plan in self.plans:
                self.loop.at(plan.start, functools.partial(self._handover, plan, 0))
            self.loop.at(0.0, self._sample)
            self.loop.run(until=self.cfg.horizon)

    # -- the figures -----------------------------------------------------------------------------------
    def figures(self, label: str, wall: float) -> Figures:
        cfg = self.cfg
        f = Figures(label=label, config=asdict(cfg), wall_seconds=round(wall, 1), simulated_seconds=round(self.clock.base, 1))
        sms = len(self.accepted)
        f.sms = sms
        kinds = {p.member_id: p.kind for p in self.plans}
        f.portals = dict(Counter(kinds.values()))
        sizes = [p.size for p in self.plans]
        f.campaign_sizes = {
            "min": min(sizes),
            "median": statistics.median(sizes),
            "mean": round(statistics.mean(sizes), 1),
            "p99": pct([float(s) for s in sizes], 0.99),
            "max": max(sizes),
            "at_max": sizes.count(cfg.max_campaign),
        }
        latency: dict[str, list[float]] = {"healthy": [], "slow": [], "down": []}
        last: dict[str, tuple[float, float]] = {}  # portal -> (last status stored, last status pushed)
        lost = duplicated = pushed = 0
        for key, message in self.messages.items.items():
            member_id, message_id = key
            seen = self.sim_portals[member_id].seen.get(message_id, [])
            stored = self.messages.status_at.get(key)
            if message.status_rank > message.pushed_rank or stored is None or not seen:
                lost += 1
                continue
            statuses_seen = [s for s, _ in seen]
            duplicated += len(statuses_seen) - len(set(statuses_seen))
            pushed += 1
            at = seen[0][1]
            latency[kinds[member_id]].append(at - stored)
            s, p = last.get(member_id, (0.0, 0.0))
            last[member_id] = (max(s, stored), max(p, at))
        f.statuses_pushed, f.lost, f.duplicated = pushed, lost, duplicated
        f.query_limit_exceeded = sum(p.query_limit_exceeded for p in self.sim_portals.values())
        f.calls_out_of_time_order = sum(p.out_of_order for p in self.sim_portals.values())
        f.dlq = {"outbound": len(self.outbound.dlq), "status": len(self.status.dlq)}
        healthy_calls = sum(p.requests for m, p in self.sim_portals.items() if kinds[m] == "healthy")
        f.rest_calls_per_status_healthy = round(healthy_calls / max(1, len(latency["healthy"])), 4)
        by_size: dict[str, list[int]] = {}  # campaign size class -> [REST calls, statuses] (healthy portals)
        for plan in self.plans:
            if plan.kind == "healthy":
                label = next(name for name, top in SIZE_CLASSES if plan.size <= top)
                calls, count = by_size.setdefault(label, [0, 0])
                by_size[label] = [calls + self.sim_portals[plan.member_id].requests, count + plan.size]
        f.rest_calls_per_status_by_campaign = {
            name: round(by_size[name][0] / max(1, by_size[name][1]), 4) for name, _ in SIZE_CLASSES if name in by_size
        }

        def summary(values: list[float]) -> dict[str, float]:
            return {
                "p50": round(pct(values, 0.5), 2),
                "p95": round(pct(values, 0.95), 2),
                "p99": round(pct(values, 0.99), 2),
                "max": round(max(values, default=0.0), 2),
                "count": len(values),
            }

        f.latency_healthy = summary(latency["healthy"])
        f.latency_faulty = {"slow": summary(latency["slow"]), "down": summary(latency["down"])}
        after = [p - s for m, (s, p) in last.items() if kinds[m] == "healthy"]
        f.last_status_after_floor = summary(after)

        def per(n: float) -> float:
            return n / max(1, sms)

        wru, rru = sum(self.meter.wru.values()), sum(self.meter.rru.values())
        sqs_requests = sum(self.sqs.requests.values()) + self.aws["sqs.ReceiveMessage"] + self.aws["sqs.DeleteMessageBatch"]
        f.per_sms = {
            "dynamodb_write_units": round(per(wru), 2),
            "dynamodb_read_units": round(per(rru), 2),
            "dynamodb_requests": round(per(sum(self.meter.requests.values())), 2),
            "sqs_requests": round(per(sqs_requests), 2),
            "sqs_requests_by_the_functions": round(per(sum(self.sqs.requests.values())), 2),
            "lambda_gb_seconds": round(per(sum(self.lambda_seconds.values())) * LAMBDA_MEMORY_GB, 4),
        }
        f.invocations_per_sms = {k: round(per(v), 3) for k, v in sorted(self.invocations.items())}
        http = self.invocations["HandlerFunction"] + self.invocations["StatusFunction"]
        parts = {
            "dynamodb": wru * PRICES["dynamodb_write_request_unit"] + rru * PRICES["dynamodb_read_request_unit"],
            "sqs": sqs_requests * PRICES["sqs_request"],
            "lambda": sum(self.invocations.values()) * PRICES["lambda_request"]
            + sum(self.lambda_seconds.values()) * LAMBDA_MEMORY_GB * PRICES["lambda_gb_second_arm64"],
            "http_api": http * PRICES["http_api_request"],
        }
        f.cost_parts = {k: round(v / max(1, sms) * 1e6, 2) for k, v in parts.items()}
        f.cost_per_million = round(sum(parts.values()) / max(1, sms) * 1e6, 2)
        f.limits = self._limits(sms)
        return f

    def _limits(self, sms: int) -> dict[str, Any]:
        cfg = self.cfg
        peak_out = max((o for _, o, _ in self.in_flight_samples), default=0)
        peak_status = max((s for _, _, s in self.in_flight_samples), default=0)
        peak_arrivals = max(self.arrivals_per_second.values(), default=0)
        hottest_w, hot_portal, _ = self.meter.hottest_wru
        hottest_r, _, _ = self.meter.hottest_rru
        # Writes a portal's partition takes per SMS at its campaign's pace (messages and limits tables
        # share nothing, so the messages table's part is what heats one partition).
        # Dispatch's rate at its cap: invocations at once over the Lambda seconds each SMS takes.
        dispatch_per_sms = self.lambda_seconds["DispatchFunction"] / max(1, sms)
        dispatch_rate = cfg.dispatch_concurrency / max(dispatch_per_sms, 1e-9)
        handler_seconds = self.lambda_seconds["HandlerFunction"] / max(1, self.invocations["HandlerFunction"])
        status_seconds = self.lambda_seconds["StatusFunction"] / max(1, self.invocations["StatusFunction"])
        # Concurrency: the HTTP functions at the peak arrival rate, plus both triggers at their caps.
        http_concurrency = peak_arrivals * (handler_seconds + status_seconds)
        peak_concurrency = http_concurrency + self.dispatch_trigger.peak + self.push_trigger.peak
        return {
            "sqs_in_flight_peak": {
                "outbound": peak_out,
                "status": peak_status,
                "limit": SQS_IN_FLIGHT_LIMIT,
                "binds_at_portals": int(SQS_IN_FLIGHT_LIMIT / max(1, peak_status) * cfg.portals),
            },
            "partition_heat": {
                "hottest_portal_wru_per_s": round(hottest_w, 1),
                "hottest_portal_rru_per_s": round(hottest_r, 1),
                "portal": hot_portal,
                "handover_sms_per_s": cfg.handover,
                "partition_wru_per_sms": round(self.meter.partition_writes / max(1, sms), 2),
                "binds_at_handover_sms_per_s": round(PARTITION_WCU / max(self.meter.partition_writes / max(1, sms), 1e-9)),
                "hottest_second_binds_at_handover_sms_per_s": round(PARTITION_WCU / max(hottest_w / cfg.handover, 1e-9)),
            },
            "lambda_concurrency": {
                "peak_arrivals_per_s": peak_arrivals,
                "http_functions": round(http_concurrency, 1),
                "dispatch_peak": self.dispatch_trigger.peak,
                "push_peak": self.push_trigger.peak,
                "total_peak": round(peak_concurrency, 1),
                "account_default": ACCOUNT_CONCURRENCY,
                "dispatch_seconds_per_sms": round(dispatch_per_sms, 3),
                "dispatch_sms_per_s_at_cap": round(dispatch_rate, 1),
                "dispatch_sms_per_s_at_template_default_5": round(5 / max(dispatch_per_sms, 1e-9), 1),
            },
            "outbound_backlog_peak": max((len(self.outbound.messages),), default=0),
            "handler_errors": self.handler_errors,
        }


def run(cfg: Config, faulty: bool) -> Figures:
    started = real_time.monotonic()
    sim = Simulation(cfg, faulty)
    sim.run()
    return sim.figures("with 1% slow and 1% down" if faulty else "all healthy", real_time.monotonic() - started)


def render(figures: list[Figures]) -> str:
    f = figures[0]
    base = figures[1] if len(figures) > 1 else None
    lines = [
        f"b24sms fleet simulation, {real_time.strftime('%Y-%m-%d %H:%M UTC', real_time.gmtime())}",
        f"{f.config['portals']:,} portals ({f.portals}), {f.sms:,} SMS; campaigns {f.campaign_sizes}",
        f"simulated {f.simulated_seconds / 3600:.2f} h in {f.wall_seconds:.0f} s of wall time",
        "",
        f"REST calls per status (healthy portals)   {f.rest_calls_per_status_healthy:.4f}; by campaign size "
        f"{f.rest_calls_per_status_by_campaign}",
        f"lost / duplicated / QUERY_LIMIT_EXCEEDED  {f.lost} / {f.duplicated} / {f.query_limit_exceeded}   (DLQ {f.dlq})",
        f"calls out of time order (must be 0)       {f.calls_out_of_time_order}",
        f"healthy portals' status latency, s        {f.latency_healthy}",
    ]
    if base:
        lines.append(f"  same fleet, no faulty portal            {base.latency_healthy}")
        if base.latency_healthy.get("p95"):
            lines.append(
                f"  ratio with/without faulty: p95 {f.latency_healthy['p95'] / base.latency_healthy['p95']:.2f}x, "
                f"max {f.latency_healthy['max'] / max(base.latency_healthy['max'], 1e-9):.2f}x"
            )
    lines += [
        f"faulty portals' status latency, s         {f.latency_faulty}",
        f"last status after its floor, s (healthy)  {f.last_status_after_floor}",
        f"per SMS                                   {f.per_sms}",
        f"Lambda invocations per SMS                {f.invocations_per_sms}",
        f"$ per 1M SMS                              {f.cost_per_million} {f.cost_parts}",
        f"limits                                    {json.dumps(f.limits)}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--portals", type=int, default=Config.portals)
    parser.add_argument("--seed", type=int, default=Config.seed)
    parser.add_argument("--dispatch-concurrency", type=int, default=Config.dispatch_concurrency)
    parser.add_argument("--no-baseline", action="store_true", help="skip the same fleet without faulty portals")
    parser.add_argument("--out", default="bench/results/fleet.json")
    args = parser.parse_args(argv)
    cfg = Config(portals=args.portals, seed=args.seed, dispatch_concurrency=args.dispatch_concurrency)
    figures = [run(cfg, faulty=True)]
    if not args.no_baseline:
        figures.append(run(cfg, faulty=False))
    text = render(figures)
    print(text)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as out:
        json.dump([asdict(f) for f in figures], out, indent=1)
    first = figures[0]
    return 1 if first.lost or first.duplicated or first.query_limit_exceeded or first.calls_out_of_time_order else 0


if __name__ == "__main__":
    sys.exit(main())
