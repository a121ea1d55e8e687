"""The async half of the Hugging Face edge: shared connection pools, ``AsyncInferenceClient``s, async retries.

Same token rules, classification and retry policy as :mod:`neulora.hf`; only the waiting differs.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

from .errors import GenerationError, NeuloraError
from .hf import Attempts, HFAuth
from .retry import RetryPolicy

__all__ = ["AsyncSessions", "acall_with_retry", "async_inference_client"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class AsyncSessions:
    """One ``httpx2.AsyncClient`` per event loop, shared by every async call of one neulora client.

    huggingface_hub gives each ``AsyncInferenceClient`` a connection pool of its own; one per request would pay
    a new pool (and TLS set-up) every turn. Each request still gets its own ``AsyncInferenceClient`` (its
    ``close()`` ends that request's responses, so a cancelled stream closes its connection) over this shared pool.
    """

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def get(self) -> Any:
        """The pool of the running loop (made on first use)."""
        from huggingface_hub.utils._http import get_async_session

        loop = asyncio.get_running_loop()
        session = self._by_loop.get(loop)
        if session is None or session.is_closed:
            session = self._by_loop[loop] = get_async_session()
        return session

    async def aclose(self) -> None:
        """Close the running loop's pool."""
        session = self._by_loop.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.aclose()


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
    client._async_client = session
    return client


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
