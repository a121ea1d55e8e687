"""One deadline for one call: retries, fallbacks and the bytes in flight all count against it.

An HTTP read timeout bounds each read, not the request: a server that answers a byte at a time, or a stream that
keeps trickling, never trips it. So the blocking work runs in a worker thread and the caller waits for it no
longer than the time left; when the time is up the caller gets :class:`DeadlineExpired` at once, and the
``abandon`` callback (closing the HTTP client) tells the worker to stop. The worker is a daemon thread: it ends
at the latest when its connection's read timeout (itself capped at the time that was left) fires.

>>> deadline = Deadline.after(5.0)
>>> 4.0 < deadline.remaining() <= 5.0
True
>>> call_within(lambda: 42, deadline)
42
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import TypeVar

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

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0


def call_within(fn: Callable[[], T], deadline: Deadline, *, abandon: Callable[[], None] = lambda: None) -> T:
    """``fn()``, or :class:`DeadlineExpired` when the deadline passes first (then ``abandon()`` is called)."""
    box: list[tuple[bool, object]] = []
    done = threading.Event()

    def work() -> None:
        try:
            box.append((True, fn()))
        except BaseException as exc:  # handed to the caller, who re-raises it
            box.append((False, exc))
        finally:
            done.set()

    worker = threading.Thread(target=work, name="neulora-call", daemon=True)
    worker.start()
    if not done.wait(_timeout(deadline)):
        _quietly(abandon)
        raise DeadlineExpired(f"no answer within the deadline of {deadline.seconds:g}s")
    ok, value = box[0]
    if not ok:
        assert isinstance(value, BaseException)
        raise value
    return value  # type: ignore[return-value]


def iterate_within(items: Callable[[], Iterator[T]], deadline: Deadline, *,
                   abandon: Callable[[], None] = lambda: None) -> Iterator[T]:
    """The items of ``items()``, produced in a worker thread; :class:`DeadlineExpired` when time runs out.

    Closing the returned generator early (the consumer stopped reading) also calls ``abandon``.
    """
    channel: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=64)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items():
                if stop.is_set():
                    return
                channel.put(("item", item))
            channel.put(("end", None))
        except BaseException as exc:  # handed to the consumer, who re-raises it
            channel.put(("error", exc))

    worker = threading.Thread(target=produce, name="neulora-stream", daemon=True)
    worker.start()
    finished = False
    try:
        while True:
            try:
                kind, value = channel.get(timeout=_timeout(deadline))
            except queue.Empty:
                raise DeadlineExpired(f"the stream did not end within the deadline of {deadline.seconds:g}s") \
                    from None
            if kind == "end":
                finished = True
                return
            if kind == "error":
                finished = True
                assert isinstance(value, BaseException)
                raise value
            yield value  # type: ignore[misc]
    finally:
        if not finished:
            stop.set()
            _quietly(abandon)
            with suppress(queue.Empty):
                channel.get_nowait()  # unblock a producer waiting on a full queue


def _timeout(deadline: Deadline) -> float | None:
    left = deadline.remaining()
    return None if math.isinf(left) else left


def _quietly(fn: Callable[[], None]) -> None:
    with suppress(Exception):  # abandoning is best effort; the caller's error is what matters
        fn()
