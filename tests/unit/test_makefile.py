"""`make help` is where a new user looks first: generated from the Makefile's own `## text` comments
(one per .PHONY target, on its rule line), so it names every target and nothing else."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from local.template import ROOT

MAKEFILE = (ROOT / "Makefile").read_text()


def phony() -> set[str]:
    declared = re.findall(r"^\.PHONY:(.*)$", MAKEFILE, re.MULTILINE)
    return {name for line in declared for name in line.split()}


def rules() -> dict[str, str]:
    """Each named rule and its help text ("" when it has none)."""
    found = {}
    for line in MAKEFILE.splitlines():
        match = re.match(r"^([A-Za-z][\w-]*)\s*:(?!=)[^#]*(?:##\s*(.*))?$", line)
        if match:
            found[match.group(1)] = (match.group(2) or "").strip()
    return found


def test_every_phony_target_is_a_rule_with_a_help_line():
    assert {"run", "test", "bench", "invoke", "help", "pytest"} <= phony()  # the parse finds them
    assert phony() - set(rules()) == set()  # declared, never defined
    assert [name for name in sorted(phony()) if not rules()[name]] == []
    assert [name for name, text in rules().items() if name not in phony()] == []  # a command is .PHONY


def test_help_is_true_about_the_test_tiers():
    """`make pytest` runs every tier under tests/ (pyproject's testpaths), not "unit + integration"."""
    text = rules()["pytest"]
    assert all(tier in text for tier in ("unit", "integration", "browser", "container")), text
    assert 'testpaths = ["tests"]' in (ROOT / "pyproject.toml").read_text()


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_help_lists_every_target_with_its_comment():
    done = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S607
    listed = {line.split()[1]: line for line in done.stdout.splitlines() if line.startswith("make ")}
    assert set(listed) == phony()
    for name, text in rules().items():
        assert text in listed[name]
