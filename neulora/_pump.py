"""One thread pump: blocking work in a worker thread, what it emits handed to one reader.

Three things in neulora block where they must not: an HTTP call that has to stop at a deadline its
read timeout cannot enforce, a local model generating token by token, and a sync stream read from an
event loop. Each runs as a :class:`Pump`: the work gets an ``emit`` callable; the reader takes the
items, then the work's return value or its exception. A reader that stops early stops the work at
its next ``emit``.

>>> pump = Pump(lambda emit: [emit(n) for n in (1, 2, 3)] and "done")
>>> reader = pump.read()
>>> list(reader), pump.result
([1, 2, 3], 'done')
"""

from __future__ import annotations

import queue
import threading
from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")

_POLL = 0.2  # seconds a blocked worker waits before it looks again whether its reader has gone


class Stopped(BaseException):
    """Raised inside the work at its next ``emit`` once the reader has gone.

    A BaseException: work must not catch it.
    """


class Pump(Generic[T, R]):
    """Runs ``work(emit)`` in a daemon thread.

    The reader gets each emitted item, then the return value.

    The reader is :meth:`read` (blocking, each wait bounded by ``timeout()``) or :meth:`aread` (an
    event loop's ``async for``). Either one, once.
    """

    def __init__(
        self,
        work: Callable[[Callable[[T], None]], R],
        *,
        name: str = "neulora-pump",
        size: int = 64,
    ):
        self._work = work
        self._name = name
        self._size = size
        self._gone = threading.Event()
        self._result: list[R] = []

    @classmethod
    def of(cls, items: Callable[[], Iterable[T]], *, name: str = "neulora-pump") -> Pump[T, None]:
        """A pump of the items of a blocking iterable (made in the worker)."""

        def work(emit: Callable[[T], None]) -> None:
            for item in items():
                emit(item)

        return Pump(work, name=name)

    @property
    def result(self) -> R:
        """The work's return value (once the reader has read to the end)."""
        if not self._result:
            raise RuntimeError("the pump has not finished")
        return self._result[0]

    def stop(self) -> None:
        """Tell the work to stop at its next ``emit`` (the reader has gone)."""
        self._gone.set()

    def _run(self, put: Callable[[tuple[str, object]], bool]) -> None:
        def emit(item: T) -> None:
            if self._gone.is_set() or not put(("item", item)):
                raise Stopped

        def body() -> None:
            try:
                value = self._work(emit)
            except Stopped:
                return
            except BaseException as exc:  # handed to the reader, who re-raises it
                put(("error", exc))
                return
            self._result.append(value)
            put(("end", None))

        threading.Thread(target=body, name=self._name, daemon=True).start()

    def read(self, timeout: Callable[[], float | None] = lambda: None) -> Generator[T, None, R]:
        """The items, then the return value.

        ``TimeoutError`` when one wait outlasts ``timeout()`` seconds.

        Closing the generator early (or a timeout) stops the work.
        """
        channel: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=self._size)

        def put(message: tuple[str, object]) -> bool:
            while not self._gone.is_set():
                try:
                    channel.put(message, timeout=_POLL)
                    return True
                except queue.Full:
                    continue  # the reader is slow: wait, unless it has gone
            return False

        self._run(put)
        try:
            while True:
                left = timeout()
                if left is not None and left <= 0:  # checked before each item: a fast producer too
                    raise TimeoutError("no time left")
                try:
                    kind, value = channel.get(timeout=left)
                except queue.Empty:
                    raise TimeoutError("no item within the time left") from None
                if kind == "end":
                    return self.result
                if kind == "error":
                    raise cast(BaseException, value)
                yield cast(T, value)
        finally:
            self._gone.set()

    async def aread(self) -> AsyncGenerator[T, None]:
        """The items on the running event loop; ``result`` holds the return value afterwards."""
        import asyncio  # not at import time: asyncio costs ``import neulora`` a tenth of its budget
        import concurrent.futures

        loop = asyncio.get_running_loop()
        channel: asyncio.Queue[tuple[str, object]] = asyncio.Queue(maxsize=self._size)

        def put(message: tuple[str, object]) -> bool:
            if self._gone.is_set() or loop.is_closed():
                return False
            coroutine = channel.put(message)
            try:
                future = asyncio.run_coroutine_threadsafe(coroutine, loop)
            except RuntimeError:  # the loop closed in between: the reader has gone
                coroutine.close()
                return False
            while not self._gone.is_set() and not loop.is_closed():
                try:
                    future.result(timeout=_POLL)
                    return True
                except concurrent.futures.TimeoutError:
                    continue
            future.cancel()
            return False

        self._run(put)
        try:
            while True:
                kind, value = await channel.get()
                if kind == "end":
                    return
                if kind == "error":
                    raise cast(BaseException, value)
                yield cast(T, value)
        finally:
            self._gone.set()


def call(fn: Callable[[], R], timeout: float | None, *, name: str = "neulora-call") -> R:
    """``fn()`` in a worker thread.

    ``TimeoutError`` if it has not returned within ``timeout`` seconds.
    """
    reader = Pump[Any, R](lambda emit: fn(), name=name).read(lambda: timeout)
    try:
        next(reader)
    except StopIteration as stop:
        return cast(R, stop.value)
    raise AssertionError("unreachable: a call emits nothing")  # pragma: no cover
