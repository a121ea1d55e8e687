"""The one edge to Hugging Face: the token, ``InferenceClient`` construction, retries, error mapping, redaction.

Everything neulora says to Hugging Face (or to a server that speaks its protocol) goes through here: the
embedder of the Inference API, the style client, and the router download. Nothing else imports
``huggingface_hub`` or ``httpx2``.

The token is looked up in one order: the ``token`` argument, ``HF_TOKEN``, ``HF_API_KEY`` (an alias kept for
the original app), then the token huggingface_hub itself finds (``hf auth login``). It is sent to Hugging Face
hosts (the providers' router, ``*.huggingface.co``, ``*.hf.space``, Inference Endpoints) and to a custom URL
only when it was given explicitly as the ``token`` argument: an ambient ``HF_TOKEN`` never reaches a server
you merely named in ``base_url``.

>>> auth = HFAuth.resolve("hf_example", environ={})
>>> auth
HFAuth(token from the token argument)
>>> auth.redact("echoed: Bearer hf_example")
'echoed: Bearer ***'
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from .deadline import Deadline, DeadlineExpired, call_within
from .errors import (
    AuthError,
    ConfigError,
    EndpointTimeoutError,
    GenerationError,
    ModelUnavailableError,
    NeuloraError,
    QuotaError,
    RateLimitError,
    UpstreamError,
)
from .retry import RetryPolicy
from .text import redact_url

__all__ = ["RETRYABLE_STATUS", "Attempts", "Failure", "HFAuth", "Remote", "call_with_retry", "check_provider",
           "check_url", "classify", "download", "http_errors", "inference_client", "is_hf_host", "redacted"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# what a server or proxy may echo back: an Authorization value, or anything shaped like a Hugging Face token
_SECRET = re.compile(r"(\b(?:[Bb]earer|[Bb]asic|[Tt]oken)\s+)[^\s\"',}]{8,}|()\bhf_[A-Za-z0-9]{8,}")
_HF_HOST_SUFFIXES = ("huggingface.co", "hf.co", "hf.space", "huggingface.cloud")


def is_hf_host(url: str) -> bool:
    """Whether ``url`` points at a Hugging Face host (the Hub, its router, Spaces, Inference Endpoints)."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == s or host.endswith("." + s) for s in _HF_HOST_SUFFIXES)


@dataclass(frozen=True)
class HFAuth:
    """A resolved token, where it came from, and whether the caller gave it explicitly. Its repr hides it."""

    token: str | None = field(default=None, repr=False)
    source: str = "none"
    explicit: bool = False

    @classmethod
    def resolve(cls, token: str | None = None, *, environ: Mapping[str, str] | None = None) -> HFAuth:
        """The token by precedence: argument, ``HF_TOKEN``, ``HF_API_KEY``, then huggingface_hub's own login."""
        if token is not None:
            if not isinstance(token, str) or not token.strip():
                raise ConfigError("token must be a non-empty str")
            return cls(token.strip(), "the token argument", explicit=True)
        env = os.environ if environ is None else environ
        for var in ("HF_TOKEN", "HF_API_KEY"):
            if env.get(var, "").strip():
                return cls(env[var].strip(), var)
        if environ is None:  # the saved login is part of the real environment only
            from huggingface_hub import get_token

            saved = get_token()
            if saved:
                return cls(saved, "the saved login (hf auth login)")
        return cls()

    def __repr__(self) -> str:
        return f"HFAuth(token from {self.source})" if self.token else "HFAuth(no token)"

    def for_url(self, url: str | None) -> str | None:
        """The token to send to ``url`` (None: the providers' router), or None when it must not go there.

        An ambient token goes to Hugging Face hosts over HTTPS only; an explicit one wherever it was given for.
        """
        if self.token is None or url is None or self.explicit:
            return self.token
        return self.token if is_hf_host(url) and url.lower().startswith("https://") else None

    def redact(self, text: str) -> str:
        """``text`` with the token, any ``hf_…`` token and any bearer credential replaced by ``***``."""
        if self.token:
            text = text.replace(self.token, "***")
        return redact_url(_SECRET.sub(lambda m: (m.group(1) or "") + "***", text))

    def hint(self, url: str | None = None) -> str:
        """Which token a request to ``url`` carried and where it came from, for error messages (never the token)."""
        if not self.token:
            return "no token: set HF_TOKEN or run 'hf auth login'"
        if self.for_url(url) is None:
            shown = redact_url(url or "")
            return (f"no token was sent: {shown} is not a Hugging Face host, and the token from {self.source} goes "
                    "there only when passed explicitly (token=...)")
        return f"token from {self.source}"


