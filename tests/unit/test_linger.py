"""The status push's linger (domain/linger.py): doubled while a portal's statuses keep coming, back to
the base after a pause, never over the cap, never under the base."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from b24sms.domain import linger

BASE, CAP = 2.0, 8.0


def test_a_campaigns_pushes_linger_longer_and_longer_up_to_the_cap():
    stored, seen = 0.0, []
    for _ in range(5):  # each push comes as soon as the linger allows
        stored = linger.after_push(stored, linger.current(stored, BASE), BASE, CAP)
        seen.append(stored)
    assert seen == [4.0, 8.0, 8.0, 8.0, 8.0]


def test_a_pause_of_twice_the_linger_makes_the_portal_idle_again():
    assert linger.after_push(8.0, 16.0, BASE, CAP) == BASE
    assert linger.after_push(8.0, 15.9, BASE, CAP) == CAP
    assert linger.after_push(0.0, 1e9, BASE, CAP) == BASE  # the first push ever


def test_a_cap_below_the_base_keeps_the_base():
    assert linger.after_push(0.0, 0.0, BASE, 0.0) == BASE


@given(
    stored=st.floats(0, 1e6, allow_nan=False),
    since=st.floats(0, 1e9, allow_nan=False),
    base=st.floats(0, 100, allow_nan=False),
    cap=st.floats(0, 1000, allow_nan=False),
)
def test_always_between_the_base_and_the_cap(stored: float, since: float, base: float, cap: float):
    after = linger.after_push(stored, since, base, cap)
    assert base <= after <= max(cap, base, stored) and linger.current(after, base) == after
