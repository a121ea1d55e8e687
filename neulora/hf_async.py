"""The async half of the Hugging Face edge: shared connection pools, ``AsyncInferenceClient``s, async retries.

Same token rules, classification and retry policy as :mod:`neulora.hf`; only the waiting differs.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

from .errors import GenerationError, NeuloraError
from .hf import Attempts, HFAuth
from .retry import RetryPolicy

__all__ = ["AsyncSessions", "ReadToTheEnd", "acall_with_retry", "async_inference_client"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class AsyncSessions:
    """The connection pools of one neulora client's async calls: a few ``httpx2.AsyncClient`` per event loop.

    huggingface_hub gives each ``AsyncInferenceClient`` a connection pool of its own; one per request would pay
    a new pool (and TLS set-up) every turn. Each request still gets its own ``AsyncInferenceClient`` (its
    ``close()`` ends that request's responses, so a cancelled stream closes its connection) over a shared pool.

    Each pool is huggingface_hub's default client (its request and response hooks) with room for its share of
    ``max_connections``, all kept alive: httpx's default of 100 (20 kept alive) made the 101st learner of a busy
    server wait for a free connection. Requests take the ``shards`` pools in turn because httpcore looks at every
    idle connection of a pool (a system call each) whenever a request starts or ends: measured at 200 concurrent
    streams, one pool of 200 spent 30% of the server's CPU there. A client factory set with huggingface_hub's
    ``set_async_client_factory`` is used as it is (one pool per loop).
    """

    def __init__(self, *, max_connections: int = 1024, shards: int = 8) -> None:
        self.max_connections, self.shards = max_connections, shards
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Any]] = weakref.WeakKeyDictionary()
        self._turn = itertools.count()

    def get(self) -> Any:
        """A pool of the running loop (made on first use), the next in turn."""
        pools = self._by_loop.setdefault(asyncio.get_running_loop(), [])
        if not pools or any(p.is_closed for p in pools):
            pools[:] = self._new_pools()
        return pools[next(self._turn) % len(pools)]

    def _new_pools(self) -> list[Any]:
        import httpx2
        from huggingface_hub.utils import _http

        if _http._GLOBAL_ASYNC_CLIENT_FACTORY is not _http.default_async_client_factory:
            return [_http.get_async_session()]  # the application's own factory
        hooks = {"request": [_http.async_hf_request_event_hook], "response": [_http.async_hf_response_event_hook]}
        size = max(1, self.max_connections // self.shards)
        limits = httpx2.Limits(max_connections=size, max_keepalive_connections=size)
        tls = httpx2.create_ssl_context()  # one for all: each costs milliseconds to load the CA bundle
        return [httpx2.AsyncClient(event_hooks=hooks, follow_redirects=True, timeout=None, limits=limits, verify=tls)
                for _ in range(self.shards)]

    async def aclose(self) -> None:
        """Close the running loop's pools."""
        for pool in self._by_loop.pop(asyncio.get_running_loop(), []):
            await pool.aclose()


def async_inference_client(auth: HFAuth, session: Any, *, url: str | None = None, provider: str | None = None,
                           timeout: float | None = 60.0, headers: Mapping[str, str] | None = None) -> Any:
    """An ``AsyncInferenceClient`` like :func:`inference_client`'s, over ``session`` (an :class:`AsyncSessions` pool).

    The pool is set on the client's ``_async_client`` (huggingface_hub 2.x reads it there and enters none of its
    own then); ``tests/unit/test_hf_edge.py`` checks that this still holds for the installed version.
    """
    from huggingface_hub import AsyncInferenceClient

    extra = dict(headers or {})
    token = auth.for_url(url)
    if url is not None and token is None:
        extra["authorization"] = ""
    if url is not None:
        client = AsyncInferenceClient(base_url=url, token=token, timeout=timeout, headers=extra)
    else:
        client = AsyncInferenceClient(provider=cast(Any, provider), token=token, timeout=timeout, headers=extra)
    client._async_client = ReadToTheEnd(session)
    return client


class ReadToTheEnd:
    """The shared pool as one ``AsyncInferenceClient`` sees it: its streams are read to the end of the message.

    huggingface_hub stops reading a stream at ``data: [DONE]``, one chunk before the end of the HTTP message, and
    a response closed before its end closes its connection: every streamed turn paid a new TCP (and TLS)
    connection to the engine (measured: 5 turns, 5 connections). Here the ``[DONE]`` line is handed over only
    after the rest of the message is read (``grace`` seconds at most: a server that never ends its message after
    ``[DONE]`` loses its connection, as before), so the connection goes back to the pool. A stream abandoned
    before ``[DONE]`` (a client that hung up) still closes its connection, which stops the engine's work.
    """

    def __init__(self, session: Any, *, grace: float = 1.0) -> None:
        self._session, self.grace = session, grace

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    @asynccontextmanager
    async def stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with self._session.stream(*args, **kwargs) as response:
            lines = response.aiter_lines
            response.aiter_lines = lambda: _to_the_end(lines(), self.grace)  # what huggingface_hub iterates
            yield response


async def _to_the_end(lines: AsyncIterator[str], grace: float) -> AsyncIterator[str]:
    import httpx2

    done = None
    async for line in lines:
        if line.strip() == "data: [DONE]":
            done = line
            break
        yield line
    if done is None:
        return
    try:
        async with asyncio.timeout(grace):
            async for _ in lines:  # what follows [DONE] (nothing but the end of the message, normally)
                pass
    except (TimeoutError, OSError, httpx2.HTTPError, httpx2.StreamError):  # closed with the response, as before
        logger.debug("a stream did not end within %s s of [DONE]", grace)
    yield done


async def acall_with_retry(call: Callable[[], Awaitable[T]], *, policy: RetryPolicy, auth: HFAuth, where: str,
                           base: type[NeuloraError] = GenerationError, url: str | None = None) -> T:
    """:func:`~neulora.hf.call_with_retry` for a coroutine: the same :class:`~neulora.hf.Attempts`, on the loop."""
    run = Attempts(policy=policy, auth=auth, where=where, base=base, url=url, deadline=None)
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return await asyncio.wait_for(call(), run.deadline.remaining())
        except asyncio.TimeoutError:
            delay = run.failed(None, attempt)
        except run.errors as exc:
            delay = run.failed(exc, attempt)
        if delay is None:
            break
        await asyncio.sleep(delay)
    raise run.error from run.cause
