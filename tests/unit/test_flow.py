"""One flow, two drivers; one pump; one stream type per side.

The pieces every sync/async operation is made of.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import pytest

from neulora._flow import Blocking, Done, Step, Wait, adrive, arun, drive, run
from neulora._pump import Pump
from neulora._streams import AsyncStream, Stream
from neulora.errors import GenerationError


class Flaky(Step[str]):
    """A step that fails ``failures`` times, then answers; it records which driver ran it."""

    def __init__(self, log: list[str], failures: int) -> None:
        self.log = log
        self.failures = failures

    def run(self) -> Generator[Any, None, str]:
        self.log.append("run")
        yield "partial from run"
        if len(self.log) <= self.failures:
            raise ConnectionError("try again")
        return "answer"

    async def arun(self) -> Any:
        self.log.append("arun")
        yield "partial from arun"
        if len(self.log) <= self.failures:
            raise ConnectionError("try again")
        yield Done("answer")


def retrying(log: list[str], slept: list[float]) -> Generator[Any, Any, str]:
    """The shape of every retry loop in neulora: a step's failure is raised at its ``yield``."""
    step = Flaky(log, failures=2)
    for attempt in range(1, 4):
        try:
            value = yield step
        except ConnectionError:
            yield f"attempt {attempt} failed"
            yield Wait(0.0, slept.append)
            continue
        return f"{value} after {attempt} attempts"
    raise AssertionError("unreachable")


def test_both_drivers_run_the_same_flow_to_the_same_items_and_result() -> None:
    sync_log: list[str] = []
    reader = drive(retrying(sync_log, slept := []))
    items = []
    while True:
        try:
            items.append(next(reader))
        except StopIteration as stop:
            result = stop.value
            break

    async def read() -> tuple[list[Any], Any]:
        got, done = [], None
        async for item in adrive(retrying(async_log, [])):
            if isinstance(item, Done):
                done = item.value
            else:
                got.append(item)
        return got, done

    async_log: list[str] = []
    async_items, async_result = asyncio.run(read())
    assert result == async_result == "answer after 3 attempts"
    assert [i.replace("arun", "run") for i in async_items] == items
    assert items.count("partial from run") == 3 and "attempt 2 failed" in items
    assert sync_log == ["run"] * 3 and async_log == ["arun"] * 3
    assert slept == [0.0, 0.0]  # the sync driver sleeps with the injected function


def test_an_error_the_flow_raises_after_a_failed_step_has_no_context() -> None:
    def flow() -> Generator[Any, Any, None]:
        try:
            yield Blocking(lambda: 1 / 0)
        except ZeroDivisionError:
            failed = True
        if failed:
            raise GenerationError("typed, outside the except clause")

    with pytest.raises(GenerationError) as sync_error:
        run(flow())
    with pytest.raises(GenerationError) as async_error:
        asyncio.run(arun(flow()))
    # the third party's exception (it may hold a secret) is not chained as the context
    assert sync_error.value.__context__ is None and async_error.value.__context__ is None


def test_a_reader_who_stops_closes_the_flow_and_its_step() -> None:
    closed: list[str] = []

    class Endless(Step[None]):
        def run(self) -> Generator[Any, None, None]:
            try:
                while True:
                    yield "delta"
            finally:
                closed.append("step")

        async def arun(self) -> Any:
            try:
                while True:
                    yield "delta"
            finally:
                closed.append("astep")

    def flow() -> Generator[Any, Any, None]:
        try:
            yield Endless()
        finally:
            closed.append("flow")

    reader = drive(flow())
    assert next(reader) == "delta"
    reader.close()
    assert closed == ["step", "flow"]

    async def leave_early() -> None:
        source = adrive(flow())
        assert await source.__anext__() == "delta"
        await source.aclose()

    asyncio.run(leave_early())
    assert closed == ["step", "flow", "astep", "flow"]


def test_blocking_steps_run_in_place_sync_and_in_a_worker_thread_async() -> None:
    main = threading.get_ident()

    def flow() -> Generator[Any, Any, int]:
        ident = yield Blocking(threading.get_ident)
        return ident

    assert run(flow()) == main
    assert asyncio.run(arun(flow())) != main


def test_a_stream_replays_its_items_and_holds_its_result_on_both_sides() -> None:
    calls: list[int] = []

    def answer() -> Generator[Any, Any, str]:
        calls.append(1)
        yield "Hel"
        yield "lo"
        return "Hello"

    stream: Stream[str, str] = Stream(answer)
    with pytest.raises(GenerationError, match="iterate over it first"):
        _ = stream.result
    assert (
        list(stream) == ["Hel", "lo"] and stream.result == "Hello" and list(stream) == ["Hel", "lo"]
    )

    async def read() -> tuple[list[str], list[str], str]:
        astream: AsyncStream[str, str] = AsyncStream(answer)
        first = [x async for x in astream]
        again = [x async for x in astream]
        return first, again, astream.result

    assert asyncio.run(read()) == (["Hel", "lo"], ["Hel", "lo"], "Hello")
    assert calls == [1, 1], "each stream ran its work once"


