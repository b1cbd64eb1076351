"""What may appear in logs: phone numbers only masked, message text never."""

from __future__ import annotations

import re


def mask_phone(phone: str | None) -> str:
    """``+79991234567`` -> ``+799*****67``: enough to tell numbers apart in a log, not to dial one."""
    if not phone:
        return ""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) <= 4:
        return "*" * len(digits)
    prefix = "+" if phone.strip().startswith("+") else ""
    keep_head = 3 if len(digits) > 8 else 1
    return prefix + digits[:keep_head] + "*" * (len(digits) - keep_head - 2) + digits[-2:]


# A phone number inside free text: 7 digits or more, with an optional leading "+" or "(" and single
# spaces, dashes, dots or brackets between them ("+16178679194", "+1 617-867-9194", "(617) 867 9194").
# Shorter runs are left alone, so error codes (21211, 30003) and counts stay readable.
_PHONE_IN_TEXT = re.compile(r"(?<!\d)[+(]?\d(?:[ \-.()]?[ ]?\d){6,}")


def mask_carrier_text(text: str | None) -> str:
    """A carrier's error text, fit for a log line or a stored record: every phone-number-like digit
    run masked as :func:`mask_phone` does (Twilio's 21211 text holds the whole 'To' number)."""
    if not text:
        return ""
    return _PHONE_IN_TEXT.sub(lambda match: mask_phone(match.group()), text)
