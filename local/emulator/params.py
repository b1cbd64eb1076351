"""What the REST rooms share on the request side: the error a method raises (turned into Bitrix24's
``{error, error_description}`` by the server) and the argument checks Bitrix24 makes the PHP way."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from local.emulator.state import EmulatedPortal

# A REST method: (the portal, its params) -> the ``result`` of the answer, or RestError.
Method = Callable[["EmulatedPortal", dict[str, Any]], Any]


class RestError(Exception):
    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(code)
        self.status, self.code, self.description = status, code, description


def not_found() -> RestError:
    return RestError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")


def required(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None or isinstance(value, (dict, list)) or str(value) in ("", "0"):  # PHP's empty()
        raise RestError(400, "ERROR_ARGUMENT", f"Argument '{name}' is null or empty")
    return str(value)


def to_int(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def as_list(value: Any) -> list[Any]:
    """A list as JSON sends it, or as a PHP form map keyed 0, 1, ...; anything else is no list."""
    if isinstance(value, dict):
        return [value[k] for k in sorted(value, key=lambda k: int(k) if str(k).isdigit() else 0)]
    return list(value) if isinstance(value, list) else []


def check_handler(url: str) -> None:
    """A handler URL the portal accepts: http(s), a dotted host name, at most 1000 characters."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RestError(400, "ERROR_UNSUPPORTED_PROTOCOL", "Unsupported protocol")
    if not parts.hostname or "." not in parts.hostname or len(url) > 1000:
        raise RestError(400, "ERROR_WRONG_HANDLER_URL", "Wrong handler URL")
