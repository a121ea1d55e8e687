"""Style-specific generation through ``huggingface_hub.InferenceClient``.

A style's target is a Hub repo id (served by a provider), an endpoint URL (a dedicated Inference Endpoint per
style), or an adapter name on one shared ``base_url`` (a multi-LoRA server: vLLM, TGI, LoRAX, where the
request's ``model`` field picks the adapter).

>>> client = HFStyleClient(base_url="http://127.0.0.1:8080",  # doctest: +SKIP
...                        models={"direct": "direct", "socratic": "socratic", "scaffolding": "scaff",
...                                "feedback": "feedback"})
>>> client.generate("socratic", [{"role": "user", "content": "왜 로그의 밑은 양수죠?"}]).text  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

from ._deadline import Deadline, DeadlineExpired, call_within, iterate_within
from ._redact import redact_url, redacted
from ._streams import AsyncReplayStream
from ._styles import STYLES
from .errors import ConfigError, InvalidInputError, StreamInterruptedError
from .generation._cleaning import clean_answer
from .generation._messages import check_messages
from .generation._result import Generation, GenerationStream
from .hf._auth import HFAuth, Remote, check_url
from .hf._clients import inference_client
from .hf._completion import Malformed, Partial, acomplete_once, astream_once, complete_once, stream_once, unreadable
from .hf._errors import Failure, classify, http_errors
from .hf._policy import RetryPolicy

logger = logging.getLogger(__name__)

DEFAULT_BASE_MODEL = "Qwen/Qwen2.5-14B-Instruct"


class AsyncGenerationStream(AsyncReplayStream[str, Generation]):
    """``async for`` the text deltas; ``result`` holds the :class:`Generation` once the stream has ended."""

    async def text(self) -> str:
        """Read the whole stream (if not yet read) and return the full answer."""
        async for _ in self:
            pass
        return self.result.text


def default_models() -> dict[str, str]:
    """The merged fine-tunes of the original app, one Hub repo per style."""
    return {s: f"RiverWon/NeuLoRA-{s}" for s in STYLES}


@dataclass(frozen=True)
class FallbackChain:
    """Where to go when a style's target keeps failing: another style, then a base model (None skips a step).

    >>> client = HFStyleClient(base_url="http://127.0.0.1:8080", fallback=FallbackChain(base_model=None))
    >>> [t.label for t in client.chain("socratic")]
    ['socratic:RiverWon/NeuLoRA-socratic', 'direct:RiverWon/NeuLoRA-direct']
    """

    style: str | None = "direct"
    base_model: str | None = DEFAULT_BASE_MODEL


@dataclass(frozen=True)
class Target:
    """One place to send a request: ``url`` (endpoint or shared server, else the provider) and ``model``."""

    label: str
    url: str | None
    model: str | None

    def __str__(self) -> str:
        return self.label


class HFStyleClient:
    """Generates answers with the model of each teaching style, with retries and a recorded fallback chain.

    The token is resolved by :class:`neulora.hf.HFAuth` (argument, environment, saved login); it is sent in the
    Authorization header and never appears in logs, reprs or error messages.
    """

    def __init__(
        self,
        models: Mapping[str, str] | None = None,
        *,
        token: str | None = None,
        provider: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        fallback: FallbackChain | None = FallbackChain(),
    ) -> None:
        self.models = dict(models) if models is not None else default_models()
        if not self.models or not all(isinstance(v, str) and v for v in self.models.values()):
            raise ConfigError("models must map each style to a non-empty target (repo id, URL or adapter name)")
        if fallback is not None and fallback.style is not None and fallback.style not in self.models:
            raise ConfigError(f"fallback style {fallback.style!r} has no target in models")
        remote = Remote(token, provider, base_url, timeout)
        self.provider, self.base_url, self.timeout = remote.provider, remote.base_url, float(remote.timeout)
        for style, spec in self.models.items():
            if spec.startswith(("http://", "https://")):
                check_url(spec, f"the target of style {style!r}")
        self.retry = retry or RetryPolicy()
        self.fallback = fallback
        self._token_arg = token

    @cached_property
    def auth(self) -> HFAuth:
        """The token and where it came from, resolved on first use (the saved login is a file read)."""
        return HFAuth.resolve(self._token_arg)

    @property
    def styles(self) -> tuple[str, ...]:
        return tuple(self.models)

    def __repr__(self) -> str:
        where = f"base_url={redact_url(self.base_url)!r}, " if self.base_url else \
            f"provider={self.provider!r}, " if self.provider else ""
        resolved = self.__dict__.get("auth")
        token = "token given" if self._token_arg else resolved.hint() if resolved else "token not resolved yet"
        models = {style: redact_url(target) for style, target in self.models.items()}
        return f"HFStyleClient({where}models={models!r}, {token})"

    # -- targets ------------------------------------------------------------------------------------
    def target(self, style: str) -> Target:
        """Where requests for ``style`` go."""
        if style not in self.models:
            raise InvalidInputError(f"unknown style {style!r}: expected one of {list(self.models)}")
        return self._resolve(style, self.models[style])

    def _resolve(self, label: str, spec: str) -> Target:
        if spec.startswith(("http://", "https://")):
            return Target(f"{label}:{redact_url(spec)}", spec.rstrip("/"), None)  # a label is shown: no password
        return Target(f"{label}:{spec}", self.base_url, spec)

    def chain(self, style: str) -> list[Target]:
        """The targets tried for ``style``, in order."""
        targets = [self.target(style)]
        if self.fallback is not None:
            if self.fallback.style and self.fallback.style != style:
                targets.append(self.target(self.fallback.style))
            if self.fallback.base_model:
                targets.append(self._resolve("base", self.fallback.base_model))
        return targets

    def _client(self, target: Target, deadline: Deadline) -> Any:
        timeout = max(0.05, min(self.timeout, deadline.remaining()))  # no single read outlives the call
        return inference_client(self.auth, url=target.url, provider=self.provider, timeout=timeout, one_call=True,
                                headers=self.retry.headers())

    def _deadline(self, seconds: float | None) -> Deadline:
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                    or not seconds > 0):
            raise InvalidInputError(f"deadline must be a positive number of seconds, got {seconds!r}")
        return Deadline.after(min(self.retry.deadline, seconds or math.inf), self.retry.clock)

    # -- generation ---------------------------------------------------------------------------------
    def generate(
        self,
        style: str,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        deadline: float | None = None,
        **params: Any,
    ) -> Generation:
        """Generate a whole answer in ``style``; retries, then falls back along the chain.

        ``deadline`` (seconds; default and cap: the retry policy's) bounds the whole call: every attempt, every
        fallback, every byte in flight.
        """
        run = self._run(self.chain(style), style, check_messages(messages),
                        {"max_tokens": max_tokens, "temperature": temperature, **params}, self._deadline(deadline),
                        streaming=False)
        while True:
            try:
                next(run)
            except StopIteration as stop:
                result: Generation = stop.value
                return result

    def stream(
        self,
        style: str,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        deadline: float | None = None,
        **params: Any,
    ) -> GenerationStream:
        """Stream an answer in ``style``: failures before the first token are retried or fall back.

        ``deadline`` bounds the call as in :meth:`generate`, the stream included; its clock starts now.
        """
        chain, msgs = self.chain(style), check_messages(messages)
        options = {"max_tokens": max_tokens, "temperature": temperature, **params}
        limit = self._deadline(deadline)
        return GenerationStream(lambda: self._run(chain, style, msgs, options, limit, streaming=True))

    def _run(
        self, chain: list[Target], style: str, msgs: list[dict[str, str]], options: dict[str, Any],
        deadline: Deadline, *, streaming: bool,
    ) -> Generator[str, None, Generation]:
        run = _Run(self, style, deadline)
        for n, target in enumerate(chain, start=1):
            for attempt in range(1, self.retry.max_attempts + 1):
                client, state = self._client(target, deadline), run.begin(target, attempt, streaming)
                try:
                    if streaming:
                        yield from iterate_within(partial(stream_once, client, target.model, msgs, options, state),
                                                  deadline, abandon=client.close)
                    else:
                        call_within(partial(complete_once, client, target.model, msgs, options, state), deadline,
                                    abandon=client.close)
                    return run.success(target, state)
                except DeadlineExpired:
                    outcome = run.expired()
                except run.errors as exc:
                    outcome = run.failure_of(exc)
                finally:
                    client.close()
                delay = run.after(target, n == len(chain), attempt, outcome, state)  # raises when it is over
                if delay is None:
                    break
                self.retry.sleep(delay)
        raise AssertionError("unreachable: the last target returns or raises")  # pragma: no cover

    # -- async --------------------------------------------------------------------------------------
    async def agenerate(
        self, style: str, messages: Sequence[Mapping[str, str]], *, max_tokens: int = 512,
        temperature: float = 0.7, deadline: float | None = None, **params: Any,
    ) -> Generation:
        """:meth:`generate` on the event loop (``AsyncInferenceClient``): same retries, fallbacks and deadline."""
        stream = self._astream(style, messages, {"max_tokens": max_tokens, "temperature": temperature, **params},
                               deadline, streaming=False)
        async for _ in stream:
            pass
        return stream.result

    def astream(
        self, style: str, messages: Sequence[Mapping[str, str]], *, max_tokens: int = 512,
        temperature: float = 0.7, deadline: float | None = None, **params: Any,
    ) -> AsyncGenerationStream:
        """:meth:`stream` for ``async for``; cancelling the reader closes the upstream connection."""
        return self._astream(style, messages, {"max_tokens": max_tokens, "temperature": temperature, **params},
                             deadline, streaming=True)

    def _astream(self, style: str, messages: Sequence[Mapping[str, str]], options: dict[str, Any],
                 deadline: float | None, *, streaming: bool) -> AsyncGenerationStream:
        chain, msgs, limit = self.chain(style), check_messages(messages), self._deadline(deadline)

        def produce(finish: Callable[[Generation], None]) -> AsyncIterator[str]:
            return self._arun(chain, style, msgs, options, limit, finish, streaming=streaming)

        return AsyncGenerationStream(produce)

    async def _arun(
        self, chain: list[Target], style: str, msgs: list[dict[str, str]], options: dict[str, Any],
        deadline: Deadline, finish: Callable[[Generation], None], *, streaming: bool,
    ) -> AsyncIterator[str]:
        import asyncio

        run = _Run(self, style, deadline)
        for n, target in enumerate(chain, start=1):
            for attempt in range(1, self.retry.max_attempts + 1):
                client, state = self._aclient(target), run.begin(target, attempt, streaming)
                try:
                    if streaming:
                        deltas = astream_once(client, target.model, msgs, options, state)
                        while True:
                            try:
                                async with asyncio.timeout(_left(deadline)):  # no task per delta (wait_for)
                                    delta = await deltas.__anext__()
                            except StopAsyncIteration:
                                break
                            yield delta
                    else:
                        await asyncio.wait_for(acomplete_once(client, target.model, msgs, options, state),
                                               deadline.remaining())
                    finish(run.success(target, state))
                    return
                except asyncio.TimeoutError:
                    outcome = run.expired()
                except run.errors as exc:
                    outcome = run.failure_of(exc)
                finally:
                    await client.close()  # its own responses only: the shared connection pool stays
                delay = run.after(target, n == len(chain), attempt, outcome, state)  # raises when it is over
                if delay is None:
                    break
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last target returns or raises")  # pragma: no cover

    @cached_property
    def _sessions(self) -> Any:
        """The connection pools of the async calls, one per event loop (made on first async use)."""
        from .hf._async_clients import AsyncSessions

        return AsyncSessions()

    def _aclient(self, target: Target) -> Any:
        from .hf._async_clients import async_inference_client

        return async_inference_client(self.auth, self._sessions.get(), url=target.url, provider=self.provider,
                                      timeout=self.timeout, headers=self.retry.headers())

    async def aclose(self) -> None:
        """Close the connection pool the async calls of this event loop share."""
        await self._sessions.aclose()


def _left(deadline: Deadline) -> float | None:
    """Seconds for the next step of a stream (None: no limit); an expired deadline stops it before the step."""
    import asyncio

    left = deadline.remaining()
    if left <= 0.0:
        raise asyncio.TimeoutError()  # asyncio.timeout(0) would let a step that needs no I/O finish
    return left if math.isfinite(left) else None


class _Run:
    """One call's way along the fallback chain, shared by the sync and async loops: what to do after a failure."""

    def __init__(self, owner: HFStyleClient, style: str, deadline: Deadline) -> None:
        self.owner, self.style, self.deadline = owner, style, deadline
        self.started, self.attempts = time.monotonic(), 0
        self.tried: list[str] = []
        self.first: str | None = None
        self.http_errors = http_errors()
        # ValueError, AttributeError: huggingface_hub could not parse a 200 (not JSON, a JSON array as an event);
        # RecursionError: its parsed types recurse on a NaN (a 200 whose usage or created is NaN)
        self.errors: tuple[type[Exception], ...] = (Malformed, ValueError, AttributeError, RecursionError,
                                                    *self.http_errors)

    def begin(self, target: Target, attempt: int, streaming: bool) -> Partial:
        self.attempts += 1
        logger.info("chat_completion style %r via %s (attempt %d, stream=%s)", self.style, target, attempt,
                    streaming)
        return Partial(model=str(target.model or target.url))

    def success(self, target: Target, state: Partial) -> Generation:
        return Generation(
            text=clean_answer(state.text), style=self.style, model=state.model, usage=state.usage,
            attempts=self.attempts, latency_s=time.monotonic() - self.started, fallback_from=self.first,
            finish_reason=state.finish, path=(*self.tried, f"{target}: ok"),
        )

    def expired(self) -> tuple[Failure, BaseException | None]:
        return Failure("deadline", None, f"no answer within the call's deadline of {self.deadline.seconds:g}s",
                       False), None

    def failure_of(self, exc: Exception) -> tuple[Failure, BaseException | None]:
        redact = self.owner.auth.redact
        failure = (exc.failure if isinstance(exc, Malformed) else classify(exc, redact)
                   if isinstance(exc, self.http_errors) else unreadable(exc, redact))
        return failure, redacted(exc, redact)

    def after(self, target: Target, last: bool, attempt: int, outcome: tuple[Failure, BaseException | None],
              state: Partial) -> float | None:
        """Seconds to wait before retrying ``target``, None to go on to the next target; raises when it is over.

        Called outside the ``except`` clause, so the hub's exception is never chained as the context.
        """
        failure, cause = outcome
        where = f"style {self.style!r} via {target}"
        if state.text:
            raise StreamInterruptedError(
                f"{where}: the stream broke after {len(state.text)} characters ({failure.message})",
                partial_text=clean_answer(state.text)) from cause
        retry = self.owner.retry
        started = self.deadline.at - self.deadline.seconds
        delay = retry.next_delay(attempt, failure.retryable, failure.retry_after, started)
        if delay is not None and delay < self.deadline.remaining():
            logger.info("retrying %s in %.2fs after %s", where, delay, failure.message)
            return delay
        # each earlier target in a sentence: a server's whole error body, once per target, buries the last one's
        self.tried.append(f"{target}: {_short(failure.message)}")
        if not failure.fallback_allowed or last or self.deadline.expired:
            label = where if len(self.tried) == 1 else (
                f"style {self.style!r}: {len(self.tried)} targets failed ({'; '.join(self.tried)}); the last, {target}")
            raise failure.to_error(label, self.owner.auth.hint(target.url)) from cause
        # one line, the server's own text cut short: the error that ends the call carries it whole
        logger.warning("%s failed (%s); falling back", where, _short(failure.message) or failure.kind)
        self.first = self.first or target.label
        return None


def _short(message: str, limit: int = 200) -> str:
    """A failure's message on one line, at most ``limit`` characters (an engine's error body can be a traceback)."""
    line = " | ".join(part.strip() for part in message.splitlines() if part.strip())
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"
