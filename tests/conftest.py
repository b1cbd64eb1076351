"""Shared fixtures: one local stack (moto's server, every function of template.yaml) and one Bitrix24
portal emulator for the whole session; a freshly installed portal per test that asks for one."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests import tiers


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


FINAL = ("delivered", "undelivered", "failed")


@pytest.fixture(scope="session")
def emulator() -> Iterator[PortalEmulator]:
    emu = PortalEmulator().start()
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def stack(emulator: PortalEmulator) -> Iterator[LocalStack]:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    local = LocalStack(
        env={
            "BITRIX_OAUTH_URL": emulator.oauth_url,
            "BITRIX_CLIENT_ID": emulator.client_id,
            "BITRIX_CLIENT_SECRET": emulator.client_secret,
            "DISPATCH_BACKOFF_BASE": "1",
            "POWERTOOLS_LOG_LEVEL": os.environ["POWERTOOLS_LOG_LEVEL"],
            "DISPATCH_LEASE_SECONDS": "2",
            "UNKNOWN_OUTCOME_GRACE": "2",
            "PUSH_RETRY_BASE": "1",
            "SYNC_RETRY_BASE": "1",
        },
        visibility_timeout=2,
        max_batch_window=0.3,
    ).start()
    # The sender sync's queue keeps a visibility longer than a sync, as in AWS: a portal's sync is never
    # taken twice at once, and a failed one comes back only through its own deferral.
    _sqs(local).set_queue_attributes(QueueUrl=local.queue_url("SyncQueue"), Attributes={"VisibilityTimeout": "60"})
    yield local
    local.stop()


@pytest.fixture
def portal(emulator: PortalEmulator, stack: LocalStack) -> EmulatedPortal:
    """A new portal with the app installed through its install page."""
    p = emulator.add_portal()
    response = emulator.install(p, f"{stack.base_url}/bitrix/install")
    assert response.status_code == 200, response.text
    return p


def final_status(portal: EmulatedPortal, message_id: str, timeout: float = 20.0) -> str:
    return str(wait_until(lambda: portal.final_status(message_id) in FINAL and portal.final_status(message_id), timeout))


def _sqs(stack: LocalStack) -> Any:
    import boto3

    return boto3.client("sqs", endpoint_url=stack.aws_endpoint)


def sync_queue_depth(stack: LocalStack) -> int:
    """Messages in the sender sync's queue, waiting or being worked on."""
    sqs = _sqs(stack)
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=stack.queue_url("SyncQueue"), AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def sync_portals(stack: LocalStack, *portals: EmulatedPortal, timeout: float = 30.0) -> dict[str, Any]:
    """The sender sync of just these portals (``member_ids``), through the sync queue: waits until the
    queue's consumer has synced each one. Other portals the session installed are not walked."""
    answer: dict[str, Any] = stack.invoke("SyncSendersFunction", {"member_ids": [p.member_id for p in portals]})
    assert answer["queued"] == len(portals), answer
    wait_until(lambda: sync_queue_depth(stack) == 0, timeout)
    return answer


# -- the last lines: a tier that did not run is named, with why and the `make` command that runs it --
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    stats = terminalreporter.stats
    ran = [r for key in ("passed", "failed", "error") for r in stats.get(key, []) if getattr(r, "nodeid", "")]
    config.stash[_NOT_RUN] = tiers.not_run(stats.get("skipped", []), ran)


def pytest_unconfigure(config: pytest.Config) -> None:
    """After pytest's own summary line, so they are the last lines; also left in the cache folder for
    `make test`, which says them again after the steps that follow pytest."""
    lines = config.stash.get(_NOT_RUN, None)
    if lines is None:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for line in lines:
        if reporter is not None:
            reporter.write_line(line, yellow=True, bold=True)
    with contextlib.suppress(ValueError):  # no cache_dir under `-p no:cacheprovider`: nowhere to leave them
        _leave_for_make(config.rootpath / config.getini("cache_dir") / tiers.NOT_RUN_NAME, lines)


def _leave_for_make(path: Path, lines: list[str]) -> None:
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{line}\n" for line in lines))


_NOT_RUN = pytest.StashKey[list[str]]()
