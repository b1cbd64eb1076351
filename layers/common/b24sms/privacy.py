"""What may appear in logs: phone numbers only masked, message text never."""

from __future__ import annotations


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
