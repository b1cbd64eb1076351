"""`make bench`: figures for sizing a deployment, each beside a baseline measured in the same run.

Runs on the local stack (moto's DynamoDB and SQS, every function in-process) with the portal emulator
at Bitrix24's real limits (2 req/s, burst 50). Prints a table and writes bench/results/latest.json and
latest.md after every phase, so a phase that fails or a slow shutdown never loses the figures before it.

Bounded in time: the whole run stays within BENCH_BUDGET seconds (default 540) on a 2-core machine;
a phase that runs out of time reports what it measured so far. The defaults (sizes and budget):

    BENCH_LATENCY=100 BENCH_SLOW=20 BENCH_BURST=500 BENCH_THROUGHPUT=1000 BENCH_BUDGET=540 \
    BENCH_PARSER_CAP=30 BENCH_COLD_RUNS=3 make bench

section 2b, the reconciler's cost per 1,000 SMS, runs alone too (``python -m bench.reconcile_cost``),
and the fleet section's (bench/fleet.py; BENCH_FLEET=0 leaves it out):

    BENCH_FLEET=40 BENCH_FLEET_SMALL=10 BENCH_FLEET_SMS=20 BENCH_FLEET_DOWN=60 BENCH_FLEET_SLOW=1 make bench

``BENCH_ONLY=single`` runs only the single-portal figures (the burst, its AWS requests per SMS by
operation, and an idle portal's status latency: BENCH_IDLE SMS, default 10, one at a time), about
a minute, for measuring a change to the per-SMS path without loading the machine for the whole run.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

from bench import fleet, reconcile_cost
from local.functions import LAYER_DIR
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from local.template import ROOT, Template

RESULTS = ROOT / "bench" / "results"
FINAL = ("delivered", "undelivered", "failed")
PARSER_SIZES = (5_000, 50_000)
# One body per shape: a PHP list key repeated (a[]=1&a[]=1…) and distinct keys (k0=v&k1=v…).
PARSER_PROBE = """
import json, sys, time
from b24sms.domain.formdata import FormError, Limits, decode_form
# The bounds would refuse these bodies at once (1,000 fields): lift them to measure the algorithm itself.
limits = Limits(max_bytes=10**9, max_fields=10**7)
n, shape, repeats = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
body = "&".join(["a[]=1"] * n) if shape == "list" else "&".join(f"k{i}=v" for i in range(n))
times = []
for _ in range(repeats):
    started = time.perf_counter()
    try:
        decode_form(body, limits)
    except FormError as exc:
        print(json.dumps({"refused": str(exc)}))
        sys.exit(0)
    times.append(time.perf_counter() - started)
