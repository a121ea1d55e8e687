"""The I/O of a turn as steps (:mod:`neulora._flow`).

Embedding the question, and the model's answer.

Each runs blocking in the caller's thread, or on an event loop: a part's own
``aembed``/``agenerate``/ ``astream`` (a remote one) is awaited there; a blocking part runs in a
worker thread.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from contextlib import aclosing
from functools import partial
from typing import TYPE_CHECKING, Any

from .._flow import Blocking, Done, Step
from .._pump import Pump

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from ..embedders._base import Embedder
    from ..generation._result import Generation, StyleClient


class Embed(Step["NDArray[np.float32]"]):
    """The vectors of ``texts``."""

    def __init__(self, embedder: Embedder, texts: Sequence[str]) -> None:
        self.embedder = embedder
        self.texts = list(texts)

    def run(self) -> Generator[Any, None, NDArray[np.float32]]:
        return self.embedder.embed(self.texts)
        yield  # a generator that yields nothing

    async def arun(self) -> AsyncGenerator[Any, None]:
        aembed = getattr(self.embedder, "aembed", None)
        if aembed is None:  # a blocking embedder: in a worker thread, as every blocking step
            async for item in Blocking(self.embedder.embed, self.texts).arun():
                yield item
            return
        yield Done(await aembed(self.texts))


class Generate(Step["Generation"]):
    """A style client's answer: whole, or streamed, each delta through ``wrap`` to the reader."""

    def __init__(
        self,
        client: StyleClient,
        style: str,
        messages: list[dict[str, str]],
        options: dict[str, Any],
        *,
        streaming: bool,
        wrap: Callable[[str], Any],
    ) -> None:
        self.client = client
        self.style = style
        self.messages = messages
        self.options = options
        self.streaming = streaming
        self.wrap = wrap

    def run(self) -> Generator[Any, None, Generation]:
        if not self.streaming:
            return self.client.generate(self.style, self.messages, **self.options)
        stream = self.client.stream(self.style, self.messages, **self.options)
        for delta in stream:
            yield self.wrap(delta)
        return stream.result

    async def arun(self) -> AsyncGenerator[Any, None]:
        client = self.client
        style = self.style
        messages = self.messages
        options = self.options
        if not self.streaming:
            agenerate = getattr(client, "agenerate", None)
            if agenerate is not None:
                yield Done(await agenerate(style, messages, **options))
                return
            generate = partial(client.generate, style, messages, **options)
            async for item in Blocking(generate).arun():  # in a worker thread
                yield item
            return
        native = getattr(client, "astream", None)
        if native is not None:  # a remote client: its request on the loop
            stream = native(style, messages, **options)
            async for delta in stream:
                yield self.wrap(delta)
            yield Done(stream.result)
            return
        # a local one: pumped by a worker thread
        blocking = client.stream(style, messages, **options)
        async with aclosing(Pump.of(lambda: blocking, name="neulora-stream").aread()) as deltas:
            async for delta in deltas:
                yield self.wrap(delta)
        yield Done(blocking.result)
