"""An account hold: a carrier refused the account itself (its credentials, a suspended account, no
balance), not one message. Pure rules, no I/O: what a held account's next message does.

While an account is held its messages are never written to the carrier: they wait queued (a delay,
each message on its own: no loop over portals), one paced probe a ``probe_seconds`` tries the account
again, and a message that has waited longer than ``max_age`` since it was accepted fails with the
refusal's code. A send that works (the probe, or the page's **Check**) ends the hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CREDENTIALS = "credentials"  # the carrier does not accept our credentials
SUSPENDED = "suspended"  # the account exists but may not send
BALANCE = "balance"  # no money left (or a spend cap reached)
CAUSES = (CREDENTIALS, SUSPENDED, BALANCE)

WAIT = "wait"  # stay queued, come back at the next probe
PROBE = "probe"  # this message may try the account (if it wins the probe)
EXPIRE = "expire"  # waited past the bound: fail with the hold's reason

MAX_DELAY = 900  # SQS's longest DelaySeconds
MIN_DELAY = 2  # a portal read cached for a few seconds must not make a message spin


@dataclass(frozen=True)
class AccountHold:
    cause: str
    code: str  # the carrier's error code that held it (e.g. TWILIO_20003)
    since: int
    probe_at: int  # when the next probe may go

    def to_item(self) -> dict[str, Any]:
        return {"cause": self.cause, "code": self.code, "since": self.since, "probe_at": self.probe_at}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> AccountHold:
        return cls(str(item.get("cause", "")), str(item.get("code", "")), int(item.get("since", 0)), int(item.get("probe_at", 0)))


def account_key(carrier: str, credentials: str) -> str:
    """Which account a message goes out through: the carrier and the portal's credentials secret
    ("" : the deployment's own). A portal's holds are its own: another portal is never held by it."""
    return f"{carrier}:{credentials or '-'}"


def verdict(hold: AccountHold, accepted_at: int, now: int, max_age: int) -> str:
    """What a held account's message accepted at ``accepted_at`` does at ``now``."""
    if accepted_at and now - accepted_at >= max_age:
        return EXPIRE
    return PROBE if now >= hold.probe_at else WAIT


def wait_seconds(hold: AccountHold, accepted_at: int, now: int, max_age: int, recheck: int = MAX_DELAY) -> int:
    """How long a waiting message stays queued: until the next probe, ``recheck`` seconds (a hold the
    page's **Check** ended lets it go then), or its bound, whichever comes first; never less than
    ``MIN_DELAY`` nor more than SQS allows."""
    until = min(hold.probe_at, now + recheck)
    if accepted_at:
        until = min(until, accepted_at + max_age)
    return max(MIN_DELAY, min(MAX_DELAY, until - now))


def reason(hold: AccountHold) -> str:
    """The failure text of a message that waited past the bound (no carrier text: nothing to mask)."""
    what = {
        CREDENTIALS: "the carrier refused the account's credentials",
        SUSPENDED: "the carrier account is suspended",
        BALANCE: "the carrier account has no balance left",
    }.get(hold.cause, "the carrier refused the account")
    return f"not sent: {what} ({hold.code}) and it did not recover in time"