def inference_client(auth: HFAuth, *, url: str | None = None, provider: str | None = None,
                     timeout: float | None = 60.0, headers: Mapping[str, str] | None = None,
                     one_call: bool = False) -> Any:
    """An ``InferenceClient`` for a server URL (endpoint, multi-LoRA server) or for a provider.

    ``one_call``: the client serves one call and is closed after it (see :func:`closable`); a long-lived client
    (an embedder's) must not be, or every answer would stay in its exit stack until it is closed.
    """
    from huggingface_hub import InferenceClient

    extra = dict(headers or {})
    token = auth.for_url(url)
    if url is not None and token is None:
        # huggingface_hub adds the saved login to any request without a token: keep it from this server.
        extra["authorization"] = ""
    if url is not None:
        client = InferenceClient(base_url=url, token=token, timeout=timeout, headers=extra)
    else:
        client = InferenceClient(provider=cast(Any, provider), token=token, timeout=timeout, headers=extra)
    return closable(client) if one_call else client


def closable(client: Any) -> Any:
    """``client`` with its whole (non-streamed) answers closable from another thread by ``client.close()``.

    Upstream limitation: huggingface_hub's sync ``InferenceClient`` reads a non-streamed answer inside a ``with``
    of its process-wide session, out of reach; only a streamed response is kept in ``client.exit_stack``, which
    ``close()`` closes. A deadline that gave up on a whole answer trickling in could not stop it: the worker kept
    reading, holding a thread and a connection, and the engine kept generating. So the request goes the streamed
    way (the same request, its response kept in the exit stack) and its lines are joined back into the body.
    ``tests/adversarial/test_remote_faults.py`` fails if upstream stops keeping the response there. Only for a
    client closed after its one call: each answer stays in the exit stack until then.
    """
    post = client._inner_post

    def inner_post(request_parameters: Any, *, stream: bool = False) -> Any:
        if stream:
            return post(request_parameters, stream=True)
        return "\n".join(post(request_parameters, stream=True)).encode()

    client._inner_post = inner_post
    return client


def check_url(url: str, what: str = "URL") -> str:
    """``url`` without a trailing slash, if it is an http(s) URL with a host and a valid port; else ConfigError."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        ok = parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port if parts is not None else None  # raises ValueError for a port that is not 0-65535
    except ValueError:
        ok = False
    if not ok:
        shown = redact_url(url) if isinstance(url, str) else url  # a password in the URL is never repeated
        raise ConfigError(f"{what} must be an http:// or https:// URL with a host (and a port from 0 to 65535), "
                          f"got {shown!r}")
    return url.rstrip("/")


@dataclass(frozen=True)
class Remote:
    """The options every client of a remote model shares, checked once: where to send, how long to wait."""

    token: str | None = field(default=None, repr=False)
    provider: str | None = None
    base_url: str | None = None
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.token is not None and (not isinstance(self.token, str) or not self.token.strip()):
            raise ConfigError("token must be a non-empty str")
        check_provider(self.provider)
        if self.base_url is not None:
            object.__setattr__(self, "base_url", check_url(self.base_url, "base_url"))
        t = self.timeout
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < float("inf"):
            raise ConfigError(f"timeout must be a positive number of seconds, got {t!r}")


def check_provider(provider: str | None) -> str | None:
    """``provider`` if huggingface_hub knows it (``auto`` included), else a :class:`ConfigError` listing them."""
    if provider is None:
        return None
    from huggingface_hub.inference._providers import PROVIDERS

    if not isinstance(provider, str) or (provider != "auto" and provider not in PROVIDERS):
        raise ConfigError(f"unknown inference provider {provider!r}: use 'auto' or one of {sorted(PROVIDERS)}")
    return provider


@dataclass(frozen=True)
class Failure:
    """One failed call, classified: what kind, which HTTP status, whether a retry may help, the server's hint."""

    kind: str  # "http", "timeout", "connection", "stream", "offline", "response", "deadline"
    status: int | None
    message: str
    retryable: bool
    retry_after: float | None = None

    @property
    def fallback_allowed(self) -> bool:
        """Whether another model could succeed where this one failed (not for auth, quota or bad requests)."""
        return self.kind != "offline" and (self.status is None or self.status in RETRYABLE_STATUS
                                           or self.status == 404)

    def to_error(self, where: str, token_hint: str, base: type[NeuloraError] = GenerationError) -> NeuloraError:
        """The typed error for this failure at ``where``; ``base`` is the class for failures without a leaf."""
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
        if s in (503, 504) or self.kind in ("timeout", "deadline"):
            return EndpointTimeoutError(f"{where}: still unavailable after retries ({self.message})")
        return base(f"{where}: {self.message}")


