"""Browser tests: Playwright (pytest-playwright) driving Debian's chromium, never a downloaded browser.
``CHROMIUM_PATH`` names another binary. Without chromium the tests skip, saying how to install it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser") or ""
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM:
        return
    skip = pytest.mark.skip(reason="chromium is not installed: apt-get install -y chromium (or set CHROMIUM_PATH)")
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(here):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 1900}}


@pytest.fixture
def shot(page: Any, request: pytest.FixtureRequest) -> Any:
    """Save a screenshot of the page as a test artifact: artifacts/browser/<test>[-<name>].png."""

    def take(name: str = "") -> Any:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / (request.node.name + (f"-{name}" if name else "") + ".png")
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
