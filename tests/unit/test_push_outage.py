"""A portal down for 24 hours loses no status: the arithmetic. A deferred status comes back after
``push.retry_delay(receives)`` (5 s doubling, at most an hour), and the status queue moves a message to
its DLQ only after 50 receives: the 50th receive, the last chance, must come more than a day after the
first. tests/integration/test_iam.py runs the same arithmetic scaled down on the local stack."""

from __future__ import annotations

import os
import re
from unittest import mock

import pytest

from b24sms.adapters import config
from b24sms.usecases import push
from local.template import ROOT, Template

DAY = 24 * 3600
SQS_MAX_VISIBILITY = 43200


@pytest.fixture
def deployed_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """push.retry_delay with the settings a deployment runs with: the defaults, no local overrides
    (read in a private environment; the process's cached settings are left alone)."""
    required = ("PORTALS_TABLE", "MESSAGES_TABLE", "LIMITS_TABLE", "OUTBOUND_QUEUE_URL", "STATUS_QUEUE_URL", "BITRIX_CLIENT_ID")
    with mock.patch.dict(os.environ, dict.fromkeys(required, "x"), clear=True):
        deployed = config.get_settings.__wrapped__()
    monkeypatch.setattr(push, "get_settings", lambda: deployed)


def last_try_after(receives: int) -> int:
    """Seconds from a status's first receive to its last: the delays after receives 1 … receives-1."""
    return sum(push.retry_delay(k) for k in range(1, receives))


def status_queue() -> dict[str, object]:
    props: dict[str, object] = Template().resources["StatusQueue"]["Properties"]
    return props


@pytest.mark.usefixtures("deployed_settings")
def test_the_last_of_fifty_receives_comes_more_than_a_day_after_the_first():
    receives = int(status_queue()["RedrivePolicy"]["maxReceiveCount"])  # type: ignore[index]
    assert receives == 50
    delays = [push.retry_delay(k) for k in range(1, receives + 1)]
    assert delays[:4] == [5, 10, 20, 40] and max(delays) == 3600 <= SQS_MAX_VISIBILITY
    last_try = last_try_after(receives)
    assert last_try == 5115 + 39 * 3600 == 145515  # 40.4 h
    assert last_try >= DAY
    assert int(str(status_queue()["MessageRetentionPeriod"])) >= last_try + delays[-1]  # 14 days keep it


@pytest.mark.usefixtures("deployed_settings")
def test_operations_doc_states_todays_numbers():
    line = next(x for x in (ROOT / "docs" / "operations.md").read_text().splitlines() if x.startswith("| Portal down for hours"))
    hours = last_try_after(50) // 3600
    for stated in ("5 s, 10 s", "up to 1 h", "14 days", "50 receives", f"{hours} h after the first"):
        assert stated in line, stated
    assert re.search(r"\bday\b", line)
