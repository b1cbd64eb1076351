import pytest

from b24sms.domain import segments
from b24sms.domain.phones import InvalidNumber, to_e164


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("8 (999) 123-45-67", "RU", "+79991234567"),
        ("+7 999 123-45-67", "", "+79991234567"),
        ("0049 30 1234567", "", "+49301234567"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("+15550101001", "", "+15550101001"),
    ],
)
def test_numbers_become_e164(raw, country, expected):
    assert to_e164(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country", "reason"),
    [
        ("", "RU", "no digits"),
        ("call me", "", "no digits"),
        ("999 123 45 67", "", "default country"),
        ("+7 12", "", "wrong length"),
    ],
)
def test_impossible_numbers_are_refused_with_a_reason(raw, country, reason):
    with pytest.raises(InvalidNumber, match=reason):
        to_e164(raw, country)


@pytest.mark.parametrize(
    ("text", "encoding", "units", "parts"),
    [
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters cost two
        ("[" * 81, "GSM-7", 162, 2),
        ("я" * 70, "UCS-2", 70, 1),
        ("я" * 71, "UCS-2", 71, 2),
        ("я" * 134, "UCS-2", 134, 2),
        ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: a surrogate pair each
        ("😀" * 36, "UCS-2", 72, 2),
        ("", "GSM-7", 0, 1),
    ],
)
def test_segments(text, encoding, units, parts):
    assert segments.count(text) == segments.SegmentInfo(encoding, units, parts)
