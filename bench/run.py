"""`make bench`: figures for sizing a deployment, each beside a baseline measured in the same run.

Runs on the local stack (moto's DynamoDB and SQS, every function in-process) with the portal emulator
at Bitrix24's real limits (2 req/s, burst 50). Prints a table and writes bench/results/latest.json.

    BENCH_LATENCY=200 BENCH_SLOW=50 BENCH_BURST=1000 BENCH_THROUGHPUT=5000 make bench
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

from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from local.template import ROOT, Template

RESULTS = ROOT / "bench" / "results"
FINAL = ("delivered", "undelivered", "failed")

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
        session.events.register("before-call", self._count)

    def _count(self, event_name: str, params: dict[str, Any], **kwargs: Any) -> None:
        _, service, op = event_name.split(".", 2)  # before-call.<service>.<Operation>
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
    emu: PortalEmulator, portal: EmulatedPortal, count: int, workers: int = 8, max_in_flight: int = 0
) -> tuple[list[str], float]:
    """Hand ``count`` SMS to the app as the portal does; with ``max_in_flight``, hold back while that
    many are handed over but not yet final (a steady load rather than one burst)."""
    started = time.monotonic()
    in_flight = threading.Semaphore(max_in_flight) if max_in_flight else None

    def one(i: int) -> str:
        if in_flight is not None:
            in_flight.acquire()
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
            ids = list(pool.map(one, range(count)))
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


def cold_starts() -> dict[str, float]:
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
    figures = {"boto3 (baseline)": import_time("import boto3", env)}
    for spec in Template().functions():
        path = spec.code_dir / f"{spec.module}.py"
        code = (
            f"import importlib.util as u; s = u.spec_from_file_location('app', {str(path)!r}); "
            "m = u.module_from_spec(s); s.loader.exec_module(m)"
        )
        figures[spec.logical_id] = import_time(code, env)
    return figures


def main() -> int:
    n_latency = int(os.environ.get("BENCH_LATENCY", "200"))
    n_slow = int(os.environ.get("BENCH_SLOW", "50"))
    n_burst = int(os.environ.get("BENCH_BURST", "1000"))
    n_throughput = int(os.environ.get("BENCH_THROUGHPUT", "5000"))
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "prices_usd": PRICES}
    calls = AwsCalls()
    emu = PortalEmulator(rate=2, burst=50).start()
    # moto's server gets a process (a core) of its own; everything else shares this one.
    stack = LocalStack(env={"BITRIX_OAUTH_URL": emu.oauth_url}, default_concurrency=4, moto_process=True).start()
    try:
        progress(f"1/5 handler latency: {n_latency} SMS with the carrier at 0 ms, {n_slow} at 1000 ms")
        # 1. handler acknowledgement latency, carrier at 0 ms and at 1000 ms
        p1 = install(emu, stack, "latency")
        fast = latency(emu, p1, n_latency, 0)
        slow = latency(emu, p1, n_slow, 1000)
        os.environ["SANDBOX_SEND_DELAY_MS"] = "0"
        results["ack_latency_ms"] = {
            "carrier_0ms": {"p50": percentile(fast, 50) * 1e3, "p99": percentile(fast, 99) * 1e3, "n": len(fast)},
            "carrier_1000ms": {"p50": percentile(slow, 50) * 1e3, "p99": percentile(slow, 99) * 1e3, "n": len(slow)},
            "ratio_p50": percentile(slow, 50) / percentile(fast, 50),
        }
        wait_final(p1, list(p1.messages), 300)

        progress(f"2/5 burst of {n_burst} SMS to one portal")
        # 2 and 3. a burst to one portal: REST calls per status, throttling, losses, AWS requests
        p2 = install(emu, stack, "burst")
        before_calls, before_inv = calls.snapshot(), dict(stack.invocations)
        before_secs = dict(stack.invocation_seconds)
        rest_before = len(p2.calls)
        limited_before = p2.limit_exceeded
        started = time.monotonic()
        ids, handover = send_many(emu, p2, n_burst)
        last = wait_final(p2, ids, 600)
        lost = [m for m in ids if p2.final_status(m) not in FINAL]
        landed = [t[-1] for m in ids if (t := p2.status_times.get(m)) and len(t) > 1]
        rest = [c for c in p2.calls[rest_before:] if not c.in_batch]
        pushed = len(ids) - len(lost)
        min_calls = math.ceil(n_burst / 50)
        results["burst"] = {
            "messages": n_burst,
            "rest_calls": len(rest),
            "rest_calls_per_status": len(rest) / max(pushed, 1),
            "goal_rest_calls_per_status": 1 / 40,
            "query_limit_exceeded": p2.limit_exceeded - limited_before,
            "statuses_lost": len(lost),
            "handover_seconds": handover,
            "last_status_seconds": (max(landed) - (time.time() - (time.monotonic() - started))) if landed else None,
            "floor_seconds": max(handover, (min_calls - 50) / 2 if min_calls > 50 else 0.0),
        }
        after_calls, after_inv = calls.snapshot(), dict(stack.invocations)
        delta = after_calls - before_calls
        per = {k: v / n_burst for k, v in sorted(delta.items())}
        writes = sum(v for k, v in delta.items() if k.split(".")[1] in WRITE_OPS) / n_burst
        reads = sum(v for k, v in delta.items() if k.split(".")[1] in READ_OPS | {"BatchGetItem"}) / n_burst
        sqs = sum(v for k, v in delta.items() if k.startswith("sqs.")) / n_burst
        invocations = {k: (after_inv.get(k, 0) - before_inv.get(k, 0)) / n_burst for k in after_inv}
        lambda_seconds = sum(stack.invocation_seconds.get(k, 0.0) - before_secs.get(k, 0.0) for k in after_inv) / n_burst
        http_requests = sum(v for k, v in invocations.items() if k in ("HandlerFunction", "StatusFunction"))
        cost = (
            writes * PRICES["dynamodb_write_request_unit"]
            + reads * PRICES["dynamodb_read_request_unit"]
            + sqs * PRICES["sqs_request"]
            + sum(invocations.values()) * PRICES["lambda_request"]
            + lambda_seconds * LAMBDA_MEMORY_GB * PRICES["lambda_gb_second_arm64"]
            + http_requests * PRICES["http_api_request"]
        ) * 1e6
        results["per_message"] = {
            "aws_requests": per,
            "dynamodb_writes": writes,
            "dynamodb_reads": reads,
            "sqs_requests": sqs,
            "lambda_invocations": invocations,
            "lambda_seconds_local": lambda_seconds,
            "usd_per_million_messages": cost,
        }

        progress("4/5 cold start imports")
        # 4. cold start: import time of each function's module vs `import boto3`
        results["cold_start_seconds"] = cold_starts()

        progress(f"5/5 throughput: {n_throughput} SMS end to end")
        # 5. throughput of the local stack, end to end
        p3 = install(emu, stack, "throughput")
        started = time.monotonic()
        # A steady load: at most 500 SMS between handover and final status. (moto's SQS scans the whole
        # queue on every receive, so one 5,000-message burst would measure moto, not the stack.)
        ids, handover = send_many(emu, p3, n_throughput, max_in_flight=500)
        last = wait_final(p3, ids, 900)
        lost = [m for m in ids if p3.final_status(m) not in FINAL]
        results["throughput"] = {
            "messages": n_throughput,
            "seconds": last - started,
            "messages_per_second": n_throughput / (last - started),
            "handover_seconds": handover,
            "handover_per_second": n_throughput / handover,
            "lost": len(lost),
            "query_limit_exceeded": p3.limit_exceeded,
            "rest_calls_per_status": len([c for c in p3.calls if not c.in_batch and c.method != "messageservice.sender.add"])
            / n_throughput,
        }
    finally:
        stack.stop()
        emu.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    print(render(results))
    ok = results["burst"]["statuses_lost"] == 0 and results["throughput"]["lost"] == 0
    return 0 if ok else 1


def render(r: dict[str, Any]) -> str:
    a, b, c, t, m = r["ack_latency_ms"], r["burst"], r["cold_start_seconds"], r["throughput"], r["per_message"]
    base = c["boto3 (baseline)"]
    fast, slow = a["carrier_0ms"], a["carrier_1000ms"]
    invocations = ", ".join(f"{k.removesuffix('Function')} {v:.3f}" for k, v in m["lambda_invocations"].items() if v)
    lines = [
        f"b24sms benchmark, {r['date']}",
        "(local stack: moto + in-process functions; portal emulator at Bitrix24's 2 req/s, burst 50)",
        "",
        "1. handler acknowledgement   carrier 0 ms (baseline)   carrier 1000 ms   ratio",
        f"   p50                      {fast['p50']:8.1f} ms             {slow['p50']:8.1f} ms     {a['ratio_p50']:.2f}x",
        f"   p99                      {fast['p99']:8.1f} ms             {slow['p99']:8.1f} ms",
        "",
        f"2. burst of {b['messages']} SMS to one portal",
        f"   REST calls per status    {b['rest_calls_per_status']:.4f} ({b['rest_calls']} calls); goal <= 0.025",
        f"   QUERY_LIMIT_EXCEEDED     {b['query_limit_exceeded']}; goal 0",
        f"   statuses lost            {b['statuses_lost']}; must be 0",
        f"   last status after        {b['last_status_seconds']:.1f} s; floor {b['floor_seconds']:.1f} s "
        f"(the portal's own handover; 2 req/s allows it); ratio {b['last_status_seconds'] / b['floor_seconds']:.2f}x",
        "",
        "3. per message over its life (burst run)",
        f"   DynamoDB writes / reads  {m['dynamodb_writes']:.2f} / {m['dynamodb_reads']:.2f}",
        f"   SQS requests             {m['sqs_requests']:.2f} (incl. the queue pollers')",
        f"   Lambda invocations       {invocations}",
        f"   AWS cost per 1M SMS      ${m['usd_per_million_messages']:.2f} (list prices in bench/run.py; carrier fees excluded)",
        "",
        "4. cold start: module import   seconds   vs import boto3",
    ]
    lines += [f"   {name:27} {secs:7.3f}   {secs / base:.2f}x" for name, secs in c.items()]
    lines += [
        "",
        f"5. throughput, {t['messages']} SMS end to end (at most 500 in flight): {t['messages_per_second']:.1f} msg/s "
        f"({t['seconds']:.0f} s);",
        f"   the portal's handover alone {t['handover_per_second']:.1f} msg/s; lost {t['lost']}; "
        f"QUERY_LIMIT_EXCEEDED {t['query_limit_exceeded']}; REST calls per status {t['rest_calls_per_status']:.4f}",
        "",
        f"written to {RESULTS / 'latest.json'}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
