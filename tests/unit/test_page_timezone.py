"""The page's time zone (usecases/page/timezone.py): the user's zone as Bitrix24's user.current gives it,
kept in the session, and UTC labelled "UTC" when there is none."""

from __future__ import annotations

from datetime import UTC

import pytest

from b24sms.usecases.page import timezone

AT = 1_773_100_800  # 2026-03-10 00:00:00 UTC


@pytest.mark.parametrize(
    ("user", "kept", "label", "shown"),
    [
        ({"TIME_ZONE": "Europe/Moscow", "TIME_ZONE_OFFSET": "10800"}, "Europe/Moscow", "Europe/Moscow", "2026-03-10 03:00:00"),
        ({"TIME_ZONE": "", "TIME_ZONE_OFFSET": "-16200"}, "-16200", "UTC-04:30", "2026-03-09 19:30:00"),
        ({"TIME_ZONE": "Not/AZone", "TIME_ZONE_OFFSET": "3600"}, "+3600", "UTC+01:00", "2026-03-10 01:00:00"),
        ({"TIME_ZONE": "../../etc/passwd"}, "", "UTC", "2026-03-10 00:00:00"),
        ({}, "", "UTC", "2026-03-10 00:00:00"),
    ],
)
def test_the_users_zone_is_kept_labelled_and_used(user: dict[str, str], kept: str, label: str, shown: str) -> None:
    assert timezone.zone_of(user) == kept
    tz, named = timezone.zone(kept)
    assert named == label and timezone.local_time(AT, tz) == shown


def test_a_day_starts_at_midnight_in_the_zone() -> None:
    moscow, _ = timezone.zone("Europe/Moscow")
    assert timezone.day_start("2026-03-10", moscow) == AT - 3 * 3600
    assert timezone.day_start("2026-03-10", UTC) == AT
    assert timezone.day_start("2026-13-10", UTC) == 0
    assert timezone.zone("+99999")[1] == "UTC"  # no such offset: UTC
