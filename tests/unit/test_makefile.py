"""`make help` is where a new user looks first: it names every target of the Makefile."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from local.template import ROOT


def targets() -> set[str]:
    found = set()
    for line in (ROOT / "Makefile").read_text().splitlines():
        match = re.match(r"^([A-Za-z][\w-]*)\s*:(?!=)", line)
        if match:
            found.add(match.group(1))
    return found


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_help_lists_every_target():
    assert {"run", "test", "bench", "invoke", "help"} <= targets()  # the parse finds them
    done = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S607
    listed = {line.split()[1] for line in done.stdout.splitlines() if line.startswith("make ")}
    assert targets() - listed == set()
    assert listed - targets() == set()  # and nothing that is not one
