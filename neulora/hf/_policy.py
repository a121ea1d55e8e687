"""How failed remote calls are retried.

Backoff with jitter, server hints honoured, one total deadline.

huggingface_hub does not retry 503 (model loading) or 429 (rate limit): :class:`RetryPolicy` decides
what is retried and how long to wait; :mod:`neulora.hf` classifies the failures and runs the loop.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .._checks import check_int, check_number, check_seconds


@dataclass(frozen=True)
class RetryPolicy:
    """How failed calls are retried.

    Exponential backoff with jitter, server hints honoured, a total deadline.

    ``sleep`` and ``clock`` are injectable so that tests measure waits without waiting.
    ``scale_up_timeout`` (seconds) is sent as ``X-Scale-Up-Timeout`` so that a scaled-to-zero
    Inference Endpoint holds the request while it starts instead of answering 503 at once.

    >>> RetryPolicy(max_attempts=3, backoff=1.0, jitter=0.0).backoff_delay(2)
    2.0
    """

    max_attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 20.0
    jitter: float = 0.25
    deadline: float = 120.0
    scale_up_timeout: float | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        check_int("RetryPolicy max_attempts", self.max_attempts)
        check_number("RetryPolicy backoff", self.backoff, low=0.0)
        check_number("RetryPolicy max_backoff", self.max_backoff, low=0.0)
        check_seconds("RetryPolicy deadline", self.deadline)
        check_number("RetryPolicy jitter", self.jitter, low=0.0, high=1.0)
        if self.scale_up_timeout is not None:
            check_seconds("RetryPolicy scale_up_timeout", self.scale_up_timeout)

    def backoff_delay(self, attempt: int) -> float:
        """The wait after failed attempt ``attempt`` (from 1) when the server gave no hint."""
        base = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
        return float(base * (1 + self.jitter * self.rng.random()))

    def next_delay(
        self, attempt: int, retryable: bool, retry_after: float | None, started: float
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up.

        Not retryable, out of tries or time.
        """
        if not retryable or attempt >= self.max_attempts:
            return None
        delay = retry_after if retry_after is not None else self.backoff_delay(attempt)
        # a server hint of -5 or NaN: fall back to our own backoff
        if not math.isfinite(delay) or delay < 0:
            delay = self.backoff_delay(attempt)
        if self.clock() + delay - started > self.deadline:
            return None
        return delay

    def headers(self) -> dict[str, str]:
        """Extra request headers this policy asks for."""
        return (
            {"X-Scale-Up-Timeout": str(int(self.scale_up_timeout))} if self.scale_up_timeout else {}
        )
