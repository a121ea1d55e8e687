"""A style client's answer as an async stream, whichever client it is."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from .._pump import aiterate_in_thread
from .._streams import AsyncReplayStream
from ._result import Generation, StyleClient


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
