"""Retry policy and the translation of HTTP failures into neulora's errors.

huggingface_hub does not retry 503 (model loading) or 429 (rate limit): this module decides what is retried,
how long to wait (``Retry-After``, ``estimated_time``, else exponential backoff with jitter) and when to stop.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import (
    AuthError,
    EndpointTimeoutError,
    GenerationError,
    ModelUnavailableError,
    QuotaError,
    RateLimitError,
)

__all__ = ["Failure", "RetryPolicy", "classify"]

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How failed calls are retried: exponential backoff with jitter, server hints honoured, a total deadline.

    ``sleep`` and ``clock`` are injectable so that tests measure waits without waiting. ``scale_up_timeout``
    (seconds) is sent as ``X-Scale-Up-Timeout`` so that a scaled-to-zero Inference Endpoint holds the request
    while it starts instead of answering 503 at once.

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
        if self.max_attempts < 1 or self.backoff < 0 or self.deadline <= 0 or not 0 <= self.jitter <= 1:
            raise ValueError("RetryPolicy needs max_attempts >= 1, backoff >= 0, deadline > 0, 0 <= jitter <= 1")

    def backoff_delay(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based) when the server gave no hint."""
        base = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
        return float(base * (1 + self.jitter * self.rng.random()))

    def next_delay(self, attempt: int, failure: Failure, started: float) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        if not failure.retryable or attempt >= self.max_attempts:
            return None
        delay = failure.retry_after if failure.retry_after is not None else self.backoff_delay(attempt)
        if self.clock() + delay - started > self.deadline:
            return None
        return delay

    def headers(self) -> dict[str, str]:
        """Extra request headers this policy asks for."""
        return {"X-Scale-Up-Timeout": str(int(self.scale_up_timeout))} if self.scale_up_timeout else {}


@dataclass(frozen=True)
class Failure:
    """One failed attempt, classified."""

    kind: str  # "http", "timeout", "connection", "stream"
    status: int | None
    message: str
    retryable: bool
    retry_after: float | None = None

    @property
    def fallback_allowed(self) -> bool:
        """Whether another model could succeed where this one failed (not for auth, quota or bad requests)."""
        return self.status is None or self.status in RETRYABLE_STATUS or self.status == 404

    def to_error(self, where: str, token_hint: str) -> GenerationError:
        """The typed error for this failure at ``where`` (style and target)."""
        s = self.status
        if s in (401, 403):
            return AuthError(f"{where}: HTTP {s}, the token was refused ({token_hint}): {self.message}")
        if s == 402:
            return QuotaError(f"{where}: HTTP 402, the account's inference credits are depleted: {self.message}")
        if s == 404:
            return ModelUnavailableError(
                f"{where}: HTTP 404, not served there. A custom fine-tune needs a dedicated Inference Endpoint "
                f"(give its URL as the style's target) or a multi-LoRA server (base_url plus adapter names): "
                f"{self.message}"
            )
        if s == 429:
            return RateLimitError(f"{where}: HTTP 429, rate limited after retries: {self.message}")
        if s in (503, 504) or self.kind == "timeout":
            return EndpointTimeoutError(f"{where}: still unavailable after retries ({self.message})")
        return GenerationError(f"{where}: {self.message}")


def classify(exc: BaseException, redact: Callable[[str], str]) -> Failure:
    """Turn an exception raised by huggingface_hub/httpx2 into a :class:`Failure`."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError, OverloadedError, TextGenerationError

    if isinstance(exc, HfHubHTTPError) and getattr(exc, "response", None) is not None:
        response = exc.response
        status = int(response.status_code)
        hint = _retry_after(response.headers.get("Retry-After"))
        body = _body(response)
        if hint is None and isinstance(body, dict) and isinstance(body.get("estimated_time"), (int, float)):
            hint = float(body["estimated_time"])
        detail = body.get("error") if isinstance(body, dict) and body.get("error") else response.reason_phrase
        return Failure("http", status, redact(f"HTTP {status}: {detail}"), status in RETRYABLE_STATUS, hint)
    if isinstance(exc, (InferenceTimeoutError, httpx2.TimeoutException)):
        return Failure("timeout", None, redact(f"timed out: {exc}"), True)
    if isinstance(exc, httpx2.TransportError):
        return Failure("connection", None, redact(f"{type(exc).__name__}: {exc}"), True)
    if isinstance(exc, OverloadedError):
        return Failure("stream", 503, redact(f"overloaded: {exc}"), True)
    if isinstance(exc, TextGenerationError):
        return Failure("stream", 400, redact(f"{type(exc).__name__}: {exc}"), False)
    return Failure("http", None, redact(f"{type(exc).__name__}: {exc}"), False)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils  # only for the rare HTTP-date form (it pulls in socket)

    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def _body(response: Any) -> Any:
    try:
        response.read()
        return json.loads(response.text)
    except (ValueError, RuntimeError, OSError):
        return None
