"""The requests neulora makes to Hugging Face, each a step that runs blocking or on an event loop.

:class:`Connection` is what one neulora client needs to reach Hugging Face (token, provider,
timeout, headers, the async connection pools). :class:`ChatCompletion` and
:class:`FeatureExtraction` are the two requests; each is one attempt of
:meth:`~neulora.hf._retry.Attempts.flow`. The blocking way waits in a worker thread no longer than
the deadline; the event-loop way awaits under ``asyncio.timeout``. Both translate failures with
:func:`~neulora.hf._errors.hub_errors` and read answers with the same
:class:`~neulora.hf._completion.ChatReader`.
"""

from __future__ import annotations

import math
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
)
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from .._deadline import Deadline, DeadlineExpired, call_within, iterate_within
from .._flow import Done
from ._auth import HFAuth
from ._clients import inference_client
from ._completion import STREAM_OPTIONS, ChatReader, Partial
from ._errors import hub_errors
from ._retry import Attempt, Target

T = TypeVar("T")


@dataclass
class Connection:
    """How one neulora client reaches Hugging Face; its async pools are made on first async use."""

    auth: HFAuth
    provider: str | None
    timeout: float
    headers: Mapping[str, str]
    _sessions: Any = field(default=None, repr=False)
    _kept: Any = field(default=None, repr=False)

    def client(self, target: Target, deadline: Deadline) -> Any:
        """A client for one call, closed after it (no single read outlives the deadline)."""
        timeout = max(0.05, min(self.timeout, deadline.remaining()))
        return inference_client(
            self.auth,
            url=target.url,
            provider=self.provider,
            timeout=timeout,
            headers=self.headers,
            one_call=True,
        )

    def kept_client(self, target: Target) -> Any:
        """The client kept for every call to ``target`` (an embedder's: made once, never closed)."""
        if self._kept is None:
            self._kept = inference_client(
                self.auth,
                url=target.url,
                provider=self.provider,
                timeout=self.timeout,
                headers=self.headers,
            )
        return self._kept

    def aclient(self, target: Target) -> Any:
        """An async client for one call, over the running loop's shared connection pool."""
        from ._async_clients import AsyncSessions, async_inference_client

        if self._sessions is None:
            self._sessions = AsyncSessions()
        return async_inference_client(
            self.auth,
            self._sessions.get(),
            url=target.url,
            provider=self.provider,
            timeout=self.timeout,
            headers=self.headers,
        )

    @asynccontextmanager
    async def within(
        self, target: Target, deadline: Deadline
    ) -> AsyncIterator[tuple[Any, Callable[[Awaitable[T]], Awaitable[T]]]]:
        """An async client for one call, and ``wait``: each await bounded by what is left of time.

        Time running out is :class:`DeadlineExpired`; the client is closed at the end (its own
        responses only: the shared connection pool stays).
        """
        import asyncio

        async def wait(step: Awaitable[T]) -> T:
            async with asyncio.timeout(_left(deadline)):  # no task per delta (wait_for makes one)
                return await step

        client = self.aclient(target)
        try:
            yield client, wait
        except TimeoutError:
            message = f"no answer within the deadline of {deadline.seconds:g}s"
            raise DeadlineExpired(message) from None
        finally:
            await client.close()

    async def aclose(self) -> None:
        """Close the connection pool the async calls of this event loop share."""
        if self._sessions is not None:
            await self._sessions.aclose()


class ChatCompletion(Attempt):
    """One chat-completion request.

    Whole (the answer lands in ``state``) or streamed (its deltas are yielded).
    """

    def __init__(
        self,
        connection: Connection,
        target: Target,
        messages: list[dict[str, str]],
        options: dict[str, Any],
        deadline: Deadline,
        *,
        streaming: bool,
    ) -> None:
        self.connection = connection
        self.target = target
        self.messages = messages
        self.options = options
        self.deadline = deadline
        self.streaming = streaming
        self.state = Partial(model=str(target.model or target.url))

    @property
    def received(self) -> str:
        return self.state.text

    def _request(self, client: Any) -> Any:
        extra = {"stream": True, "stream_options": STREAM_OPTIONS} if self.streaming else {}
        return client.chat_completion(
            self.messages, model=self.target.model, **extra, **self.options
        )

    def run(self) -> Generator[str, None, None]:
        client = self.connection.client(self.target, self.deadline)
        try:
            with hub_errors(self.connection.auth.redact, answers=True):
                if self.streaming:
                    deltas = partial(self._deltas, client)
                    yield from iterate_within(deltas, self.deadline, abandon=client.close)
                else:
                    request = partial(self._request, client)
                    whole = call_within(request, self.deadline, abandon=client.close)
                    ChatReader(self.state).whole(whole)
        finally:
            client.close()

    def _deltas(self, client: Any) -> Iterator[str]:
        reader = ChatReader(self.state)
        for event in self._request(client):
            delta = reader.feed(event)
            if delta:
                yield delta
        tail = reader.end()
        if tail:
            yield tail

    async def arun(self) -> AsyncGenerator[Any, None]:
        async with self.connection.within(self.target, self.deadline) as (client, wait):
            reader = ChatReader(self.state)
            with hub_errors(self.connection.auth.redact, answers=True):
                if not self.streaming:
                    reader.whole(await wait(self._request(client)))
                    yield Done(None)
                    return
                events = await wait(self._request(client))
                while True:
                    try:
                        event = await wait(events.__anext__())
                    except StopAsyncIteration:
                        break
                    delta = reader.feed(event)
                    if delta:
                        yield delta
                tail = reader.end()
                if tail:
                    yield tail
                yield Done(None)


class FeatureExtraction(Attempt):
    """One feature-extraction request (texts to vectors) through the connection's kept client."""

    def __init__(
        self, connection: Connection, target: Target, texts: list[str], deadline: Deadline
    ) -> None:
        self.connection = connection
        self.target = target
        self.texts = texts
        self.deadline = deadline

    def run(self) -> Generator[Any, None, Any]:
        client = self.connection.kept_client(self.target)
        with hub_errors(self.connection.auth.redact):
            call = partial(client.feature_extraction, self.texts, model=self.target.model)
            return call_within(call, self.deadline)
        yield  # a generator that yields nothing

    async def arun(self) -> AsyncGenerator[Any, None]:
        async with self.connection.within(self.target, self.deadline) as (client, wait):
            with hub_errors(self.connection.auth.redact):
                request = client.feature_extraction(self.texts, model=self.target.model)
                yield Done(await wait(request))


def _left(deadline: Deadline) -> float | None:
    """Seconds for the next wait (None: no limit); an expired deadline stops before the wait."""
    left = deadline.remaining()
    if left <= 0.0:
        raise TimeoutError  # asyncio.timeout(0) would let a step that needs no I/O finish
    return left if math.isfinite(left) else None
