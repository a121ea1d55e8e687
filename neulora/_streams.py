"""Streams: iterate for items, ask for the result afterwards.

The work runs once, a second reading replays it.

One type per side, after simonw/llm's ``Response``: :class:`Stream` for ``for``,
:class:`AsyncStream` for ``async for``. Both are made from a flow (:mod:`neulora._flow`): the same
generator of steps and items, run by the matching driver. A flow that needs no I/O is a plain
generator that yields the items and returns the result.

>>> def answer():
...     yield "Hello"
...     yield ", learner"
...     return "Hello, learner"
>>> stream = Stream(answer)
>>> list(stream), stream.result, list(stream)
(['Hello', ', learner'], 'Hello, learner', ['Hello', ', learner'])
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing
from typing import Generic, Protocol, TypeVar

from ._flow import Done, Flow, adrive, drive
from .errors import GenerationError

T = TypeVar("T")
R = TypeVar("R")


class _Text(Protocol):
    @property
    def text(self) -> str: ...


class _Replay(Generic[T, R]):
    """What both sides share: the items kept for a second reading, the result, the one-run rule."""

    def __init__(self, flow: Callable[[], Flow[R]]) -> None:
        self._flow = flow
        self._items: list[T] = []
        self._result: R | None = None
        self._started = False

    def _replay(self) -> list[T] | None:
        """The items to replay (None: the first reading starts now)."""
        if not self._started:
            self._started = True
            return None
        if self._result is None:
            raise GenerationError("this stream was abandoned or failed part-way; start a new one")
        return self._items

    @property
    def result(self) -> R:
        """The finished value (raises if the stream has not been read to its end)."""
        if self._result is None:
            raise GenerationError("the stream has not finished: iterate over it first")
        return self._result


class Stream(_Replay[T, R]):
    """``for`` the items; ``result`` holds the final value once the flow has finished."""

    def __iter__(self) -> Iterator[T]:
        kept = self._replay()
        return iter(kept) if kept is not None else self._read()

    def _read(self) -> Iterator[T]:
        reader = drive(self._flow())
        while True:
            try:
                item = next(reader)
            except StopIteration as stop:
                self._result = stop.value
                return
            self._items.append(item)
            yield item

    def text(self: Stream[T, _Text]) -> str:
        """Read the whole stream (if not yet read) and return the result's text."""
        for _ in self:
            pass
        return self.result.text


class AsyncStream(_Replay[T, R]):
    """``async for`` the items; ``result`` holds the final value once the flow has finished."""

    def __aiter__(self) -> AsyncIterator[T]:
        kept = self._replay()
        return _replayed(kept) if kept is not None else self._read()

    async def _read(self) -> AsyncIterator[T]:
        async with aclosing(adrive(self._flow())) as reader:
            async for item in reader:
                if isinstance(item, Done):
                    self._result = item.value
                else:
                    self._items.append(item)
                    yield item

    async def text(self: AsyncStream[T, _Text]) -> str:
        """Read the whole stream (if not yet read) and return the result's text."""
        async for _ in self:
            pass
        return self.result.text


async def _replayed(items: list[T]) -> AsyncIterator[T]:
    for item in items:
        yield item
