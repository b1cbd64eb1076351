"""`make browser-setup` (run by `make pytest`/`make test`): chromium installed from apt when missing and
root or sudo is there, nothing done when it is there already, one line and no failure where it cannot."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from local.template import ROOT

SCRIPT = ROOT / "tools" / "browser_setup.sh"
BASH = "/bin/bash"


def run(tmp_path: Path, *, chromium: bool, uid: int, apt: bool = True) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The script with only fakes on its PATH: ``id`` says ``uid``, ``apt-get`` records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "apt-calls"
    fakes = {"id": f"echo {uid}"}
    if apt:
        fakes["apt-get"] = f'echo "$*" >> {calls}'
    if chromium:
        fakes["chromium"] = "true"
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!{BASH}\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = {"PATH": str(bin_dir)}
    done = subprocess.run([BASH, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False)
    return done, calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.skipif(not Path(BASH).exists(), reason="no bash")
def test_nothing_is_done_when_chromium_is_there(tmp_path: Path):
    done, apt = run(tmp_path, chromium=True, uid=0)
    assert done.returncode == 0 and done.stdout == "" and apt == []


@pytest.mark.skipif(not Path(BASH).exists(), reason="no bash")
def test_root_installs_debians_chromium(tmp_path: Path):
    done, apt = run(tmp_path, chromium=False, uid=0)
    assert done.returncode == 0, done.stderr
    assert apt == ["install -y -q chromium"]
    assert "chromium installed" in done.stdout


@pytest.mark.skipif(not Path(BASH).exists(), reason="no bash")
def test_without_root_or_sudo_it_says_why_in_one_line_and_does_not_fail(tmp_path: Path):
    done, apt = run(tmp_path, chromium=False, uid=1000)
    assert done.returncode == 0 and apt == []
    [line] = done.stdout.splitlines()
    assert "browser tests will skip" in line and "make browser" in line


def test_make_runs_it_before_the_browser_tests():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("pytest", "browser"):
        [rule] = [line for line in makefile.splitlines() if line.startswith(f"{target}:")]
        assert "browser-setup" in rule.split("##")[0], rule
