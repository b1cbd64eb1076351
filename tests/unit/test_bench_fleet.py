"""The fleet section's arithmetic (bench/fleet.py), on made-up timelines: no stack, no emulator server."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench import fleet
from local.emulator.state import Call, EmulatorState


def row(kind: str, sent: list[float], final: list[float | None], calls: int = 1, **kw: object) -> fleet.PortalRow:
    ids = [f"m{i}" for i in range(len(sent))]
    return fleet.PortalRow(kind, dict(zip(ids, sent, strict=True)), dict(zip(ids, final, strict=True)), push_calls=calls, **kw)  # type: ignore[arg-type]


def test_calls_per_status_latency_and_last_status_count_only_the_healthy_portals():
    rows = [
        row("healthy", [100.0, 101.0], [103.0, 105.0], calls=1),
        row("healthy", [100.5, 102.0], [104.0, 110.0], calls=2),
        row("slow", [100.0], [190.0], calls=5),
        row("refusing", [100.0], [None], calls=0),
    ]
    s = fleet.summary(rows, started=100.0)
    assert s["healthy_statuses"] == 4 and s["healthy_push_calls"] == 3
    assert s["rest_calls_per_status"] == pytest.approx(3 / 4)
    latencies = [3.0, 4.0, 3.5, 8.0]
    assert s["tail_latency_seconds"] == pytest.approx(max(latencies))
    assert s["p95_latency_seconds"] == pytest.approx(8.0)  # nearest rank: ceil(0.95 * 4) = 4th of 4
    assert s["last_status_seconds"] == pytest.approx(10.0)
    assert s["floor_seconds"] == pytest.approx(2.0)  # the last healthy handover, at 102
    assert s["last_vs_floor"] == pytest.approx(5.0)
    assert s["faulty_last_status_seconds"] == pytest.approx(90.0)
    assert s["lost"] == 1  # counted over every portal, the faulty ones too
    assert s["kinds"] == {"healthy": 2, "slow": 1, "refusing": 1}
    assert s["messages"] == 6


def test_duplicates_and_query_limit_exceeded_add_up_over_every_portal():
    rows = [
        row("healthy", [0.0], [1.0], duplicates=2, limit_exceeded=1),
        row("503", [0.0], [5.0], duplicates=1, limit_exceeded=3),
    ]
    s = fleet.summary(rows, started=0.0)
    assert (s["duplicated"], s["query_limit_exceeded"], s["lost"]) == (3, 4, 0)


def test_nothing_landed_gives_no_latency_and_no_ratio():
    s = fleet.summary([row("healthy", [0.0, 1.0], [None, None])], started=0.0)
    assert s["last_status_seconds"] is None and s["last_vs_floor"] is None and s["p95_latency_seconds"] is None
    assert s["lost"] == 2 and s["rest_calls_per_status"] == 1.0  # one call over max(0, 1) statuses


def test_the_floor_is_the_handover_until_the_bucket_binds():
    # 20 statuses: one batch call, well within the burst of 50: the handover is the floor
    assert fleet.floor_seconds(row("healthy", [10.0] * 19 + [14.0], [None] * 20), started=10.0) == pytest.approx(4.0)
    # 5,000 statuses: 100 batch calls, 50 at once, then 2 a second: 25 s after start, past a 3 s handover
    big = row("healthy", [0.0] * 4999 + [3.0], [None] * 5000)
    assert fleet.floor_seconds(big, started=0.0) == pytest.approx(25.0)


def test_with_and_without_the_faulty_portals_is_a_ratio_of_the_same_figures():
    with_faulty = {"p95_latency_seconds": 6.0, "tail_latency_seconds": 9.0, "rest_calls_per_status": 0.5}
    without = {"p95_latency_seconds": 3.0, "tail_latency_seconds": 9.0, "rest_calls_per_status": 0.25}
    assert fleet.compare(with_faulty, without) == {"p95": 2.0, "tail": 1.0, "rest_calls_per_status": 2.0}
    assert fleet.compare({"p95_latency_seconds": None}, without)["p95"] is None


def test_the_faulty_portals_are_spread_through_the_fleet():
    plan = fleet.kinds(100, 10, 5, 5)
    assert len(plan) == 100
    assert plan.count("slow") == 10 and plan.count("refusing") == 5 and plan.count("503") == 5
    assert plan.count("healthy") == 80
    assert plan[:5] == ["slow", "healthy", "healthy", "healthy", "healthy"]
    assert fleet.kinds(10, 1, 1, 0).count("healthy") == 8
    assert fleet.kinds(3, 0, 0, 0) == ["healthy"] * 3


def test_a_portal_row_counts_push_calls_repeats_and_limits_from_the_emulator_record():
    portal = EmulatorState().add_portal("p")
    portal.calls.append(Call("messageservice.sender.add", {}, 200))  # before the run: not counted
    mark = len(portal.calls)
    for m, t in (("a", 10.0), ("b", 11.0)):
        portal.messages[m] = ["sent", "delivered"]
        portal.status_times[m] = [t, t + 2]
    portal.messages["c"] = ["sent"]
    portal.status_times["c"] = [12.0]
    update = fleet.STATUS_METHOD
    portal.calls += [
        Call("batch", {}, 200),
        Call(update, {"MESSAGE_ID": "a", "STATUS": "delivered"}, 200, in_batch=True),
        Call(update, {"MESSAGE_ID": "b", "STATUS": "delivered"}, 200, in_batch=True),
        Call("batch", {}, 503, error="QUERY_LIMIT_EXCEEDED"),
        Call(update, {"MESSAGE_ID": "a", "STATUS": "delivered"}, 200),  # a second time: pushed twice
        Call("messageservice.sender.list", {}, 200),  # the sender sync: not a push call
    ]
    r = fleet.portal_row(portal, "healthy", ["a", "b", "c"], mark)
    assert r.push_calls == 3 and r.duplicates == 1 and r.limit_exceeded == 1
    assert r.sent == {"a": 10.0, "b": 11.0, "c": 12.0}
    assert r.final == {"a": 12.0, "b": 13.0, "c": None}


def test_the_report_shows_each_run_side_by_side_and_the_ratios():
    from bench import run

    def figures(portals: int, healthy: int, calls: float, p95: float) -> dict[str, Any]:
        rows = [row("healthy", [0.0] * 20, [p95] * 20, calls=1) for _ in range(healthy)]
        rows += [row("slow", [0.0] * 20, [30.0] * 20) for _ in range(portals - healthy)]
        s = fleet.summary(rows, started=0.0)
        s["rest_calls_per_status"] = calls
        return s

    f: dict[str, Any] = {"portals": 40, "small_portals": 10, "per_portal": 20, "down_seconds": 60.0, "slow_seconds": 1.0}
    f["with_faulty"], f["without_faulty"], f["small"] = (
        figures(40, 32, 0.1, 6.0),
        figures(40, 40, 0.1, 4.0),
        figures(10, 8, 0.05, 3.0),
    )
    f["small"]["portals"] = 10
    f["healthy_with_vs_without"] = fleet.compare(f["with_faulty"], f["without_faulty"])
    f["calls_per_status_vs_small"] = fleet.ratio(0.1, 0.05)
    text = "\n".join(run.render_fleet(f, 40))
    assert "40 (32)" in text and "40 (40)" in text
    assert "p95 1.50x" in text and "tail 1.50x" in text
    assert "40 portals vs 10: 2.00x" in text
    assert "0 / 0 / 0" in text
    assert "not measured" in "\n".join(run.render_fleet(None, 40))
    assert "left out" in "\n".join(run.render_fleet(None, 0))


def test_the_issues_fleets_a_tenth_slow_and_a_tenth_down_half_refusing():
    assert Counter(fleet.plan_for(40)) == {"healthy": 32, "slow": 4, "refusing": 2, "503": 2}
    assert Counter(fleet.plan_for(100)) == {"healthy": 80, "slow": 10, "refusing": 5, "503": 5}
    assert Counter(fleet.plan_for(10)) == {"healthy": 8, "slow": 1, "refusing": 1}


def test_the_section_runs_faulty_healthy_and_small_and_compares_them(monkeypatch: pytest.MonkeyPatch):
    seen: list[tuple[str, list[str], float]] = []
    figures = {"fa": (0.5, 6.0), "fb": (0.5, 4.0), "fc": (0.25, 2.0)}

    def fake_run(emu: Any, stack: Any, prefix: str, plan: list[str], *args: Any, **kwargs: Any) -> dict[str, Any]:
        wait = args[3]
        seen.append((prefix, plan, wait))
        calls, p95 = figures[prefix]
        return {"rest_calls_per_status": calls, "p95_latency_seconds": p95, "tail_latency_seconds": p95 * 2}

    monkeypatch.setattr(fleet, "run", fake_run)
    saved: list[set[str]] = []
    out = fleet.phase(None, None, 40, 10, 20, 60.0, 1.0, lambda: 99.0, save=lambda f: saved.append(set(f)))  # type: ignore[arg-type]
    assert [(p, Counter(plan)["healthy"], len(plan), w) for p, plan, w in seen] == [
        ("fa", 32, 40, 99.0),
        ("fb", 40, 40, 99.0),
        ("fc", 8, 10, 99.0),
    ]
    assert out["healthy_with_vs_without"] == {"p95": 1.5, "tail": 1.5, "rest_calls_per_status": 1.0}
    assert out["calls_per_status_vs_small"] == 2.0
    assert "with_faulty" in saved[0] and "small" in saved[-1]  # figures kept after every run


def test_a_run_that_pushed_nothing_gives_no_ratio_not_a_huge_one():
    """The small fleet's run once ran out of the budget with nothing pushed: its 0 calls per status
    made '40 portals vs 10' print 953125000x."""
    assert fleet.ratio(0.95, 0.0) is None and fleet.ratio(0.95, None) is None
    assert fleet.ratio(0.5, 0.25) == 2.0
