"""The emulator's data, no HTTP: the portals (tokens, senders, bound events, message timelines, the
leaky bucket, faults to inject), their Open Lines (lines, connectors, chats and their messages), the
REST calls each portal received, and the emulator-wide settings (the app's OAuth client, the lock)."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int
    error: str = ""
    in_batch: bool = False
    at: float = field(default_factory=time.time)


@dataclass
class EmulatedChatMessage:
    """A message of the external system (a client's) that the app put into an Open Lines chat."""

    external_id: str
    message_id: int  # the im message id
    text: str
    files: list[Any] = field(default_factory=list)
    date: str = ""
    history: list[str] = field(default_factory=list)  # the text as sent, then after every update
    deleted: bool = False
    delivered: bool = False  # set by imconnector.send.status.delivery naming this im message id


@dataclass
class OperatorMessage:
    """An operator's reply in an Open Lines chat: what ONIMCONNECTORMESSAGEADD carries to the app."""

    message_id: int  # the im message id
    text: str
    user_id: str
    files: list[Any] = field(default_factory=list)
    delivered: bool = False  # imconnector.send.status.delivery
    read: bool = False  # imconnector.send.status.reading
    external_ids: list[str] = field(default_factory=list)  # message[id] the app reported with a status
    at: float = field(default_factory=time.time)


@dataclass
class EmulatedChat:
    """The Open Lines chat of one (connector, line, external chat id)."""

    connector: str
    line: str
    external_id: str
    chat_id: int  # the im chat id
    session_id: int
    user_id: int  # the portal's user for the external user
    user: dict[str, Any] = field(default_factory=dict)  # user{} as the app sent it, phone included
    name: str = ""
    url: str = ""
    messages: dict[str, EmulatedChatMessage] = field(default_factory=dict)  # external message id -> message
    operator_messages: dict[int, OperatorMessage] = field(default_factory=dict)  # im message id -> reply

    def texts(self) -> list[str]:
        """The current texts of the messages that are not deleted, in the order they came."""
        return [m.text for m in self.messages.values() if not m.deleted]


def _default_lines() -> dict[str, dict[str, Any]]:
    return {"1": {"ID": "1", "LINE_NAME": "Open line 1", "ACTIVE": "Y"}}


ENTITY_TYPES = {"LEAD": 1, "CONTACT": 3, "COMPANY": 4}  # crm.enum.ownertype's ids (deal 2: no phones here)


@dataclass
class CrmItem:
    """A lead, contact or company of the portal's CRM (the methods: local/emulator/crm.py)."""

    entity_type_id: int
    entity_id: int
    phones: list[str]
    timeline: list[dict[str, Any]] = field(default_factory=list)  # logMessage entries, oldest first
    locked: bool = False  # the app's user may not edit it: ACCESS_DENIED


def _default_crm() -> dict[tuple[int, int], Any]:
    return {(3, 17): CrmItem(3, 17, []), (2, 42): CrmItem(2, 42, [])}


@dataclass
class EmulatedPortal:
    name: str
    member_id: str
    domain: str
    client_endpoint: str
    server_endpoint: str
    application_token: str = field(default_factory=lambda: secrets.token_hex(16))
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at
    refresh_tokens: set[str] = field(default_factory=set)
    senders: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)  # event name -> handler URL
    messages: dict[str, list[str]] = field(default_factory=dict)  # message_id -> statuses, as set
    status_times: dict[str, list[float]] = field(default_factory=dict)  # message_id -> when each was set
    calls: list[Call] = field(default_factory=list)
    refreshes: int = 0
    rate: float = 2.0
    burst: float = 50.0
    bucket: float = 0.0
    bucket_at: float = field(default_factory=time.monotonic)
    limit_exceeded: int = 0
    batch_allows_messageservice: bool = True
    failures: deque[tuple[int, str, str]] = field(default_factory=deque)
    down: bool = False
    delay: float = 0.0  # seconds the portal takes to answer each REST call (a slow portal), outside the lock
    installed: bool = False
    app_version: int = 1  # the app's version installed on the portal: ``update_app`` raises it
    token_ttl: float = 3600.0
    scopes: set[str] = field(default_factory=lambda: {"messageservice", "imconnector", "imopenlines", "crm", "im"})
    connectors: dict[str, dict[str, Any]] = field(default_factory=dict)  # connector ID -> imconnector.register params
    lines: dict[str, dict[str, Any]] = field(default_factory=_default_lines)  # open line id -> its config
    active: dict[tuple[str, str], bool] = field(default_factory=dict)  # (connector, line) -> ACTIVE
    connector_data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # connector.data.set DATA
    chats: dict[tuple[str, str, str], EmulatedChat] = field(default_factory=dict)  # (connector, line, ext chat id)
    connector_users: dict[tuple[str, str], int] = field(default_factory=dict)  # (connector, ext user id) -> user id
    # The portal's people: user id -> user.current's fields and whether user.admin says so; and which
    # user each access token was issued to (the app's own tokens: user 1, the administrator who installed).
    users: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "1": {"ID": "1", "NAME": "Anna", "LAST_NAME": "Admin", "ADMIN": True},
            "2": {"ID": "2", "NAME": "Oleg", "LAST_NAME": "Manager", "ADMIN": False},
        }
    )
    token_users: dict[str, str] = field(default_factory=dict)
    app_url: str = ""  # the application's page (handler path), set at install
    # The CRM (local/emulator/crm.py): (entityTypeId, id) -> its phones and timeline; notifications sent.
    # The items the HANDLER calls' default bindings name (events.sms): contact 17, deal 42.
    crm: dict[tuple[int, int], Any] = field(default_factory=lambda: _default_crm())
    notifications: list[dict[str, Any]] = field(default_factory=list)
    last_id: int = 1000  # one sequence for im chat, message, session and user ids: a mix-up shows
    # Called with (method, params) before a REST call is served, outside the emulator's lock: a test's
    # way to make something happen while the app waits for the portal (a second request, a race).
    on_call: Callable[[str, dict[str, Any]], None] | None = None

    # -- what tests look at --------------------------------------------------------------------
    def timeline(self, message_id: str) -> list[str]:
        return list(self.messages.get(message_id, []))

    def final_status(self, message_id: str) -> str:
        seen = self.messages.get(message_id) or [""]
        return seen[-1]

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    @property
    def scope(self) -> str:
        """The granted scopes as Bitrix24 lists them: ``messageservice`` first."""
        first = ["messageservice"] if "messageservice" in self.scopes else []
        return ",".join(first + sorted(self.scopes - {"messageservice"}))

    def is_active(self, connector: str, line: str | int) -> bool:
        return self.active.get((connector, str(line)), False)

    @property
    def current_access_token(self) -> str:
        live = [t for t, exp in self.access_tokens.items() if exp > time.time()]
        return live[-1] if live else next(reversed(self.access_tokens), "")

    # -- what tests do to it ------------------------------------------------------------------
    def expire_tokens(self) -> None:
        for token in self.access_tokens:
            self.access_tokens[token] = 0.0

    def fail_next(self, count: int, status: int = 503, code: str = "INTERNAL_SERVER_ERROR", description: str = "") -> None:
        for _ in range(count):
            self.failures.append((status, code, description or code))

    def issue_tokens(self, user_id: str = "1") -> tuple[str, str]:
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        self.access_tokens[access] = time.time() + self.token_ttl
        self.token_users[access] = user_id
        self.refresh_tokens.add(refresh)
        return access, refresh

    def add_line(self, name: str = "") -> str:
        """A new open line; returns its id."""
        line = str(max((int(k) for k in self.lines if k.isdigit()), default=0) + 1)
        self.lines[line] = {"ID": line, "LINE_NAME": name or f"Open line {line}", "ACTIVE": "Y"}
        return line

    def add_crm_item(self, entity_type: str, *phones: str, locked: bool = False) -> tuple[int, int]:
        """A lead, contact or company with these phone numbers (as a user typed them); its key."""
        key = (ENTITY_TYPES[entity_type.upper()], self.new_id())
        self.crm[key] = CrmItem(key[0], key[1], list(phones), locked=locked)
        return key

    def crm_timeline(self, key: tuple[int, int]) -> list[dict[str, Any]]:
        """The entries the app wrote on a CRM item's timeline, oldest first."""
        item = self.crm.get(key)
        return list(item.timeline) if item else []

    def new_id(self) -> int:
        self.last_id += 1
        return self.last_id


