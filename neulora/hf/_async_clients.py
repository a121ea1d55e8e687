"""The async half of the Hugging Face edge.

Shared connection pools, ``AsyncInferenceClient``s, async retries.

Same token rules, classification and retry policy as :mod:`neulora.hf`; only the waiting differs.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

from ._auth import HFAuth
from ._clients import client_options

logger = logging.getLogger(__name__)


class AsyncSessions:
    """The connection pools of one neulora client's async calls.

    A few ``httpx2.AsyncClient`` per event loop.

    huggingface_hub gives each ``AsyncInferenceClient`` a connection pool of its own; one per
    request would pay a new pool (and TLS set-up) every turn. Each request still gets its own
    ``AsyncInferenceClient`` (its ``close()`` ends that request's responses, so a cancelled stream
    closes its connection) over a shared pool.

    Each pool is huggingface_hub's default client (its request and response hooks) with room for its
    share of ``max_connections``, and keeps them all alive between requests (httpx closes one idle
    for 5 s): httpx's default of 100 (20 kept) made the 101st learner of a busy server wait for a
    free connection. Requests take the ``shards`` pools in turn because httpcore looks at every idle
    connection of a pool (a system call each) whenever a request starts or ends: measured at 200
    concurrent streams, one pool of 200 spent 30% of the server's CPU there. A client factory set
    with huggingface_hub's ``set_async_client_factory`` is used as it is.
    """

    def __init__(self, *, max_connections: int = 1024, shards: int = 8) -> None:
        self.max_connections = max_connections
        self.shards = shards
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Any]] = (
            weakref.WeakKeyDictionary()
        )
        self._turn = itertools.count()
        self._tls: Any = (
            None  # one SSL context for every pool: each costs milliseconds to load the CA bundle
        )

    def get(self) -> Any:
        """A pool of the running loop, the next in turn.

        Made on first use, and again if it was closed.
        """
        pools = self._by_loop.setdefault(asyncio.get_running_loop(), [None] * self.shards)
        i = next(self._turn) % len(pools)
        pool = pools[i]
        if pool is None or pool.is_closed:
            pool = pools[i] = self._new_pool()
        return pool

    def _new_pool(self) -> Any:
        """A pool like huggingface_hub's own default one, with room for this share of connections.

        Upstream limitation: huggingface_hub builds its async client in the private
        ``utils._http`` (its hooks, and whether the application set a factory) and offers no public
        way to get one with other connection limits. ``tests/unit/hf/test_hf_edge.py`` fails if
        those private names go.
        """
        import httpx2
        from huggingface_hub.utils import _http

        if _http._GLOBAL_ASYNC_CLIENT_FACTORY is not _http.default_async_client_factory:
            return _http.get_async_session()  # the application's own factory
        hooks: dict[str, list[Callable[..., Any]]] = {
            "request": [_http.async_hf_request_event_hook],
            "response": [_http.async_hf_response_event_hook],
        }
        size = max(1, self.max_connections // self.shards)
        self._tls = self._tls or httpx2.create_ssl_context()
        return httpx2.AsyncClient(
            event_hooks=hooks,
            follow_redirects=True,
            timeout=None,
            verify=self._tls,
            limits=httpx2.Limits(max_connections=size, max_keepalive_connections=size),
        )

    async def aclose(self) -> None:
        """Close the running loop's pools."""
        for pool in self._by_loop.pop(asyncio.get_running_loop(), []):
            if pool is not None:
                await pool.aclose()


