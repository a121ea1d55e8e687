"""One deadline for one call: retries, fallbacks and the bytes in flight all count against it.

An HTTP read timeout bounds each read, not the request: a server that answers a byte at a time, or a
stream that keeps trickling, never trips it. So the blocking work runs in a worker thread (a
:class:`~neulora._pump.Pump`) and the caller waits for it no longer than the time left; when the
time is up the caller gets :class:`DeadlineExpired` at once, and the ``abandon`` callback (closing
the HTTP client) tells the worker to stop. The worker is a daemon thread: it ends at the latest when
its connection's read timeout (itself capped at the time that was left) fires.

>>> deadline = Deadline.after(5.0)
>>> 4.0 < deadline.remaining() <= 5.0
True
>>> call_within(lambda: 42, deadline)
42
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import TypeVar

from ._pump import Pump, call

T = TypeVar("T")


class DeadlineExpired(Exception):
    """The time left ran out while a call was in flight (callers turn it into their typed error)."""


@dataclass(frozen=True)
class Deadline:
    """A point in time on ``clock``; ``seconds`` is the budget it was made with (for messages)."""

    at: float
    seconds: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        """The deadline ``seconds`` from now (``math.inf``: none)."""
        return cls(clock() + seconds, seconds, clock)

    def remaining(self) -> float:
        """Seconds left, never below 0."""
        return max(0.0, self.at - self.clock()) if math.isfinite(self.at) else math.inf

    def timeout(self) -> float | None:
        """Seconds left as a wait's timeout (None: no limit)."""
        left = self.remaining()
        return None if math.isinf(left) else left

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0


def call_within(
    fn: Callable[[], T], deadline: Deadline, *, abandon: Callable[[], None] = lambda: None
) -> T:
    """``fn()``, or :class:`DeadlineExpired` (and ``abandon()``) when the deadline passes first."""
    try:
        return call(fn, deadline.timeout())
    except TimeoutError:
        _quietly(abandon)
        raise DeadlineExpired(f"no answer within the deadline of {deadline.seconds:g}s") from None


def iterate_within(
    items: Callable[[], Iterator[T]],
    deadline: Deadline,
    *,
    abandon: Callable[[], None] = lambda: None,
) -> Iterator[T]:
    """The items of ``items()``, produced in a worker thread.

    :class:`DeadlineExpired` when time runs out.

    Closing the returned generator early (the consumer stopped reading) also calls ``abandon``.
    """
    finished = False
    try:
        yield from Pump.of(items, name="neulora-stream").read(deadline.timeout)
        finished = True
    except TimeoutError:
        message = f"the stream did not end within the deadline of {deadline.seconds:g}s"
        raise DeadlineExpired(message) from None
    finally:
        if not finished:
            _quietly(abandon)


def _quietly(fn: Callable[[], None]) -> None:
    with suppress(Exception):  # abandoning is best effort; the caller's error is what matters
        fn()
