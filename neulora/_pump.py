"""One thread pump: a blocking iterator's items, produced in a worker thread for another reader."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")

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