class EmulatorState:
    """Everything one emulator holds: its portals by name, the app's OAuth client, the lock every
    room takes around the data, and the base URL the server listens on (empty until it starts)."""

    def __init__(
        self,
        client_id: str = "local.app",
        client_secret: str = "local-client-secret",  # noqa: S107 - the local stack's default
        rate: float = 2.0,
        burst: float = 50.0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.rate = rate
        self.burst = burst
        self.portals: dict[str, EmulatedPortal] = {}
        # Seconds the OAuth server takes to answer a refresh (outside the lock: calls overlap), so
        # that concurrent refreshes really race for our refresh lock.
        self.oauth_delay = 0.0
        self.lock = threading.RLock()
        self.base_url = ""

    @property
    def oauth_url(self) -> str:
        return self.base_url

    def add_portal(self, name: str = "", member_id: str = "", application_token: str = "") -> EmulatedPortal:
        with self.lock:
            name = name or f"portal{len(self.portals) + 1}"
            portal = EmulatedPortal(
                name=name,
                member_id=member_id or secrets.token_hex(16),
                domain=f"{name}.bitrix24.test",
                client_endpoint=f"{self.base_url}/{name}/rest/",
                server_endpoint=f"{self.base_url}/oauth/rest/",
                rate=self.rate,
                burst=self.burst,
            )
            if application_token:
                portal.application_token = application_token
            self.portals[name] = portal
            return portal
