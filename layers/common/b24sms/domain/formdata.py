"""Request bodies, decoded within bounds: PHP-style form bodies (what Bitrix24 POSTs:
``auth[member_id]=…``, ``bindings[0][OWNER_ID]=…``) and JSON (what some carriers POST).

Every public route decodes an attacker's bytes, so decoding is bounded and linear: the body's size,
the number of fields, the nesting depth and the length of a key are capped (``Limits``), index keys
are ASCII digits of bounded length, and the top level of a form is always a mapping. Anything outside
the bounds raises ``FormError`` (``status`` 400, or 413 for a body that is too large), and nothing else.

``encode_form`` does the reverse of ``decode_form`` (PHP's ``http_build_query``), which is how the
REST client sends parameters and batch commands.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

from b24sms.domain.errors import Invalid, TooLarge

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True)
class Limits:
    """Bounds of one body. Real Bitrix24 payloads nest at most 5 levels and carry tens of fields; an
    SMS text of ``MAX_SEGMENTS`` parts is a few KB even percent-encoded."""

    max_bytes: int = 256 * 1024
    max_fields: int = 1_000  # form pairs; JSON values (members and elements, nested ones included)
    max_depth: int = 8  # levels of nesting: ``a[b][c]`` is 3, ``{"a": {"b": 1}}`` is 2
    max_key_chars: int = 512
    max_index_digits: int = 9  # ``a[123456789]``; a longer run of digits is a plain key


DEFAULT_LIMITS = Limits()


class FormError(Invalid, ValueError):
    """The body is not a well-formed request body within bounds (``errors.Invalid``: answered 400)."""


class BodyTooLarge(FormError, TooLarge):
    """The body is larger than the bounds allow (``errors.TooLarge``: answered 413)."""


def check_size(body: str | bytes, limits: Limits = DEFAULT_LIMITS) -> None:
    """``BodyTooLarge`` unless ``body`` fits in ``limits.max_bytes`` (UTF-8 bytes)."""
    size = len(body) if isinstance(body, bytes) or body.isascii() else len(body.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise BodyTooLarge(f"body of {size} bytes; at most {limits.max_bytes}")


def _text(body: str | bytes, limits: Limits) -> str:
    check_size(body, limits)
    if isinstance(body, bytes):
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormError("body is not UTF-8") from exc
    return body


def decode_pairs(body: str | bytes, limits: Limits = DEFAULT_LIMITS) -> list[tuple[str, str]]:
    """A form body as its (key, value) pairs, in order, keys not interpreted: bounded in size, count and
    key length."""
    text = _text(body, limits)
    if text.count("&") >= limits.max_fields:
        raise FormError(f"more than {limits.max_fields} form fields")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=limits.max_fields)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError("body is not form-encoded") from exc
    if any(len(key) > limits.max_key_chars for key, _ in pairs):
        raise FormError(f"a form key longer than {limits.max_key_chars} characters")
    return pairs


def decode_flat(body: str | bytes, limits: Limits = DEFAULT_LIMITS) -> dict[str, str]:
    """A flat form body (carriers' webhooks) as a dict; a repeated key keeps its last value."""
    return dict(decode_pairs(body, limits))


class _Node(dict[str, Any]):
    """A map being built, with PHP's next free index for ``[]`` (so appending is O(1), not a scan)."""

    __slots__ = ("next_index",)

    def __init__(self) -> None:
        super().__init__()
        self.next_index = 0


def _is_index(key: str, limits: Limits) -> bool:
    """An integer key as PHP reads one: ASCII digits, no leading zero, bounded length."""
    return 0 < len(key) <= limits.max_index_digits and key.isascii() and key.isdigit() and (key == "0" or key[0] != "0")


def decode_form(body: str | bytes, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Decode ``application/x-www-form-urlencoded`` with PHP bracket keys into nested data.

    The result is always a dict. Nested maps whose keys are exactly 0..n-1 become lists; ``a[]=x``
    appends. A key that is both a scalar and a map (``a=1&a[b]=2``) keeps the later form, as PHP does.
    Linear in the size of the body; raises ``FormError`` and nothing else.
    """
    root = _Node()
    for key, value in decode_pairs(body, limits):
        match = _KEY.match(key)
        if not match:
            root[key] = value  # PHP keeps odd keys verbatim; so do we.
            continue
        path = [match.group(1), *_PART.findall(match.group(2))]
        if len(path) > limits.max_depth:
            raise FormError(f"a form key nested deeper than {limits.max_depth} levels")
        node = root
        for i, part in enumerate(path):
            if part == "":
                part = str(node.next_index)
            if _is_index(part, limits):
                node.next_index = max(node.next_index, int(part) + 1)
            if i == len(path) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, _Node):
                    child = _Node()
                    node[part] = child
                node = child
    return {k: _listify(v, limits) for k, v in root.items()}


def _listify(value: Any, limits: Limits) -> Any:
    """Plain dicts and lists from the built nodes (recursion bounded by ``limits.max_depth``)."""
    if not isinstance(value, _Node):
        return value
    converted = {k: _listify(v, limits) for k, v in value.items()}
    # Keys are distinct, so n index keys whose largest is n-1 are exactly 0..n-1.
    if converted and all(_is_index(k, limits) for k in converted) and value.next_index == len(converted):
        return [converted[str(i)] for i in range(len(converted))]
    return converted


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_json(body: str | bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """A JSON body within bounds (size, depth, number of values); ``FormError`` otherwise."""
    text = _text(body, limits)
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # json's C scanner guards its own recursion
        raise FormError("body is not valid JSON") from exc
    # Walk without recursion: count every value and measure the depth.
    count, stack = 0, [(data, 1)]
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > limits.max_fields:
            raise FormError(f"more than {limits.max_fields} JSON values")
        if isinstance(item, (dict, list)):
            if depth > limits.max_depth:
                raise FormError(f"JSON nested deeper than {limits.max_depth} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return data


def decode_json_object(body: str | bytes, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """A JSON body that must be an object (``FormError`` for an array, a number, a string…)."""
    data = decode_json(body, limits)
    if not isinstance(data, dict):
        raise FormError("expected a JSON object")
    return data


def flat_strings(data: dict[str, Any], what: str) -> dict[str, str]:
    """An object of scalars (a carrier's webhook) as strings; ``FormError`` for nested values."""
    out: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, (dict, list)):
            raise FormError(f"{what}: field {str(key)[:40]!r} must not be nested")
        out[str(key)] = "" if value is None else str(value)
    return out


def encode_form(data: dict[str, Any]) -> str:
    """Encode nested dicts/lists as PHP's ``http_build_query`` does (bools as 1/0, None dropped)."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        _flatten(str(key), value, pairs)
    return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in pairs)


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}[{k}]", v, out)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _flatten(f"{prefix}[{i}]", v, out)
    elif isinstance(value, bool):
        out.append((prefix, "1" if value else "0"))
    else:
        out.append((prefix, str(value)))
