"""One flow, two drivers: a sync-and-async operation written once, as a generator of its I/O.

A flow yields :class:`Step` objects (the I/O it needs: a blocking call, a request, a wait) and items
for its reader (a text delta, a turn's event). Each step's value comes back from its ``yield``; a
step's exception is raised at that ``yield``, so the flow decides (retry, fall back, give up) with a
plain ``try``. The flow returns its result. :func:`drive` runs a flow in the calling thread,
:func:`adrive` on an event loop; neither knows what the flow does. The shape is httpx's
``Auth.auth_flow`` with its ``sync_auth_flow`` and ``async_auth_flow``.

>>> def double_later(n):
...     yield f"working on {n}"
...     doubled = yield Blocking(lambda: n * 2)
...     return doubled
>>> reader = drive(double_later(21))
>>> next(reader)
'working on 21'
>>> try:
...     next(reader)
... except StopIteration as stop:
...     print(stop.value)
42
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

V = TypeVar("V")
R = TypeVar("R")

_MISSING: Any = object()  # what an async step has given back before its Done

Flow = Generator[Any, Any, R]  # yields steps and items, gets step values back, returns the result


@dataclass(frozen=True, slots=True)
class Done(Generic[V]):
    """The last thing an async step or driver yields.

    Its value (an async generator cannot return one).
    """

    value: V


class Step(Generic[V]):
    """One piece of I/O a flow needs, done in the calling thread (:meth:`run`) or on an event loop.

    :meth:`arun`.

    ``run`` may yield items for the reader (a stream's deltas) and returns the value; ``arun``
    yields the same items, then :class:`Done` with the value.
    """

    def run(self) -> Generator[Any, None, V]:
        raise NotImplementedError

    def arun(self) -> AsyncGenerator[Any, None]:
        raise NotImplementedError


class Blocking(Step[V]):
    """A blocking call: made in place by :func:`drive`, in a worker thread by :func:`adrive`."""

    def __init__(self, fn: Callable[..., V], *args: Any) -> None:
        self.fn = fn
        self.args = args

    def run(self) -> Generator[Any, None, V]:
        return self.fn(*self.args)
        yield  # a generator that yields nothing

    async def arun(self) -> AsyncGenerator[Any, None]:
        import asyncio

        yield Done(await asyncio.to_thread(self.fn, *self.args))


class Wait(Step[None]):
    """A pause: ``sleep(seconds)`` (injectable, for tests) in place, ``asyncio.sleep`` on a loop."""

    def __init__(self, seconds: float, sleep: Callable[[float], None]) -> None:
        self.seconds = seconds
        self.sleep = sleep

    def run(self) -> Generator[Any, None, None]:
        self.sleep(self.seconds)
        yield from ()

    async def arun(self) -> AsyncGenerator[Any, None]:
        import asyncio

        await asyncio.sleep(self.seconds)
        yield Done(None)


def drive(flow: Flow[R]) -> Generator[Any, None, R]:
    """Run ``flow`` in the calling thread: its items are yielded, its result returned."""
    value: Any = None
    error: Exception | None = None
    try:
        while True:
            try:
                # outside any ``except``: a step's exception reaches the flow without a context
                # chained to it
                step = flow.send(value) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value = None
            error = None
            if not isinstance(step, Step):
                yield step
                continue
            try:
                value = yield from step.run()
            except Exception as exc:  # handed back to the flow, which decides (not cancellation)
                error = exc
    finally:
        flow.close()


async def adrive(flow: Flow[R]) -> AsyncGenerator[Any, None]:
    """Run ``flow`` on the event loop: its items are yielded, then :class:`Done` with its result."""
    value: Any = None
    error: Exception | None = None
    try:
        while True:
            try:
                step = flow.send(value) if error is None else flow.throw(error)
            except StopIteration as stop:
                yield Done(stop.value)
                return
            value = None
            error = None
            if not isinstance(step, Step):
                yield step
                continue
            value = _MISSING
            try:
                # a reader who leaves closes the step's I/O now
                async with aclosing(step.arun()) as items:
                    async for item in items:
                        if isinstance(item, Done):
                            value = item.value
                        else:
                            yield item
            except Exception as exc:  # handed back to the flow, which decides (not cancellation)
                error = exc
            if error is None and value is _MISSING:
                raise RuntimeError(f"{type(step).__name__}.arun ended without its Done(value)")
    finally:
        flow.close()


def run(flow: Flow[R]) -> R:
    """Run ``flow`` to its result in the calling thread, its items dropped."""
    reader = drive(flow)
    while True:
        try:
            next(reader)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


async def arun(flow: Flow[R]) -> R:
    """Run ``flow`` to its result on the event loop, its items dropped."""
    async for item in adrive(flow):
        if isinstance(item, Done):
            return item.value  # type: ignore[no-any-return]
    raise AssertionError("unreachable: a driver ends with Done")  # pragma: no cover
