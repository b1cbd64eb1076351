"""Which test tiers did not run, why, and the `make` command that runs each: named in the last lines
of pytest's output (tests/conftest.py) and again at the end of `make test` (the file NOT_RUN_NAME)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOT_RUN_NAME = "tiers-not-run.txt"  # in pytest's cache_dir (.pytest_cache): the Makefile prints it

# tier: (its folder, the make command that runs it once what it needs is there)
TIERS = {
    "browser": ("tests/browser/", "make browser"),
    "container": ("tests/container/", "make sam-local-setup (as root), then make container"),
}


def tier_of(nodeid: str) -> str:
    return next((name for name, (folder, _) in TIERS.items() if nodeid.startswith(folder)), "")


def reason_of(report: Any) -> str:
    longrepr = report.longrepr
    text = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ").strip()


def not_run(skipped: Iterable[Any], ran: Iterable[Any]) -> list[str]:
    """One line per tier whose tests all skipped, or most of them (a tier with one test that needs
    nothing, as the container tier's "no daemon" check, ran only in name): ``skipped``, ``ran``: pytest's
    test reports."""
    ran_counts: dict[str, int] = {}
    for r in ran:
        ran_counts[tier_of(r.nodeid)] = ran_counts.get(tier_of(r.nodeid), 0) + 1
    counts: dict[str, int] = {}
    reasons: dict[str, str] = {}
    for report in skipped:
        tier = tier_of(report.nodeid)
        if tier:
            counts[tier] = counts.get(tier, 0) + 1
            reasons.setdefault(tier, reason_of(report))
    lines = []
    for tier in TIERS:
        skips, runs = counts.get(tier, 0), ran_counts.get(tier, 0)
        if skips and not runs:
            lines.append(f"{tier} tier NOT RUN ({skips} tests skipped): {reasons[tier]}. Run it: {TIERS[tier][1]}")
        elif skips > runs:
            lines.append(
                f"{tier} tier MOSTLY NOT RUN ({skips} of {skips + runs} tests skipped): {reasons[tier]}. Run it: {TIERS[tier][1]}"
            )
    return lines
