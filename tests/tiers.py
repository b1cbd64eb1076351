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
    """One line per tier whose tests all skipped (``skipped``, ``ran``: pytest's test reports)."""
    ran_tiers = {tier_of(r.nodeid) for r in ran}
    counts: dict[str, int] = {}
    reasons: dict[str, str] = {}
    for report in skipped:
        tier = tier_of(report.nodeid)
        if tier and tier not in ran_tiers:
            counts[tier] = counts.get(tier, 0) + 1
            reasons.setdefault(tier, reason_of(report))
    return [
        f"{tier} tier NOT RUN ({counts[tier]} tests skipped): {reasons[tier]}. Run it: {TIERS[tier][1]}"
        for tier in TIERS
        if tier in counts
    ]
