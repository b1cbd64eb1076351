"""The body decoders are reachable without authentication: they must only ever raise their own error
(``FormError``, answered 400/413), keep a form's top level a mapping, and cost linear time."""

from __future__ import annotations

import contextlib
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b24sms import api
from b24sms.domain.formdata import (
    BodyTooLarge,
    FormError,
    decode_flat,
    decode_form,
    decode_json,
    decode_json_object,
    encode_form,
    flat_strings,
)

# Keys built from the characters that matter to the bracket grammar, plus digits of other scripts.
KEY_ALPHABET = st.sampled_from([*list("ab0123456789[]²٣%&=+ "), "%5B", "%5D", "%FF", "%00", "\x00", "é"])
keys = st.lists(KEY_ALPHABET, max_size=40).map("".join)
bodies = st.lists(st.tuples(keys, st.text(max_size=8)), max_size=30).map(
    lambda pairs: "&".join(f"{k}={quote(v)}" for k, v in pairs)
)
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.one_of(bodies, st.text(max_size=300), st.binary(max_size=300)))
def test_decode_form_raises_only_form_error_and_returns_a_mapping(body):
    try:
        result = decode_form(body)
    except FormError:
        return
    assert isinstance(result, dict)


@PROPERTY
@given(st.one_of(bodies, st.text(max_size=300), st.binary(max_size=300)))
def test_decode_flat_raises_only_form_error(body):
    with contextlib.suppress(FormError):
        assert isinstance(decode_flat(body), dict)


json_texts = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=4)),
    max_leaves=30,
).map(lambda value: __import__("json").dumps(value))


@PROPERTY
@given(st.one_of(json_texts, st.text(alphabet='[]{}":,0123456789-eE.ntrufalse ', max_size=300), st.binary(max_size=100)))
def test_decode_json_raises_only_form_error(body):
    try:
        decode_json(body)
        flat_strings(decode_json_object(body), "test")
    except FormError:
        pass


@pytest.mark.parametrize(
    "body",
    [
        "0=x",  # a top level of index keys stays a mapping
        "0=x&1=y",
        "a[²]=1",  # a digit of another script is a plain key, not an index
        "a[" + "9" * 5000 + "]=1",  # longer than Python converts: never converted
        "a" + "[b]" * 1000 + "=1",  # deeper than any real payload
    ],
)
def test_the_shapes_that_used_to_crash_give_a_mapping_or_form_error(body):
    try:
        result = decode_form(body)
    except FormError:
        return
    assert isinstance(result, dict)


def test_top_level_index_keys_stay_a_mapping():
    assert decode_form("0=x&1=y") == {"0": "x", "1": "y"}


def test_non_ascii_digits_and_zero_padded_keys_are_not_indexes():
    assert decode_form("a[²]=1") == {"a": {"²": "1"}}
    assert decode_form("a[00]=1") == {"a": {"00": "1"}}
    assert decode_form("a[0]=x&a[]=y") == {"a": ["x", "y"]}


def test_php_next_index_follows_the_largest_index():
    assert decode_form("a[5]=x&a[]=y") == {"a": {"5": "x", "6": "y"}}


def test_real_payload_depth_is_accepted_and_deeper_is_refused():
    assert decode_form("a[b][c][d][e]=1") == {"a": {"b": {"c": {"d": {"e": "1"}}}}}
    with pytest.raises(FormError, match="deeper"):
        decode_form("a" + "[b]" * 8 + "=1")


def test_too_many_fields_and_too_large_bodies_are_refused():
    with pytest.raises(FormError, match="fields"):
        decode_form("&".join(f"k{i}=v" for i in range(1001)))
    with pytest.raises(BodyTooLarge) as info:
        decode_form("a=" + "x" * (256 * 1024))
    assert api.http_status(info.value) == 413


def test_json_bounds():
    assert decode_json('{"a": {"b": [1, 2]}}') == {"a": {"b": [1, 2]}}
    for bad in ["[" * 100_000, '{"a": ' * 20 + "1" + "}" * 20, "1" * 5000, "NaN", '{"a": Infinity}', "{"]:
        with pytest.raises(FormError):
            decode_json(bad)
    with pytest.raises(FormError, match="object"):
        decode_json_object("[1]")
    with pytest.raises(FormError, match="nested"):
        flat_strings({"a": {"b": 1}}, "x")


def test_round_trip_of_nested_data():
    data = {"CODE": "b24sms", "L": [{"a": "1"}, {"a": "x&y=z"}], "M": {"k": ["1", "2"]}}
    assert decode_form(encode_form(data)) == data


def test_over_long_keys_are_refused_by_every_form_decoder():
    for decode in (decode_form, decode_flat):
        with pytest.raises(FormError, match="key longer"):
            decode("k" * 513 + "=1")
        assert decode("k" * 512 + "=1") == {"k" * 512: "1"}
