"""Retries under a policy: what to do after each failed call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .._deadline import Deadline, DeadlineExpired, call_within
from .._redact import redacted
from ..errors import (
    EndpointTimeoutError,
    GenerationError,
    NeuloraError,
)
from ._auth import HFAuth
from ._errors import classify, http_errors
from ._policy import RetryPolicy

logger = logging.getLogger(__name__)
T = TypeVar("T")

class Attempts:
    """One call's retries under a policy, shared by the sync and async loops: what to do after each failure.

    :meth:`failed` returns the wait before the next attempt, or None when it is over; the loop then raises
    ``error from cause`` outside its ``except`` clause, so the hub's exception is never chained as the context.
    """

    def __init__(self, *, policy: RetryPolicy, auth: HFAuth, where: str, base: type[NeuloraError],
                 url: str | None, deadline: Deadline | None) -> None:
        self.policy, self.auth, self.where, self.base, self.url = policy, auth, where, base, url
        self.started = policy.clock()
        self.deadline = deadline or Deadline.after(policy.deadline, policy.clock)
        # ValueError: huggingface_hub's refusal of bad arguments or of a response it cannot parse: typed
        self.errors: tuple[type[Exception], ...] = (*http_errors(), ValueError, RecursionError)
        self.error: NeuloraError = GenerationError(f"{where}: no attempt was made")
        self.cause: BaseException | None = None

    def failed(self, exc: BaseException | None, attempt: int) -> float | None:
        """After attempt ``attempt`` failed with ``exc`` (None: the deadline passed): the wait, or None to raise."""
        if exc is None:
            self.error, self.cause = EndpointTimeoutError(f"{self.where}: no answer within the deadline of "
                                                          f"{self.deadline.seconds:g}s (attempt {attempt})"), None
            return None
        failure = classify(exc, self.auth.redact)
        delay = self.policy.next_delay(attempt, failure.retryable, failure.retry_after, self.started)
        if delay is not None and delay < self.deadline.remaining():
            logger.info("retrying %s in %.2fs after %s", self.where, delay, failure.message)
            return delay
        self.error = failure.to_error(self.where, self.auth.hint(self.url), self.base)
        self.cause = redacted(exc, self.auth.redact)
        return None


def call_with_retry(call: Callable[[], T], *, policy: RetryPolicy, auth: HFAuth, where: str,
                    base: type[NeuloraError] = GenerationError, url: str | None = None,
                    deadline: Deadline | None = None) -> T:
    """Run ``call`` under ``policy``: retryable failures wait and try again, the rest raise a typed error.

    ``deadline`` (default: ``policy.deadline`` from now) bounds everything, the requests in flight included.
    """
    run = Attempts(policy=policy, auth=auth, where=where, base=base, url=url, deadline=deadline)
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return call_within(call, run.deadline)
        except DeadlineExpired:
            delay = run.failed(None, attempt)
        except run.errors as exc:
            delay = run.failed(exc, attempt)
        if delay is None:
            break
        policy.sleep(delay)
    raise run.error from run.cause


async def acall_with_retry(call: Callable[[], Awaitable[T]], *, policy: RetryPolicy, auth: HFAuth, where: str,
                           base: type[NeuloraError] = GenerationError, url: str | None = None) -> T:
    """:func:`call_with_retry` for a coroutine: the same :class:`Attempts`, on the loop."""
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