def http_errors() -> tuple[type[Exception], ...]:
    """The exception classes a huggingface_hub call raises that :func:`classify` understands."""
    import httpx2
    from huggingface_hub.errors import OfflineModeIsEnabled

    return (httpx2.HTTPError, OfflineModeIsEnabled)


def classify(exc: BaseException, redact: Callable[[str], str]) -> Failure:
    """Turn an exception raised by huggingface_hub/httpx2 into a :class:`Failure` (messages redacted)."""
    import httpx2
    from huggingface_hub.errors import (
        HfHubHTTPError,
        InferenceTimeoutError,
        OfflineModeIsEnabled,
        OverloadedError,
        TextGenerationError,
    )

    if isinstance(exc, OfflineModeIsEnabled):
        return Failure("offline", None, "HF_HUB_OFFLINE is set, so huggingface_hub refuses every request "
                                        "(even to 127.0.0.1): unset it to reach this server", False)
    if isinstance(exc, HfHubHTTPError) and getattr(exc, "response", None) is not None:
        response = exc.response
        status = int(response.status_code)
        hint = _retry_after(response.headers.get("Retry-After"))
        body = _body(response)
        if hint is None and isinstance(body, dict):
            hint = _seconds(body.get("estimated_time"))
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


def redacted(exc: BaseException, redact: Callable[[str], str], *, depth: int = 0) -> UpstreamError:
    """A copy of ``exc`` and its causes that holds no secret, to chain typed errors ``from``.

    huggingface_hub's exceptions keep the server's response (a body that may echo the Authorization header):
    chaining them would put the token into every logged traceback, so only their type and redacted text travel.
    """
    copy = UpstreamError(f"{type(exc).__module__}.{type(exc).__qualname__}: {redact(str(exc))}")
    inner = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if inner is not None and depth < 8:
        copy.__cause__ = redacted(inner, redact, depth=depth + 1)
    return copy


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


def download(repo_id: str, filename: str, *, revision: str | None, auth: HFAuth,
             error: type[NeuloraError]) -> str:
    """``hf_hub_download`` (cached) with its failures raised as ``error``; returns the local path."""
    from huggingface_hub import hf_hub_download

    logger.info("downloading %s from %s", filename, repo_id)
    errors: tuple[type[Exception], ...] = (*http_errors(), OSError, ValueError)
    try:
        return str(hf_hub_download(repo_id, filename, revision=revision, token=auth.for_url(None)))
    except errors as exc:
        failed = error(f"cannot download {filename} from {repo_id}: {type(exc).__name__}: {auth.redact(str(exc))}")
        cause = redacted(exc, auth.redact)
    raise failed from cause  # outside the except clause: the hub's exception is not chained


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:  # NaN
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
