"""Recipient numbers: whatever the portal sends (``8 (999) 123-45-67``, ``+1 555-010-1001``), in E.164.

A number that cannot be a phone number is refused before any carrier sees it. We check that a number
is *possible* (its length fits its country) rather than *valid* (it is in a range the library's
metadata knows): metadata lags behind new ranges, and refusing a real customer's number is worse than
letting the carrier refuse a dead one.
"""

from __future__ import annotations


class InvalidNumber(ValueError):
    """The recipient is not a phone number we can send to; ``str(exc)`` says why."""


def to_e164(raw: str, default_country: str = "") -> str:
    import phonenumbers  # cold start: ~40 ms of import, paid only by the functions that parse numbers

    text = (raw or "").strip()
    if not any(ch.isdigit() for ch in text):
        raise InvalidNumber("the recipient has no digits")
    region = default_country.upper() or None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        if region is None and not text.startswith("+"):
            raise InvalidNumber("a national number needs a default country (set the portal's default country)") from exc
        raise InvalidNumber(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidNumber("the number has the wrong length for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_region(code: str) -> bool:
    """A country (region) code phonenumbers knows, e.g. ``US``, ``DE``: a default country for national numbers."""
    import phonenumbers  # cold start: only when a country is checked

    return code in phonenumbers.SUPPORTED_REGIONS


def search_forms(e164: str) -> list[str]:
    """The forms a CRM user may have typed a number in, to look it up (``crm.duplicate.findbycomm``
    matches what was typed): E.164, its digits, the national number and the national format, and for
    the countries that dial a trunk ``8`` (Russia, Kazakhstan, Belarus) that form too. At most 6."""
    import phonenumbers  # cold start: as in to_e164

    forms = [e164, e164.lstrip("+")]
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return forms
    national = phonenumbers.national_significant_number(number)
    forms += [national, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)]
    if number.country_code in (7, 375):
        forms.append("8" + national)
    return list(dict.fromkeys(f for f in forms if f))[:6]
