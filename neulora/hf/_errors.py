"""Hugging Face failures, translated at the edge: classified, redacted, typed.

:func:`hub_errors` is the one translator (the shape of httpx's ``map_httpcore_exceptions``): inside
it, whatever huggingface_hub or httpx2 raises, and a 200 that is not what was asked for, becomes a
:class:`HubFailure` that holds the classified :class:`Failure` and a redacted copy of the exception
to chain. The retry loop decides from the failure; :meth:`Failure.to_error` names the typed error a
user catches.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .._checks import is_real
from .._redact import redacted
from ..errors import (
    AuthError,
    EndpointTimeoutError,
    GenerationError,
    ModelUnavailableError,
    NeuloraError,
    QuotaError,
    RateLimitError,
    UpstreamError,
)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Failure:
    """One failed call, classified.

    What kind, which HTTP status, whether a retry may help, the server's hint.
    """

    kind: str  # "http", "timeout", "connection", "stream", "offline", "response", "deadline"
    status: int | None
    message: str
    retryable: bool
    retry_after: float | None = None

    @property
    def fallback_allowed(self) -> bool:
        """Whether another model could succeed where this one failed.

        Not for auth, quota or bad requests.
        """
        return self.kind != "offline" and (
            self.status is None or self.status in RETRYABLE_STATUS or self.status == 404
        )

    def to_error(
        self, where: str, token_hint: str, base: type[NeuloraError] = GenerationError
    ) -> NeuloraError:
        """The typed error for this failure at ``where``.

        ``base`` is the class for failures without a leaf.
        """
        s = self.status
        if s in (401, 403):
            return AuthError(
                f"{where}: HTTP {s}, the token was refused ({token_hint}): {self.message}"
            )
        if s == 402:
            return QuotaError(
                f"{where}: HTTP 402, the account's inference credits are depleted: {self.message}"
            )
        if s == 404:
            return ModelUnavailableError(
                f"{where}: HTTP 404, not served there. A custom fine-tune needs a dedicated "
                "Inference Endpoint "
                "(give its URL as the style's target) or a multi-LoRA server (base_url plus "
                "adapter names): "
                f"{self.message}"
            )
        if s == 429:
            return RateLimitError(f"{where}: HTTP 429, rate limited after retries: {self.message}")
        if s in (503, 504) or self.kind in ("timeout", "deadline"):
            return EndpointTimeoutError(
                f"{where}: still unavailable after retries ({self.message})"
            )
        return base(f"{where}: {self.message}")


def http_errors() -> tuple[type[Exception], ...]:
    """The exception classes a huggingface_hub call raises that :func:`classify` understands."""
    import httpx2
    from huggingface_hub.errors import OfflineModeIsEnabled

    return (httpx2.HTTPError, OfflineModeIsEnabled)


def classify(exc: BaseException, redact: Callable[[str], str]) -> Failure:
    """Turn an exception raised by huggingface_hub/httpx2 into a :class:`Failure`.

    Messages redacted.
    """
    import httpx2
    from huggingface_hub.errors import (
        HfHubHTTPError,
        InferenceTimeoutError,
        OfflineModeIsEnabled,
        OverloadedError,
        TextGenerationError,
    )

    if isinstance(exc, OfflineModeIsEnabled):
        return Failure(
            "offline",
            None,
            "HF_HUB_OFFLINE is set, so huggingface_hub refuses every request "
            "(even to 127.0.0.1): unset it to reach this server",
            False,
        )
    if isinstance(exc, HfHubHTTPError) and getattr(exc, "response", None) is not None:
        response = exc.response
        status = int(response.status_code)
        hint = _retry_after(response.headers.get("Retry-After"))
        body = _body(response)
        if hint is None and isinstance(body, dict):
            hint = _seconds(body.get("estimated_time"))
        detail = (
            body.get("error")
            if isinstance(body, dict) and body.get("error")
            else response.reason_phrase
        )
        return Failure(
            "http", status, redact(f"HTTP {status}: {detail}"), status in RETRYABLE_STATUS, hint
        )
    if isinstance(exc, (InferenceTimeoutError, httpx2.TimeoutException)):
        return Failure("timeout", None, redact(f"timed out: {exc}"), True)
    if isinstance(exc, httpx2.TransportError):
        return Failure("connection", None, redact(f"{type(exc).__name__}: {exc}"), True)
    if isinstance(exc, OverloadedError):
        return Failure("stream", 503, redact(f"overloaded: {exc}"), True)
    if isinstance(exc, TextGenerationError):
        return Failure("stream", 400, redact(f"{type(exc).__name__}: {exc}"), False)
    return Failure("http", None, redact(f"{type(exc).__name__}: {exc}"), False)


class Malformed(Exception):
    """A 200 response that is not what was asked for (a chat completion without choices).

    Retried, then fallback.
    """


class HubFailure(Exception):
    """A failed call, classified and redacted.

    Internal to the edge (the retry loop turns it into a typed error).
    """

    def __init__(self, failure: Failure, cause: UpstreamError | None) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.cause = cause


@contextmanager
def hub_errors(redact: Callable[[str], str], *, answers: bool = False) -> Iterator[None]:
    """Translate what a call to Hugging Face raises into :class:`HubFailure`, most specific first.

    The hub's exception is never chained to anything a user sees: only ``cause``, a redacted copy,
    is. ``answers``: the call reads a chat completion, so a ValueError, AttributeError or
    RecursionError means huggingface_hub could not read the server's answer (retried, then the next
    target); elsewhere a ValueError is huggingface_hub refusing an argument (not retried).
    """
    try:
        yield
    except Malformed as exc:
        raise HubFailure(
            Failure("response", 502, f"malformed response: {exc}", True), None
        ) from None
    except http_errors() as exc:
        raise HubFailure(classify(exc, redact), redacted(exc, redact)) from None
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        if not answers and isinstance(exc, AttributeError):
            raise  # a bug, not a failure of the call
        if answers:
            # a 200 huggingface_hub could not read: not JSON, a JSON array as an event, a NaN its
            # parsed types recurse on
            message = f"the server's answer could not be read: {type(exc).__name__}: {exc}"
            failure = Failure("response", 502, redact(message), True)
        else:
            failure = Failure("http", None, redact(f"{type(exc).__name__}: {exc}"), False)
        raise HubFailure(failure, redacted(exc, redact)) from None


def _seconds(value: Any) -> float | None:
    if not is_real(value) or value != value:  # NaN
        return None
    return max(0.0, min(float(value), 3600.0))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return _seconds(float(value))
    except ValueError:
        pass
    import email.utils  # only for the rare HTTP-date form (it pulls in socket)

    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return _seconds(parsed.timestamp() - time.time())


def _body(response: Any) -> Any:
    try:
        response.read()
        return json.loads(response.text)
    except (ValueError, RuntimeError, OSError):
        return None
