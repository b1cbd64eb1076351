import pytest

from b24sms.domain import bitrix_statuses
from b24sms.domain.privacy import mask_phone


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        ("queued", "sent", True),
        ("sent", "delivered", True),
        ("sent", "failed", True),
        ("delivered", "sent", False),
        ("delivered", "undelivered", False),
        ("failed", "delivered", False),
        ("sent", "sent", False),
        ("undelivered", "queued", False),
    ],
)
def test_statuses_only_move_forward(current, new, expected):
    # the rule the store's conditional write applies (status_rank < :rank): a higher rank only
    assert (bitrix_statuses.rank(new) > bitrix_statuses.rank(current)) is expected


def test_unknown_status_is_refused():
    with pytest.raises(ValueError, match="not a Bitrix24 message status"):
        bitrix_statuses.rank("read")


def test_phone_numbers_are_masked():
    masked = mask_phone("+79991234567")
    assert masked.startswith("+799") and masked.endswith("67")
    assert "1234" not in masked
    assert mask_phone("8 (999) 123-45-67").endswith("67")
    assert mask_phone("") == ""
    assert mask_phone("123") == "***"
