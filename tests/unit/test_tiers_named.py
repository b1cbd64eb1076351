"""A tier that did not run (browser tests without chromium, container tests without Docker) is named
in the last lines of the run, with why and the `make` command that runs it."""

from __future__ import annotations

import re
import subprocess
import sys
from types import SimpleNamespace

from tests import tiers
from tests.tiers import ROOT, not_run


def report(nodeid: str, reason: str = "") -> SimpleNamespace:
    return SimpleNamespace(nodeid=nodeid, longrepr=(nodeid.split("::")[0], 1, f"Skipped: {reason}"))


def test_a_skipped_tier_is_named_with_why_and_its_make_command():
    skipped = [report(f"tests/browser/test_page.py::test_{i}", "chromium is not installed") for i in range(3)]
    skipped.append(report("tests/unit/test_x.py::test_y", "no make"))  # one skip in a tier that ran
    lines = not_run(skipped, ran=[report("tests/unit/test_x.py::test_z")])
    assert lines == ["browser tier NOT RUN (3 tests skipped): chromium is not installed. Run it: make browser"]


def test_a_tier_that_ran_in_part_is_not_named():
    skipped = [report("tests/container/test_sam_local.py::test_a", "no Docker")]
    assert not_run(skipped, ran=[report("tests/container/test_sam_local.py::test_b")]) == []


def test_a_tier_that_ran_only_one_test_of_many_is_named_with_the_count():
    # the container tier without Docker: only its "no daemon" check runs
    skipped = [report(f"tests/container/test_sam_local.py::test_{i}", "sam local: no Docker") for i in range(24)]
    ran = [report("tests/container/test_sam_local.py::test_no_daemon"), report("tests/unit/test_x.py::test_z")]
    assert not_run(skipped, ran) == [
        "container tier MOSTLY NOT RUN (24 of 25 tests skipped): sam local: no Docker. Run it: " + tiers.TIERS["container"][1]
    ]


def test_each_tier_names_a_make_target_that_exists():
    makefile = (ROOT / "Makefile").read_text()
    for _, command in tiers.TIERS.values():
        for target in re.findall(r"make ([\w-]+)", command):
            assert re.search(rf"^{target}:", makefile, re.MULTILINE), target


def test_pytest_names_the_skipped_tier_in_its_last_lines(tmp_path):
    """Through pytest itself: a run of a browser test that skips ends with the tier's line."""
    test = ROOT / "tests" / "browser" / "test_app_page.py"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-o", f"cache_dir={tmp_path}", str(test)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/nonexistent", "CHROMIUM_PATH": "", "HOME": str(tmp_path)},
        timeout=120,
    )
    last = done.stdout.strip().splitlines()[-3:]
    assert any(line.startswith("browser tier NOT RUN") and "make browser" in line for line in last), done.stdout[-2000:]
    assert "make browser" in (tmp_path / tiers.NOT_RUN_NAME).read_text()  # for `make test` to say it last
