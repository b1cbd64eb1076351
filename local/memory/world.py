"""The use cases on the in-memory stand-ins: ``World`` holds a simulated clock, the tables, the two
queues, a carrier and the portals; ``World.installed()`` points the REAL use cases (accept, dispatch,
status_updates, push) at them for the length of a ``with`` block, as the fleet simulation
(bench/fleet_sim.py) and the use cases' unit tests (tests/unit) run them."""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from types import SimpleNamespace
from typing import Any
from unittest import mock

from local.memory.clock import EventLoop, SimClock, SimExecutor, elapsed_from_zero
from local.memory.jobs import MemoryJobs
from local.memory.page import SimAudit
from local.memory.portal import Bucket, SimPortal, SimSession
from local.memory.sqs import SimQueue, SimSqsClient
from local.memory.store import Meter, SimChats, SimLimits, SimMessages, SimPortals


class MemoryCarrier:
    """A carrier that takes every SMS at once (``sent``), or raises what ``fail_with`` holds first."""

    name = "memorycarrier"

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.fail_with: list[Exception] = []

    def send(self, sms: Any) -> Any:
        from b24sms.adapters.carriers.base import SendResult

        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append(sms)
        return SendResult(f"c{len(self.sent)}")


def client_for(clock: SimClock, limits: SimLimits, portals: dict[str, SimPortal]) -> Callable[..., Any]:
    """``tokens.client_for`` with the real BitrixClient: our side's shared bucket (PORTAL_RATE,
    PORTAL_BURST, in LimitsTable) before each request, the portal over ``SimSession``."""

    def make(portal: Any, max_wait: float = 10.0, *, fail_fast: bool = False) -> Any:
        from b24sms.adapters.bitrix.client import BitrixClient
        from b24sms.adapters.config import get_settings
        from b24sms.domain.errors import Throttled

        settings = get_settings()
        key = f"portal#{portal.member_id}"

        def limiter() -> None:
            if not limits.acquire(key, portal.member_id, settings.portal_rate, settings.portal_burst, max_wait):
                raise Throttled(key, 1 / settings.portal_rate)

        session = SimSession(portals[portal.member_id], clock)
        if fail_fast:
            return BitrixClient(
                portal,
                None,
                timeout=settings.http_timeout,
                max_retries=0,
                max_operating_wait=0.0,
                session=session,  # type: ignore[arg-type]
                sleep=clock.sleep,
                limiter=limiter,
            )
        return BitrixClient(portal, None, timeout=settings.http_timeout, session=session, sleep=clock.sleep, limiter=limiter)  # type: ignore[arg-type]

    return make


class World:
    """One deployment in memory. ``aws_latency`` is what each DynamoDB/SQS request costs on the clock."""

    def __init__(self, aws_latency: float = 0.0, carrier: Any = None) -> None:
        self.clock = SimClock()
        self.loop = EventLoop(self.clock)
        self.meter = Meter(self.clock, aws_latency)
        self.messages = SimMessages(self.meter)
        self.portals = SimPortals(self.meter)
        self.limits = SimLimits(self.meter)
        self.chats = SimChats(self.meter)
        self.audit = SimAudit(self.meter)
        self.jobs = MemoryJobs()
        self.outbound = SimQueue("b24sms-sim-outbound", self.clock, 90, 10)
        self.status = SimQueue("b24sms-sim-status", self.clock, 420, 50)
        self.sqs = SimSqsClient(self.clock, [self.outbound, self.status], aws_latency)
        self.carrier = MemoryCarrier() if carrier is None else carrier
        self.sim_portals: dict[str, SimPortal] = {}
        self.client_for = client_for(self.clock, self.limits, self.sim_portals)

    def add_portal(self, member_id: str, **faults: Any) -> SimPortal:
        """An installed portal (handler key ``k-<member_id>``) and its REST API: ``SimPortal``'s fields
        (``call_seconds``, ``mode``, ``delay``, ``down_from``, ``down_until``)."""
        self.portals.add(member_id)
        portal = SimPortal(member_id, Bucket(self.clock), **faults)
        self.sim_portals[member_id] = portal
        return portal

    @contextmanager
    def installed(self, env: dict[str, str] | None = None) -> Iterator[None]:
        """The use cases' adapters pointed at the stand-ins, their clocks at the simulated one, the
        settings from ``env`` on top of the world's; logging off. The page's use cases too (their
        portal calls over ``SimSession``), but for its carrier check and credentials."""
        from b24sms.adapters import queues
        from b24sms.adapters.bitrix import client as bitrix_client
        from b24sms.adapters.bitrix import tokens
        from b24sms.adapters.config import get_settings
        from b24sms.usecases import accept, dispatch, optouts, portal_jobs, push, push_turn, status_queue, status_updates
        from b24sms.usecases import page as page_package

        store = SimpleNamespace(
            messages=self.messages,
            pushes=self.messages,  # store.pushes and store.counters live on the messages table
            counters=self.messages,
            portals=self.portals,
            limits=self.limits,
            chats=self.chats,
            audit=self.audit,
            jobs=self.jobs,
            now=self.clock.now_int,
        )
        sim_time = SimpleNamespace(time=self.clock.time, monotonic=self.clock.monotonic, sleep=self.clock.sleep)
        settings = {
            "PORTALS_TABLE": "portals",
            "MESSAGES_TABLE": "messages",
            "LIMITS_TABLE": "limits",
            "CHATS_TABLE": "chats",
            "OUTBOUND_QUEUE_URL": self.outbound.url,
            "STATUS_QUEUE_URL": self.status.url,
            "BITRIX_CLIENT_ID": "sim",
            "PUBLIC_BASE_URL": "https://sim.example",
            "CARRIER_RATE": "0",
            "POWERTOOLS_METRICS_NAMESPACE": "sim",
            "APP_SESSION_SECRET": "memory-session-key",
            **(env or {}),
        }
        with ExitStack() as stack:
            stack.enter_context(mock.patch.dict(os.environ, settings))
            get_settings.cache_clear()
            stack.callback(get_settings.cache_clear)
            names = [m.name for m in pkgutil.iter_modules(page_package.__path__)]
            page = [importlib.import_module(f"b24sms.usecases.page.{name}") for name in names]
            for module in (accept, dispatch, status_updates, push, push_turn, portal_jobs, optouts, *page):
                if hasattr(module, "store"):  # those that read or write it themselves
                    stack.enter_context(mock.patch.object(module, "store", store))
            stack.enter_context(mock.patch.object(tokens, "client_for", self.client_for))
            stack.enter_context(mock.patch.object(queues, "aws", SimpleNamespace(sqs=lambda: self.sqs)))
            for module in (push, push_turn, status_queue, dispatch, bitrix_client, accept, status_updates):
                stack.enter_context(mock.patch.object(module, "time", sim_time))
            stack.enter_context(mock.patch.object(push, "ThreadPoolExecutor", SimExecutor))
            stack.enter_context(mock.patch.object(push, "client_for", self.client_for))
            stack.enter_context(mock.patch.object(dispatch, "get_carrier", lambda name, config=None: self.carrier))
            stack.enter_context(mock.patch.dict(dispatch._PORTALS, clear=True))
            stack.enter_context(mock.patch.dict(accept._PORTALS, clear=True))
            previous = logging.root.manager.disable
            logging.disable(logging.CRITICAL)
            stack.callback(logging.disable, previous)
            stack.enter_context(elapsed_from_zero())
            yield
