import pytest

from b24sms.domain.formdata import FormError, decode_form, encode_form


def test_decodes_php_style_keys_into_nested_dicts_and_lists():
    body = (
        "message_id=abc&properties%5Bphone_number%5D=%2B79991234567&bindings%5B0%5D%5BOWNER_ID%5D=17"
        "&bindings%5B0%5D%5BOWNER_TYPE_ID%5D=3&bindings%5B1%5D%5BOWNER_ID%5D=42&auth%5Bmember_id%5D=m1"
    )
    assert decode_form(body) == {
        "message_id": "abc",
        "properties": {"phone_number": "+79991234567"},
        "bindings": [{"OWNER_ID": "17", "OWNER_TYPE_ID": "3"}, {"OWNER_ID": "42"}],
        "auth": {"member_id": "m1"},
    }


def test_unbracketed_keys_and_blank_values_are_kept():
    assert decode_form("a=&b=2") == {"a": "", "b": "2"}


def test_empty_brackets_append():
    assert decode_form("x[]=1&x[]=2") == {"x": ["1", "2"]}


def test_sparse_numeric_keys_stay_a_map():
    assert decode_form("d[0]=a&d[2]=b") == {"d": {"0": "a", "2": "b"}}


def test_non_utf8_body_is_an_error():
    with pytest.raises(FormError):
        decode_form(b"a=\xff\xfe")


def test_encode_is_the_inverse_of_decode():
    data = {"CODE": "b24sms", "NAME": {"en": "SMS", "ru": "СМС"}, "L": [{"a": "1"}, {"a": "x&y=z"}], "flag": True}
    encoded = encode_form(data)
    assert "NAME[ru]=" in encoded
    assert decode_form(encoded) == {
        "CODE": "b24sms",
        "NAME": {"en": "SMS", "ru": "СМС"},
        "L": [{"a": "1"}, {"a": "x&y=z"}],
        "flag": "1",
    }


def test_encode_drops_none():
    assert encode_form({"a": None, "b": "1"}) == "b=1"