print(json.dumps({"seconds": sorted(times)[len(times) // 2]}))
"""

# Published on-demand list prices, us-east-1, as of 2026-11 (carrier fees excluded).
PRICES = {
    "dynamodb_write_request_unit": 0.625 / 1e6,
    "dynamodb_read_request_unit": 0.125 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "http_api_request": 1.00 / 1e6,
}
LAMBDA_MEMORY_GB = 0.25  # MemorySize 256 in template.yaml

WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem"}
READ_OPS = {"GetItem", "Query", "Scan"}


class AwsCalls:
    """Counts every DynamoDB and SQS request the process makes (functions and queue pollers alike),
    in request units: a BatchGetItem of n keys is n reads, a batch SQS call is one request."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
        assert session is not None
        # before-parameter-build sees the operation's own parameters (before-call sees the serialised
        # request, where RequestItems is not a key: a BatchGetItem counted 0 reads there).
        session.events.register("before-parameter-build", self._count)

    def _count(self, event_name: str, params: dict[str, Any], **kwargs: Any) -> None:
        _, service, op = event_name.split(".", 2)  # before-parameter-build.<service>.<Operation>
        units = 1
        if op == "BatchGetItem":
            units = sum(len(t.get("Keys", [])) for t in params.get("RequestItems", {}).values())
        elif op == "BatchWriteItem":
            units = sum(len(t) for t in params.get("RequestItems", {}).values())
        with self.lock:
            self.counts[f"{service}.{op}"] += units

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.counts)


class Budget:
    """The whole run's time limit: each wait takes what is left, minus what later phases need."""

    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + seconds

    def left(self, reserve: float = 0.0) -> float:
        return max(0.0, self.deadline - time.monotonic() - reserve)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def install(emu: PortalEmulator, stack: LocalStack, name: str) -> EmulatedPortal:
    portal = emu.add_portal(name)
    response = emu.install(portal, f"{stack.base_url}/bitrix/install")
    assert response.status_code == 200, response.text
    return portal


def send_many(
    emu: PortalEmulator,
    portal: EmulatedPortal,
    count: int,
    workers: int = 8,
    max_in_flight: int = 0,
    seconds: float = math.inf,
) -> tuple[list[str], float]:
    """Hand up to ``count`` SMS to the app as the portal does, for at most ``seconds``; with
    ``max_in_flight``, hold back while that many are handed over but not yet final (a steady load
    rather than one burst)."""
    started = time.monotonic()
    deadline = started + seconds
    in_flight = threading.Semaphore(max_in_flight) if max_in_flight else None

    def one(i: int) -> str:
        if in_flight is not None:
            while not in_flight.acquire(timeout=0.5):
                if time.monotonic() > deadline:
                    return ""
        if time.monotonic() > deadline:
            return ""
        message_id, response = emu.send_sms(portal, f"+1555{i:06d}7", "Your order is ready", with_auth=False)
        assert response.status_code == 200, response.text
        if in_flight is not None:
            watch.append(message_id)
        return message_id

    watch: list[str] = []
    stop = threading.Event()

    def release() -> None:  # frees a slot each time a watched message reaches its final status
        while not stop.is_set():
            for message_id in list(watch):
                if portal.final_status(message_id) in FINAL:
                    watch.remove(message_id)
                    assert in_flight is not None
                    in_flight.release()
            time.sleep(0.05)

    releaser = threading.Thread(target=release, daemon=True)
    if in_flight is not None:
        releaser.start()
    try:
        with ThreadPoolExecutor(workers) as pool:
            ids = [m for m in pool.map(one, range(count)) if m]
    finally:
        stop.set()
    return ids, time.monotonic() - started


def wait_final(portal: EmulatedPortal, ids: list[str], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(portal.final_status(m) in FINAL for m in ids):
            break
        time.sleep(0.2)
    return time.monotonic()


def latency(emu: PortalEmulator, portal: EmulatedPortal, count: int, delay_ms: int) -> list[float]:
    os.environ["SANDBOX_SEND_DELAY_MS"] = str(delay_ms)
    times = []
    for i in range(count):
        started = time.perf_counter()
        _, response = emu.send_sms(portal, f"+1556{i:06d}7", "latency probe", with_auth=False)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    return times


def import_time(code: str, env: dict[str, str], runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        probe = f"import time, sys; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
        out = subprocess.run(  # noqa: S603 - our own interpreter on our own probe
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, cwd=ROOT
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def cold_starts(runs: int) -> dict[str, float]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(ROOT / "layers" / "common"),
            "AWS_DEFAULT_REGION": "us-east-1",
            "PORTALS_TABLE": "p",
            "MESSAGES_TABLE": "m",
            "LIMITS_TABLE": "l",
            "OUTBOUND_QUEUE_URL": "q",
            "STATUS_QUEUE_URL": "q",
            "POWERTOOLS_SERVICE_NAME": "b24sms",
        }
    )
    figures = {"boto3 (baseline)": import_time("import boto3", env, runs)}
    for spec in Template().functions():
        path = spec.code_dir / f"{spec.module}.py"
        code = (
            f"import importlib.util as u; s = u.spec_from_file_location('app', {str(path)!r}); "
            "m = u.module_from_spec(s); s.loader.exec_module(m)"
        )
        figures[spec.logical_id] = import_time(code, env, runs)
    return figures


def parser_scaling(cap: float) -> dict[str, Any]:
    """decode_form's time on bodies of 5,000 and 50,000 keys, each in a fresh interpreter killed after
    ``cap`` seconds. A linear parser takes about 10x as long on 10x the keys; a quadratic one 100x."""
    env = dict(os.environ, PYTHONPATH=str(LAYER_DIR))
    figures: dict[str, Any] = {"cap_seconds": cap}
    for shape in ("list", "distinct"):
        row: dict[str, Any] = {}
        for n in PARSER_SIZES:
            repeats = 5 if n == PARSER_SIZES[0] else 3
            try:
                out = subprocess.run(  # noqa: S603 - our own interpreter on our own probe
                    [sys.executable, "-c", PARSER_PROBE, str(n), shape, str(repeats)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=ROOT,
                    timeout=cap,
                )
                row[str(n)] = json.loads(out.stdout.strip().splitlines()[-1])
            except subprocess.TimeoutExpired:
                row[str(n)] = {"over_seconds": cap}
        small, large = row[str(PARSER_SIZES[0])], row[str(PARSER_SIZES[1])]
        if "seconds" in small and "seconds" in large:
            row["ratio"] = large["seconds"] / max(small["seconds"], 1e-9)
        elif "seconds" in small and "over_seconds" in large:
            row["ratio_at_least"] = large["over_seconds"] / max(small["seconds"], 1e-9)
        figures[shape] = row
    return figures


def save(results: dict[str, Any]) -> None:
    """Both files, now: called after every phase and before the stack stops."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    (RESULTS / "latest.md").write_text(f"# b24sms benchmark\n\n```\n{render(results)}\n```\n")


def main() -> int:
    n_latency = int(os.environ.get("BENCH_LATENCY", "100"))
    n_slow = int(os.environ.get("BENCH_SLOW", "20"))
    n_burst = int(os.environ.get("BENCH_BURST", "500"))
    n_throughput = int(os.environ.get("BENCH_THROUGHPUT", "1000"))
    budget = Budget(float(os.environ.get("BENCH_BUDGET", "540")))
    parser_cap = float(os.environ.get("BENCH_PARSER_CAP", "30"))
    cold_runs = int(os.environ.get("BENCH_COLD_RUNS", "3"))
    n_fleet = int(os.environ.get("BENCH_FLEET", "40"))
    n_fleet_small = int(os.environ.get("BENCH_FLEET_SMALL", "10"))
    fleet_sms = int(os.environ.get("BENCH_FLEET_SMS", "20"))
    fleet_down = float(os.environ.get("BENCH_FLEET_DOWN", "60"))
    fleet_slow = float(os.environ.get("BENCH_FLEET_SLOW", "1"))
    only_single = os.environ.get("BENCH_ONLY", "") == "single"
    n_idle = int(os.environ.get("BENCH_IDLE", "10"))
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "prices_usd": PRICES}
    results["sizes"] = {"latency": n_latency, "slow": n_slow, "burst": n_burst, "throughput": n_throughput, "fleet": n_fleet}
    results["budget_seconds"] = budget.left()

    if not only_single:
        # Phases without the stack first: nothing else competes for the CPU while they measure.
        sizes = f"{PARSER_SIZES[0]:,} and {PARSER_SIZES[1]:,} keys"
        progress(f"1/7 form parser: decode_form on {sizes} (each capped at {parser_cap:.0f} s)")
        results["parser_scaling"] = parser_scaling(parser_cap)
        save(results)
        progress(f"2/7 cold start imports ({cold_runs} fresh interpreters per function)")
        # cold start: import time of each function's module vs `import boto3`
        results["cold_start_seconds"] = cold_starts(cold_runs)
        save(results)
        progress("2b reconciler: cost per 1,000 SMS over 73 simulated hours (in memory, about a second)")
        results["reconcile_cost"] = reconcile_cost.measure()
        save(results)

    calls = AwsCalls()
    emu = PortalEmulator(rate=2, burst=50).start()
    # moto's server gets a process (a core) of its own; everything else shares this one.
    stack = LocalStack(env={"BITRIX_OAUTH_URL": emu.oauth_url}, default_concurrency=4, moto_process=True).start()
    try:
        if only_single:
            progress(f"3/7 idle portal: {n_idle} SMS one at a time, handover to status in the CRM")
            results["idle"] = idle_latency(emu, install(emu, stack, "idle"), n_idle)
            save(results)
        else:
            progress(f"3/7 handler latency: {n_latency} SMS with the carrier at 0 ms, {n_slow} at 1000 ms")
            # handler acknowledgement latency, carrier at 0 ms and at 1000 ms
            p1 = install(emu, stack, "latency")
            fast = latency(emu, p1, n_latency, 0)
            slow = latency(emu, p1, n_slow, 1000)
            os.environ["SANDBOX_SEND_DELAY_MS"] = "0"
            results["ack_latency_ms"] = {
                "carrier_0ms": {"p50": percentile(fast, 50) * 1e3, "p99": percentile(fast, 99) * 1e3, "n": len(fast)},
                "carrier_1000ms": {"p50": percentile(slow, 50) * 1e3, "p99": percentile(slow, 99) * 1e3, "n": len(slow)},
                "ratio_p50": percentile(slow, 50) / percentile(fast, 50),
            }
            save(results)
            wait_final(p1, list(p1.messages), min(120, budget.left(reserve=300)))

        progress(f"4/7 burst of {n_burst} SMS to one portal")
        # a burst to one portal: REST calls per status, throttling, losses, AWS requests
        p2 = install(emu, stack, "burst")
        before_calls, before_inv = calls.snapshot(), dict(stack.invocations)
        before_iam = Counter(stack.iam.calls)
        before_secs = dict(stack.invocation_seconds)
        rest_before = len(p2.calls)
        limited_before = p2.limit_exceeded
        started = time.monotonic()
        ids, handover = send_many(emu, p2, n_burst)
        waited = min(240, budget.left(reserve=180))
        wait_final(p2, ids, waited)
        lost = [m for m in ids if p2.final_status(m) not in FINAL]
        landed = [t[-1] for m in ids if (t := p2.status_times.get(m)) and len(t) > 1]
        rest = [c for c in p2.calls[rest_before:] if not c.in_batch]
        pushed = len(ids) - len(lost)
        min_calls = math.ceil(n_burst / 50)
        results["burst"] = {
            "messages": len(ids),
            "rest_calls": len(rest),
            "rest_calls_per_status": len(rest) / max(pushed, 1),
            "goal_rest_calls_per_status": 1 / 40,
            "query_limit_exceeded": p2.limit_exceeded - limited_before,
            "statuses_lost": len(lost),
            "waited_seconds": waited,
            "handover_seconds": handover,
            "last_status_seconds": (max(landed) - (time.time() - (time.monotonic() - started))) if landed else None,
            "floor_seconds": max(handover, (min_calls - 50) / 2 if min_calls > 50 else 0.0),
        }
        after_calls, after_inv = calls.snapshot(), dict(stack.invocations)
        delta = after_calls - before_calls
        per = {k: v / len(ids) for k, v in sorted(delta.items())}
        writes = sum(v for k, v in delta.items() if k.split(".")[1] in WRITE_OPS) / len(ids)
        reads = sum(v for k, v in delta.items() if k.split(".")[1] in READ_OPS | {"BatchGetItem"}) / len(ids)
        sqs = sum(v for k, v in delta.items() if k.startswith("sqs.")) / len(ids)
        invocations = {k: (after_inv.get(k, 0) - before_inv.get(k, 0)) / len(ids) for k in after_inv}
        lambda_seconds = sum(stack.invocation_seconds.get(k, 0.0) - before_secs.get(k, 0.0) for k in after_inv) / len(ids)
        http_requests = sum(v for k, v in invocations.items() if k in ("HandlerFunction", "StatusFunction"))
        cost = (
            writes * PRICES["dynamodb_write_request_unit"]
            + reads * PRICES["dynamodb_read_request_unit"]
            + sqs * PRICES["sqs_request"]
            + sum(invocations.values()) * PRICES["lambda_request"]
            + lambda_seconds * LAMBDA_MEMORY_GB * PRICES["lambda_gb_second_arm64"]
            + http_requests * PRICES["http_api_request"]
        ) * 1e6
        by_step = Counter(stack.iam.calls) - before_iam  # each function's requests (local/iam records them)
        results["per_message"] = {
            "aws_requests": per,
            "requests_by_function": {
                f"{c.function} {c.action} {c.resource.rsplit(':', 1)[-1]}": n / len(ids)
                for c, n in sorted(by_step.items())
                if c.action.split(":")[0] in ("dynamodb", "sqs")
            },
            "dynamodb_writes": writes,
            "dynamodb_reads": reads,
            "sqs_requests": sqs,
            "lambda_invocations": invocations,
            "lambda_seconds_local": lambda_seconds,
            "usd_per_million_messages": cost,
        }
        save(results)

        if only_single:
            return _finish(results, budget, stack, emu)
        if n_fleet:
            progress(
                f"5/7 fleet: {n_fleet} portals x {fleet_sms} SMS (a tenth slow, a tenth down {fleet_down:.0f} s), "
                f"the same all healthy, and {n_fleet_small} portals"
            )

            def keep(partial: dict[str, Any]) -> None:
                results["fleet"] = partial
                save(results)

            # each run waits at most a third of what is left, the throughput phase keeps 60 s
            results["fleet"] = fleet.phase(
                emu,
                stack,
                n_fleet,
                n_fleet_small,
                fleet_sms,
                fleet_down,
                fleet_slow,
                lambda: max(30.0, min(300.0, budget.left(reserve=90) / 2)),
                progress=progress,
                save=keep,
            )
            save(results)

        # throughput of the local stack, end to end, with what time is left
        handover_limit = max(30.0, budget.left(reserve=60) / 2)
        progress(f"6/7 throughput: up to {n_throughput} SMS end to end (handover stops after {handover_limit:.0f} s)")
        p3 = install(emu, stack, "throughput")
        started = time.monotonic()
        # A steady load: at most 200 SMS between handover and final status. (moto's SQS scans the whole
        # queue on every receive, so one big burst would measure moto, not the stack.)
        ids, handover = send_many(emu, p3, n_throughput, max_in_flight=200, seconds=handover_limit)
        waited = max(10.0, budget.left(reserve=30))
        last = wait_final(p3, ids, waited)
        lost = [m for m in ids if p3.final_status(m) not in FINAL]
        results["throughput"] = {
            "messages": len(ids),
            "asked": n_throughput,
            "seconds": last - started,
            "messages_per_second": (len(ids) - len(lost)) / (last - started),
            "handover_seconds": handover,
            "handover_per_second": len(ids) / handover,
            "lost": len(lost),
            "waited_seconds": waited,
            "query_limit_exceeded": p3.limit_exceeded,
            "rest_calls_per_status": len([c for c in p3.calls if not c.in_batch and c.method != "messageservice.sender.add"])
            / max(len(ids), 1),
        }
    finally:
        if not only_single:
            _stop(results, budget, stack, emu)
    print(render(results))
    ok = results["burst"]["statuses_lost"] == 0 and results["throughput"]["lost"] == 0
    ok = ok and all(results.get("fleet", {}).get(k, {}).get("lost", 0) == 0 for k in ("with_faulty", "without_faulty", "small"))
    return 0 if ok else 1


def _stop(results: dict[str, Any], budget: Budget, stack: LocalStack, emu: PortalEmulator) -> None:
    # The figures first: stopping moto has been seen to hang, and must not cost them.
    results["seconds_total"] = budget.elapsed()
    save(results)
    progress("7/7 figures written; stopping the stack")
    try:
        stack.stop()
    except Exception as exc:  # a slow or stuck shutdown is not a failed benchmark
        progress(f"the stack did not stop cleanly: {exc!r}")
    emu.stop()


def _finish(results: dict[str, Any], budget: Budget, stack: LocalStack, emu: PortalEmulator) -> int:
    """BENCH_ONLY=single: the burst's figures with its requests by operation, and the idle probe."""
    _stop(results, budget, stack, emu)
    print(render(results))
    m = results["per_message"]
    print("\n   AWS requests per SMS by operation (burst run):")
    for op, per in m["aws_requests"].items():
        print(f"   {op:32} {per:.3f}")
    print("\n   by function, action and resource (requests, a BatchGetItem is one):")
    for step, per in m.get("requests_by_function", {}).items():
        print(f"   {step:90} {per:.3f}")
    return 0 if results["burst"]["statuses_lost"] == 0 else 1


def idle_latency(emu: PortalEmulator, portal: EmulatedPortal, count: int) -> dict[str, Any]:
    """An idle portal's SMS, one at a time: handover to its final status in the CRM. The sandbox
    carrier posts its callback before its send returns, so this bounds callback-to-CRM from above."""
    os.environ["SANDBOX_SEND_DELAY_MS"] = "0"
    seconds = []
    for i in range(count):
        message_id, response = emu.send_sms(portal, f"+1557{i:06d}7", "idle probe", with_auth=False)
        assert response.status_code == 200, response.text
        wait_final(portal, [message_id], 30)
        times = portal.status_times.get(message_id, [])
        if len(times) > 1:
            seconds.append(times[-1] - times[0])
        time.sleep(3)  # idle again: past any linger
    if not seconds:
        return {"n": 0}
    return {"n": len(seconds), "p50": percentile(seconds, 50), "p95": percentile(seconds, 95)}


def _secs(figure: dict[str, Any]) -> str:
    if "seconds" in figure:
        return f"{figure['seconds']:8.4f} s"
    if "over_seconds" in figure:
        return f"> {figure['over_seconds']:.0f} s (cut)"
    return f"refused: {figure.get('refused', '?')}"


def _ratio(row: dict[str, Any]) -> str:
    if "ratio" in row:
        return f"{row['ratio']:.1f}x"
    if "ratio_at_least" in row:
        return f">= {row['ratio_at_least']:.0f}x"
    return "-"


def _f(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def render_fleet(f: dict[str, Any] | None, asked: int) -> list[str]:
    """The fleet section: each run's figures side by side, then the ratios between them."""
    if not asked:
        return ["", "5b. fleet: left out (BENCH_FLEET=0)"]
    if not f or "with_faulty" not in f:
        return ["", "5b. fleet", "   not measured (the run stopped before this phase)"]
    runs = [(k, f[k]) for k in ("with_faulty", "without_faulty", "small") if k in f]
    heads = {"with_faulty": "with faulty", "without_faulty": "all healthy", "small": "small fleet"}
    lines = [
        "",
        f"5b. fleet: {f['per_portal']} SMS per portal handed over together; each portal its own 2 req/s burst-50 bucket;",
        f"    a tenth slow ({f['slow_seconds']:.0f} s a REST call), a tenth down for {f['down_seconds']:.0f} s "
        "(half refusing connections, half 503)",
        "   " + " " * 34 + "".join(f"{heads[k]:>16}" for k, _ in runs),
        "   portals (healthy)                 "
        + "".join(f"{str(v['portals']) + ' (' + str(v['kinds'].get('healthy', 0)) + ')':>16}" for _, v in runs),
    ]
    rows: list[tuple[str, Any]] = [
        ("REST calls per status, healthy", lambda v: _f(v["rest_calls_per_status"], ".4f")),
        ("healthy last status (s)", lambda v: _f(v["last_status_seconds"], ".1f")),
        ("  floor: their handover (s)", lambda v: _f(v["floor_seconds"], ".1f")),
        ("  last status / floor", lambda v: _f(v["last_vs_floor"], ".2f", "x")),
        ("healthy p95 status latency (s)", lambda v: _f(v["p95_latency_seconds"], ".1f")),
        ("healthy tail status latency (s)", lambda v: _f(v["tail_latency_seconds"], ".1f")),
        ("faulty portals' last status (s)", lambda v: _f(v["faulty_last_status_seconds"], ".1f")),
        ("not final* / twice / QUERY_LIMIT", lambda v: f"{v['lost']} / {v['duplicated']} / {v['query_limit_exceeded']}"),
        ("  * within the run's wait (s)", lambda v: _f(v.get("waited_seconds"), ".0f")),
    ]
    for label, cell in rows:
        lines.append(f"   {label:34}" + "".join(f"{cell(v):>16}" for _, v in runs))
    if (c := f.get("healthy_with_vs_without")) is not None:
        lines.append(
            f"   healthy portals with the faulty ones vs without: p95 {_f(c['p95'], '.2f', 'x')}, "
            f"tail {_f(c['tail'], '.2f', 'x')}, calls per status {_f(c['rest_calls_per_status'], '.2f', 'x')}; goal <= 1.10x"
        )
    if (flat := f.get("calls_per_status_vs_small")) is not None:
        lines.append(
            f"   calls per status, {f['portals']} portals vs {f['small_portals']}: {_f(flat, '.2f', 'x')} (flat: within 1.20x); "
            "goal per status <= 0.0556 (20 statuses, 1 batch call)"
        )
    return lines


def render(r: dict[str, Any]) -> str:
    """The report; a phase that did not run (or ran out of time) says so instead of a figure."""
    lines = [
        f"b24sms benchmark, {r['date']}",
        "(local stack: moto + in-process functions; portal emulator at Bitrix24's 2 req/s, burst 50)",
    ]
    if "seconds_total" in r:
        lines.append(f"(whole run {r['seconds_total'] / 60:.1f} min, budget {r['budget_seconds'] / 60:.0f} min)")
    missing = "   not measured (the run stopped before this phase)"
    small_keys, large_keys = f"{PARSER_SIZES[0]:,} keys", f"{PARSER_SIZES[1]:,} keys"
    lines += ["", f"1. form parser, decode_form   {small_keys}     {large_keys}      ratio (linear: ~10x)"]
    if (ps := r.get("parser_scaling")) is not None:
        for shape, label in (("list", "a[]=1 repeated"), ("distinct", "k<i>=v distinct")):
            row = ps[shape]
            small, large = row[str(PARSER_SIZES[0])], row[str(PARSER_SIZES[1])]
            lines.append(f"   {label:26} {_secs(small):>14}   {_secs(large):>16}   {_ratio(row)}")
    else:
        lines.append(missing)
    lines += ["", "2. cold start: module import   seconds   vs import boto3"]
    if (c := r.get("cold_start_seconds")) is not None:
        base = c["boto3 (baseline)"]
        lines += [f"   {name:27} {secs:7.3f}   {secs / base:.2f}x" for name, secs in c.items()]
    else:
        lines.append(missing)
    lines += reconcile_cost.render(r["reconcile_cost"]) if "reconcile_cost" in r else ["", "2b. reconciler", missing]
    lines += ["", "3. handler acknowledgement   carrier 0 ms (baseline)   carrier 1000 ms   ratio"]
    if (a := r.get("ack_latency_ms")) is not None:
        fast, slow = a["carrier_0ms"], a["carrier_1000ms"]
        lines += [
            f"   p50                      {fast['p50']:8.1f} ms             {slow['p50']:8.1f} ms     {a['ratio_p50']:.2f}x",
            f"   p99                      {fast['p99']:8.1f} ms             {slow['p99']:8.1f} ms",
            f"   ({fast['n']} and {slow['n']} SMS)",
        ]
    else:
        lines.append(missing)
    if (b := r.get("burst")) is not None:
        last = b["last_status_seconds"]
        landed = (
            f"{last:.1f} s; floor {b['floor_seconds']:.1f} s (the portal's own handover; 2 req/s allows it); "
            f"ratio {last / max(b['floor_seconds'], 1e-9):.2f}x"
            if last is not None
            else "no status landed"
        )
        lines += [
            "",
            f"4. burst of {b['messages']} SMS to one portal",
            f"   REST calls per status    {b['rest_calls_per_status']:.4f} ({b['rest_calls']} calls); goal <= 0.025",
            f"   QUERY_LIMIT_EXCEEDED     {b['query_limit_exceeded']}; goal 0",
            f"   statuses lost            {b['statuses_lost']} (no final status within {b['waited_seconds']:.0f} s); must be 0",
            f"   last status after        {landed}",
        ]
    else:
        lines += ["", "4. burst to one portal", missing]
    lines += ["", "5. per message over its life (burst run)"]
    if (m := r.get("per_message")) is not None:
        invocations = ", ".join(f"{k.removesuffix('Function')} {v:.3f}" for k, v in m["lambda_invocations"].items() if v)
        lines += [
            f"   DynamoDB writes / reads  {m['dynamodb_writes']:.2f} / {m['dynamodb_reads']:.2f}",
            f"   SQS requests             {m['sqs_requests']:.2f} (incl. the queue pollers')",
            f"   Lambda invocations       {invocations}",
            f"   AWS cost per 1M SMS      ${m['usd_per_million_messages']:.2f} "
            "(list prices in bench/run.py; carrier fees excluded)",
        ]
    else:
        lines.append(missing)
    if (idle := r.get("idle")) is not None and idle.get("n"):
        lines.append(
            f"   idle portal: handover to status in the CRM p50 {idle['p50']:.2f} s, p95 {idle['p95']:.2f} s "
            f"({idle['n']} SMS one at a time); goal p50 <= 1.5 s after the callback"
        )
    lines += render_fleet(r.get("fleet"), r.get("sizes", {}).get("fleet", 40))
    if (t := r.get("throughput")) is not None:
        lines += [
            "",
            f"6. throughput, {t['messages']} SMS end to end (of {t['asked']} asked; at most 200 in flight): "
            f"{t['messages_per_second']:.1f} msg/s ({t['seconds']:.0f} s);",
            f"   the portal's handover alone {t['handover_per_second']:.1f} msg/s; not final {t['lost']} "
            f"(no final status within {t['waited_seconds']:.0f} s); QUERY_LIMIT_EXCEEDED {t['query_limit_exceeded']}; "
            f"REST calls per status {t['rest_calls_per_status']:.4f}",
        ]
    else:
        lines += ["", "6. throughput", missing]
    lines += ["", f"written to {RESULTS / 'latest.json'} and latest.md"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
