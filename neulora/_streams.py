"""Streams that replay: iterate for items, the result afterwards, one producer run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Generic, TypeVar

from .errors import GenerationError

T = TypeVar("T")
R = TypeVar("R")

_END = object()


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


class ReplayStream(Generic[T, R]):
    """Iterate for items; ``result`` holds the final value once the producer has finished.

    The producer runs once: iterating again replays the items without running it again (no second model call).
    """

    def __init__(self, producer: Callable[[], Generator[T, None, R]]) -> None:
        self._producer = producer
        self._items: list[T] = []
        self._result: R | None = None
        self._started = False

    def __iter__(self) -> Iterator[T]:
        if self._started:
            if self._result is None:
                raise GenerationError("this stream was abandoned or failed part-way; start a new one")
            return iter(self._items)
        self._started = True
        return self._run()

    def _run(self) -> Iterator[T]:
        gen = self._producer()
        while True:
            try:
                item = next(gen)
            except StopIteration as stop:
                self._result = stop.value
                return
            self._items.append(item)
            yield item

    @property
    def result(self) -> R:
        """The finished value (raises if the stream has not been read to its end)."""
        if self._result is None:
            raise GenerationError("the stream has not finished: iterate over it first")
        return self._result
