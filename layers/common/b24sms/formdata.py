"""PHP-style form bodies: what Bitrix24 POSTs (``auth[member_id]=…``, ``bindings[0][OWNER_ID]=…``).

``decode_form`` turns such a body into nested dicts and lists; ``encode_form`` does the reverse
(``http_build_query``), which is how the REST client sends parameters and batch commands.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, quote

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """The body is not a well-formed form-encoded document."""


def decode_form(body: str | bytes) -> dict[str, Any]:
    """Decode ``application/x-www-form-urlencoded`` with PHP bracket keys into nested data.

    Maps whose keys are exactly 0..n-1 become lists; ``a[]=x`` appends. A key that is both a
    scalar and a map (``a=1&a[b]=2``) keeps the later form, as PHP does.
    """
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormError("body is not UTF-8") from exc
    try:
        pairs = parse_qsl(body, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError(f"body is not form-encoded: {exc}") from exc
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if not match:
            # PHP keeps odd keys verbatim; so do we.
            root[key] = value
            continue
        path = [match.group(1), *_PART.findall(match.group(2))]
        node: dict[str, Any] = root
        for i, part in enumerate(path):
            last = i == len(path) - 1
            if part == "":
                part = str(_next_index(node))
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    result: dict[str, Any] = _listify(root)  # the root has named keys: it stays a dict
    return result


def _next_index(node: dict[str, Any]) -> int:
    ints = [int(k) for k in node if k.isdigit()]
    return max(ints) + 1 if ints else 0


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        converted = {k: _listify(v) for k, v in value.items()}
        keys = list(converted)
        if keys and all(k.isdigit() for k in keys) and sorted(int(k) for k in keys) == list(range(len(keys))):
            return [converted[str(i)] for i in range(len(keys))]
        return converted
    return value


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