def async_inference_client(
    auth: HFAuth,
    session: Any,
    *,
    url: str | None = None,
    provider: str | None = None,
    timeout: float | None = 60.0,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """An ``AsyncInferenceClient`` like :func:`inference_client`'s, over ``session``.

    An :class:`AsyncSessions` pool.

    The pool is set on the client's ``_async_client`` (huggingface_hub 2.x reads it there and enters
    none of its own then); ``tests/unit/hf/test_hf_edge.py`` checks that this still holds for the
    installed version.
    """
    from huggingface_hub import AsyncInferenceClient

    client = AsyncInferenceClient(**client_options(auth, url, provider, timeout, headers))
    # duck-types the pool where huggingface_hub uses it
    client._async_client = cast(Any, ReadToTheEnd(session))
    return client


class ReadToTheEnd:
    """The shared pool as one ``AsyncInferenceClient`` sees it.

    Its finished streams are read to the end.

    huggingface_hub stops reading a stream at ``data: [DONE]``, one chunk before the end of the HTTP
    message, and a response closed before its end closes its connection: every streamed turn paid a
    new TCP (and TLS) connection to the engine (measured: 16 turns, 16 connections). Here, when a
    stream that reached ``[DONE]`` is closed (:class:`_Ending`), the rest of the message is read
    (for ``grace`` seconds of the loop's waking time at most, and three graces of the clock,
    outside the turn's deadline: a server that never ends its message after ``[DONE]`` loses its
    connection, as before), so the connection goes back to the pool. A stream abandoned before
    ``[DONE]``, or closed by a cancelled task (a learner who hung up), closes its connection, which
    stops the engine's work.
    """

    def __init__(self, session: Any, *, grace: float = 1.0) -> None:
        self._session = session
        self.grace = grace

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    @asynccontextmanager
    async def stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with self._session.stream(*args, **kwargs) as response:
            ending = _Ending(response, self.grace)
            lines = response.aiter_lines()
            response.aiter_lines = lambda: ending.until_done(lines)  # what huggingface_hub iterates
            response.aclose = ending.aclose  # huggingface_hub 2.5 closes it from a finalizer
            yield response


class _Ending:
    """How one streamed response ends: read to its end after ``[DONE]``, then closed.

    Whoever closes the response first after ``[DONE]`` reads the rest of the message first:
    huggingface_hub 2.5 closes it from the finalizer of its line reader (a task of its own, as soon
    as it stops reading), the client's ``close()`` at the end of the turn. A second closer waits for
    that read; the read's own close (httpx closes a response read to its end) goes through. A closer
    whose task is being cancelled (a learner who hung up) closes at once.
    """

    def __init__(self, response: Any, grace: float) -> None:
        self.grace = grace
        self._close = response.aclose  # httpx's own
        self._rest: AsyncIterator[str] | None = None  # the lines after [DONE], once seen
        self._reader: asyncio.Task[Any] | None = None  # the task reading them
        self._read = asyncio.Event()

    async def until_done(self, lines: AsyncIterator[str]) -> AsyncIterator[str]:
        async for line in lines:
            done = line.strip() == "data: [DONE]"
            if done:
                self._rest = lines
            yield line
            if done:  # its reader reads on: the rest is its own to read
                self._rest = None

    async def aclose(self) -> None:
        task = asyncio.current_task()
        cancelled = task is not None and task.cancelling() > 0
        if self._rest is not None and not cancelled and task is not self._reader:
            if self._reader is None:
                self._reader = task
                try:
                    await _drain(self._rest, self.grace)
                finally:
                    self._read.set()
            else:
                await self._read.wait()
        await self._close()


async def _drain(lines: AsyncIterator[str], grace: float) -> None:
    """Read ``lines`` to their end, giving up after ``grace`` s of the loop's waking time.

    A pause of the whole process (a long garbage collection, a busy machine) is not the server's
    silence: with a plain ``asyncio.timeout(grace)``, a pause longer than the grace made the end of
    the message (waiting in the socket all along) and the deadline come due in the same turn of the
    loop, the deadline won, and the connection was closed. :class:`_Watchdog` counts the time.
    """
    import httpx2

    try:
        async with asyncio.timeout(None) as deadline:
            watchdog = _Watchdog(deadline, grace)
            watchdog.start()
            try:
                async for _ in lines:  # nothing but the end of the message, normally
                    pass
            finally:
                watchdog.stop()
    except (TimeoutError, OSError, httpx2.HTTPError, httpx2.StreamError):
        # closed with the response, as before
        logger.debug("a stream did not end within %s s of [DONE]", grace)


class _Watchdog:
    """Expires ``deadline`` once ``grace`` s of the loop's waking time have passed.

    The time is counted in ``tick`` steps, none counted for more than two ticks, so a pause of the
    process counts for little. Past ``limit`` graces of wall-clock time it expires all the same: a
    loop slowed by other work for good does not wait for its ticks many times over.
    """

    def __init__(
        self, deadline: asyncio.Timeout, grace: float, *, tick: float = 0.05, limit: float = 3.0
    ) -> None:
        self.deadline = deadline
        self.grace = grace
        self.tick = tick
        self.limit = limit
        self._awake = 0.0
        self._started = self._last = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._started = self._last = loop.time()
        self._handle = loop.call_later(self.tick, self._check, loop)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        self._awake += min(now - self._last, 2 * self.tick)
        self._last = now
        if self._awake >= self.grace or now - self._started >= self.limit * self.grace:
            self.deadline.reschedule(now)
        else:
            self._handle = loop.call_later(self.tick, self._check, loop)
