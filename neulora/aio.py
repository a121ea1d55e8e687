"""The async side: streams read with ``async for``, and blocking work run off the event loop.

Everything that blocks (embedded Chroma, local models, file memory, a sync style client) runs in the loop's
default executor through :func:`asyncio.to_thread`, so an app's event loop keeps serving other requests; a sync
iterator (a local model's stream) is pumped by a worker thread into the loop with :func:`aiterate_in_thread`.

>>> import asyncio
>>> async def demo():
...     return [x async for x in aiterate_in_thread(lambda: iter([1, 2, 3]))]
>>> asyncio.run(demo())
[1, 2, 3]
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from .errors import GenerationError
from .generation import Generation, StyleClient

if TYPE_CHECKING:
    import asyncio

__all__ = ["AsyncReplayStream", "aiterate_in_thread", "astream_of"]

T = TypeVar("T")
R = TypeVar("R")

_END = object()


async def aiterate_in_thread(items: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """The items of a blocking iterator, produced in a worker thread; closing early stops the worker."""
    import asyncio  # not at import time: asyncio costs ``import neulora`` a tenth of its budget
    import concurrent.futures

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=64)
    stop = threading.Event()

    def put(item: object) -> None:
        future = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        while not stop.is_set():
            try:
                future.result(timeout=0.2)
                return
            except concurrent.futures.TimeoutError:
                continue  # the reader is slow: wait, unless it has gone

    def produce() -> None:
        try:
            for item in items():
                if stop.is_set():
                    return
                put(("item", item))
            put(("end", None))
        except BaseException as exc:  # handed to the reader, who re-raises it
            put(("error", exc))

    worker = threading.Thread(target=produce, name="neulora-aiter", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = cast("tuple[str, Any]", await queue.get())
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()


class AsyncReplayStream(Generic[T, R]):
    """``async for`` the items; ``result`` holds the final value once the producer has finished.

    The producer runs once, on first iteration; iterating again replays the items (no second model call). The
    producer reports its final value by calling the ``finish`` callback it is given.
    """

    def __init__(self, producer: Callable[[Callable[[R], None]], AsyncIterator[T]]) -> None:
        self._producer = producer
        self._items: list[T] = []
        self._result: R | None = None
        self._started = False

    def __aiter__(self) -> AsyncIterator[T]:
        if self._started:
            if self._result is None:
                raise GenerationError("this stream was abandoned or failed part-way; start a new one")
            return _replay(self._items)
        self._started = True
        return self._run()

    async def _run(self) -> AsyncIterator[T]:
        source = self._producer(self._finish)
        try:
            async for item in source:
                self._items.append(item)
                yield item
        finally:
            await source.aclose()  # type: ignore[attr-defined]

    def _finish(self, value: R) -> None:
        self._result = value

    @property
    def result(self) -> R:
        """The finished value (raises if the stream has not been read to its end)."""
        if self._result is None:
            raise GenerationError("the stream has not finished: iterate over it first")
        return self._result


async def _replay(items: list[T]) -> AsyncIterator[T]:
    for item in items:
        yield item


def astream_of(client: StyleClient, style: str, messages: list[dict[str, str]],
               options: dict[str, Any]) -> AsyncReplayStream[str, Generation]:
    """A style client's answer as an async stream.

    Its own ``astream`` (a remote client, on the loop), else its sync ``stream`` pumped by a worker thread.
    """
    native = getattr(client, "astream", None)
    if native is not None:
        stream: AsyncReplayStream[str, Generation] = native(style, messages, **options)
        return stream

    def produce(finish: Callable[[Generation], None]) -> AsyncIterator[str]:
        sync = client.stream(style, messages, **options)

        async def pump() -> AsyncIterator[str]:
            async for delta in aiterate_in_thread(lambda: iter(sync)):
                yield delta
            finish(sync.result)

        return pump()

    return AsyncReplayStream(produce)