def test_a_stream_abandoned_part_way_says_so_when_read_again() -> None:
    def answer() -> Generator[Any, Any, str]:
        yield "a"
        yield "b"
        return "ab"

    stream: Stream[str, str] = Stream(answer)
    for _ in stream:
        break
    with pytest.raises(GenerationError, match="abandoned or failed part-way"):
        list(stream)


def test_the_pump_hands_over_items_then_the_result_or_the_error() -> None:
    pump: Pump[int, str] = Pump(lambda emit: [emit(n) for n in range(3)] and "done")
    assert list(pump.read()) == [0, 1, 2] and pump.result == "done"

    def failing(emit: Callable[[int], None]) -> None:
        emit(1)
        raise OSError("disk gone")

    reader = Pump(failing).read()
    assert next(reader) == 1
    with pytest.raises(OSError, match="disk gone"):
        next(reader)


def test_a_reader_who_leaves_stops_the_work_at_its_next_emit() -> None:
    emitted: list[int] = []
    finished = threading.Event()

    def endless(emit: Callable[[int], None]) -> None:
        try:
            for n in range(10_000):
                emitted.append(n)
                emit(n)
                time.sleep(0.001)
        finally:
            finished.set()

    reader = Pump(endless, size=1).read()
    assert next(reader) == 0
    reader.close()
    assert finished.wait(2.0), "the worker stopped"
    assert len(emitted) < 50


def test_a_wait_longer_than_the_timeout_is_a_timeout_and_stops_the_work() -> None:
    started = time.perf_counter()
    reader = Pump(lambda emit: time.sleep(5)).read(lambda: 0.05)
    with pytest.raises(TimeoutError):
        next(reader)
    assert time.perf_counter() - started < 1.0


def test_the_async_reader_of_the_pump_keeps_the_loop_free() -> None:
    ticks: list[int] = []

    def slow(emit: Callable[[str], None]) -> str:
        for word in ("one", "two", "three"):
            time.sleep(0.02)  # blocking: in the worker, not on the loop
            emit(word)
        return "counted"

    async def main() -> list[str]:
        async def tick() -> None:
            while True:
                ticks.append(1)
                await asyncio.sleep(0.005)

        ticker = asyncio.create_task(tick())
        pump = Pump(slow)
        words = [w async for w in pump.aread()]
        ticker.cancel()
        assert pump.result == "counted"
        return words

    assert asyncio.run(main()) == ["one", "two", "three"]
    assert len(ticks) > 3, "the loop ran other tasks while the worker blocked"


def test_the_time_limit_holds_while_a_fast_producer_keeps_the_queue_full() -> None:
    deadline = time.perf_counter() + 0.2

    def left() -> float:
        return deadline - time.perf_counter()

    def endless(emit: Callable[[int], None]) -> None:
        n = 0
        while True:
            emit(n)
            n += 1

    read = 0
    with pytest.raises(TimeoutError):
        for _ in Pump(endless).read(left):
            read += 1
            time.sleep(0.01)  # a slow reader: the queue never runs empty
    assert time.perf_counter() - deadline < 0.1 and read < 40


def test_a_worker_whose_readers_loop_has_closed_stops_without_a_word(
    capfd: pytest.CaptureFixture[str],
) -> None:
    released = threading.Event()
    stopped = threading.Event()

    def blocked(emit: Callable[[str], None]) -> None:
        try:
            emit("first")
            released.wait(2.0)  # blocked while the reader leaves and its loop closes
            emit("second")
        finally:
            stopped.set()

    async def leave() -> None:
        reader = Pump(blocked).aread()
        assert await reader.__anext__() == "first"
        await reader.aclose()

    asyncio.run(leave())
    released.set()
    assert stopped.wait(2.0)
    time.sleep(0.05)
    assert "Traceback" not in capfd.readouterr().err


def test_an_async_step_that_ends_without_its_value_is_a_clear_bug() -> None:
    class Forgetful(Step[int]):
        def run(self) -> Generator[Any, None, int]:
            return 1
            yield

        async def arun(self) -> Any:
            yield "an item, but no Done"

    def flow() -> Generator[Any, Any, int]:
        value = yield Forgetful()
        return value  # type: ignore[no-any-return]

    assert run(flow()) == 1
    with pytest.raises(RuntimeError, match=r"Forgetful.arun ended without its Done\(value\)"):
        asyncio.run(arun(flow()))
