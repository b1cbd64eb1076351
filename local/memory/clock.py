"""A simulated clock and the event loop that orders what happens by simulated time.

Nothing sleeps for real. ``time()``/``monotonic()`` read the loop's time plus the elapsed time of the
work running now (a context variable): a Lambda invocation or one portal's drain in it advances only its
own elapsed time when it "sleeps" or waits on a remote call, so work that runs side by side in a real
Lambda (push's parallel portals) each sees its own clock."""

from __future__ import annotations

import contextvars
import heapq
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

EPOCH = 1_800_000_000.0  # unix time at simulated second 0

_elapsed: contextvars.ContextVar[float] = contextvars.ContextVar("sim_elapsed", default=0.0)


@contextmanager
def elapsed_from_zero() -> Iterator[None]:
    """The caller's own elapsed time from 0 for the length of the block, then as it was: work run
    outside ``SimClock.run`` (a test calling the use cases) leaves nothing behind for the next."""
    token = _elapsed.set(0.0)
    try:
        yield
    finally:
        _elapsed.reset(token)


class SimClock:
    def __init__(self) -> None:
        self.base = 0.0  # the event loop's time, seconds since the start

    # What the code reads (patched in for ``time.time`` / ``time.monotonic`` / ``time.sleep``).
    def monotonic(self) -> float:
        return self.base + _elapsed.get()

    def time(self) -> float:
        return EPOCH + self.monotonic()

    def now_int(self) -> int:  # the store's clock (store.now)
        return int(self.time())

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            _elapsed.set(_elapsed.get() + seconds)

    def elapsed(self) -> float:
        return _elapsed.get()

    def run(self, fn: Callable[..., Any], *args: Any, start: float = 0.0) -> tuple[Any, float]:
        """Run ``fn`` as one unit of work starting ``start`` seconds after the loop's time, in its own
        context; returns its result and the seconds it took on the simulated clock."""
        ctx = contextvars.copy_context()

        def unit() -> Any:
            _elapsed.set(start)
            return fn(*args)

        result = ctx.run(unit)
        return result, ctx[_elapsed] - start


class SimExecutor:
    """Stands in for ``ThreadPoolExecutor`` in push: runs each submitted portal drain at once, on the
    first of ``max_workers`` simulated workers to be free, each drain on its own clock; leaving the
    ``with`` block advances the caller's clock to when the last worker finished."""

    def __init__(self, max_workers: int) -> None:
        self.free_at = [_elapsed.get()] * max_workers

    def __enter__(self) -> SimExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        _elapsed.set(max(self.free_at))

    def submit(self, fn: Callable[..., Any], *args: Any) -> _Done:
        # push submits ``contextvars.copy_context().run, _drain, ...``: run it in that context.
        ctx = getattr(fn, "__self__", None)
        if isinstance(ctx, contextvars.Context):
            fn, args = args[0], args[1:]
        else:
            ctx = contextvars.copy_context()
        worker = min(range(len(self.free_at)), key=self.free_at.__getitem__)
        start = self.free_at[worker]

        def unit() -> Any:
            _elapsed.set(start)
            return fn(*args)

        try:
            done = _Done(ctx.run(unit), None)
        except BaseException as exc:  # handed back by result(), as a real future does
            done = _Done(None, exc)
        self.free_at[worker] = ctx[_elapsed]
        return done


class _Done:
    def __init__(self, value: Any, error: BaseException | None) -> None:
        self.value, self.error = value, error

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class EventLoop:
    """Callbacks ordered by simulated time (ties in the order they were scheduled)."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def at(self, when: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (max(when, self.clock.base), next(self._seq), callback))

    def after(self, seconds: float, callback: Callable[[], None]) -> None:
        self.at(self.clock.base + seconds, callback)

    def __len__(self) -> int:
        return len(self._heap)

    def run(self, until: float = float("inf"), stop: Callable[[], bool] = lambda: False) -> None:
        while self._heap and not stop():
            when, _, callback = self._heap[0]
            if when > until:
                break
            heapq.heappop(self._heap)
            self.clock.base = when
            callback()
