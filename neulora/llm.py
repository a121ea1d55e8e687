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
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .errors import ConfigError, InvalidInputError, NeuloraError, StreamInterruptedError
from .generation import Generation, GenerationStream, TemplateFilter, check_messages, clean_answer
from .hf import Failure, HFAuth, classify, http_errors, inference_client
from .retry import RetryPolicy
from .styles import STYLES

__all__ = ["DEFAULT_BASE_MODEL", "FallbackChain", "HFStyleClient", "Target", "default_models"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_MODEL = "Qwen/Qwen2.5-14B-Instruct"


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
        self.provider = provider
        self.base_url = base_url.rstrip("/") if base_url else None
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.fallback = fallback
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise ConfigError("token must be a non-empty str")
        self._token_arg = token

    @cached_property
    def auth(self) -> HFAuth:
        """The token and where it came from, resolved on first use (the saved login is a file read)."""
        return HFAuth.resolve(self._token_arg)

    @property
    def styles(self) -> tuple[str, ...]:
        return tuple(self.models)

    def __repr__(self) -> str:
        where = f"base_url={self.base_url!r}, " if self.base_url else f"provider={self.provider!r}, " \
            if self.provider else ""
        resolved = self.__dict__.get("auth")
        token = "token given" if self._token_arg else resolved.hint() if resolved else "token not resolved yet"
        return f"HFStyleClient({where}models={self.models!r}, {token})"

    # -- targets ------------------------------------------------------------------------------------
    def target(self, style: str) -> Target:
        """Where requests for ``style`` go."""
        if style not in self.models:
            raise InvalidInputError(f"unknown style {style!r}: expected one of {list(self.models)}")
        return self._resolve(style, self.models[style])

    def _resolve(self, label: str, spec: str) -> Target:
        if spec.startswith(("http://", "https://")):
            return Target(f"{label}:{spec}", spec.rstrip("/"), None)
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

    def _client(self, target: Target) -> Any:
        return inference_client(self.auth, url=target.url, provider=self.provider, timeout=self.timeout,
                                headers=self.retry.headers())

    # -- generation ---------------------------------------------------------------------------------
    def generate(
        self,
        style: str,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        **params: Any,
    ) -> Generation:
        """Generate a whole answer in ``style``; retries, then falls back along the chain."""
        run = self._run(self.chain(style), style, check_messages(messages),
                        {"max_tokens": max_tokens, "temperature": temperature, **params}, streaming=False)
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
        **params: Any,
    ) -> GenerationStream:
        """Stream an answer in ``style``: failures before the first token are retried or fall back."""
        chain, msgs = self.chain(style), check_messages(messages)
        options = {"max_tokens": max_tokens, "temperature": temperature, **params}
        return GenerationStream(lambda: self._run(chain, style, msgs, options, streaming=True))

    def _run(
        self, chain: list[Target], style: str, msgs: list[dict[str, str]], options: dict[str, Any], *,
        streaming: bool,
    ) -> Generator[str, None, Generation]:
        errors: tuple[type[Exception], ...] = (_Truncated, *http_errors())
        started = time.monotonic()
        attempts, path = 0, list[str]()
        first: str | None = None
        error: NeuloraError | None = None
        for target in chain:
            where, t0 = f"style {style!r} via {target}", self.retry.clock()
            for attempt in range(1, self.retry.max_attempts + 1):
                attempts += 1
                client, state = self._client(target), _Partial(model=str(target.model or target.url))
                try:
                    logger.info("chat_completion %s (attempt %d, stream=%s)", where, attempt, streaming)
                    if streaming:
                        yield from _stream_once(client, target, msgs, options, state)
                    else:
                        _complete_once(client, target, msgs, options, state)
                    return Generation(
                        text=clean_answer(state.text), style=style, model=state.model, usage=state.usage,
                        attempts=attempts, latency_s=time.monotonic() - started, fallback_from=first,
                        finish_reason=state.finish, path=(*path, f"{target}: ok"),
                    )
                except errors as exc:
                    failure = (Failure("stream", None, str(exc), True) if isinstance(exc, _Truncated)
                               else classify(exc, self.auth.redact))
                    if state.text:
                        raise StreamInterruptedError(
                            f"{where}: the stream broke after {len(state.text)} characters ({failure.message})",
                            partial_text=clean_answer(state.text)) from exc
                    delay = self.retry.next_delay(attempt, failure.retryable, failure.retry_after, t0)
                    if delay is None:
                        error = failure.to_error(where, self.auth.hint(target.url))
                        if not failure.fallback_allowed:
                            raise error from exc
                        logger.warning("%s failed (%s); falling back", where, failure.message)
                        path.append(f"{target}: {failure.message}")
                        first = first or target.label
                        break
                    logger.info("retrying %s in %.2fs after %s", where, delay, failure.message)
                    self.retry.sleep(delay)
                finally:
                    client.close()
        assert error is not None
        raise error


@dataclass
class _Partial:
    model: str
    parts: list[str] = field(default_factory=list)
    finish: str | None = None
    usage: dict[str, int] | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _complete_once(client: Any, target: Target, msgs: list[dict[str, str]], options: dict[str, Any],
                   state: _Partial) -> None:
    out = client.chat_completion(msgs, model=target.model, **options)
    choice = out.choices[0]
    state.parts.append(choice.message.content or "")
    state.finish, state.usage = choice.finish_reason, _usage(out.usage)
    state.model = out.model or state.model


def _stream_once(client: Any, target: Target, msgs: list[dict[str, str]], options: dict[str, Any],
                 state: _Partial) -> Generator[str, None, None]:
    filt = TemplateFilter()
    for chunk in client.chat_completion(msgs, model=target.model, stream=True, **options):
        state.usage = _usage(getattr(chunk, "usage", None)) or state.usage
        state.model = getattr(chunk, "model", None) or state.model
        if not chunk.choices:
            continue
        state.finish = chunk.choices[0].finish_reason or state.finish
        raw = chunk.choices[0].delta.content or ""
        state.parts.append(raw)
        out = filt.feed(raw)
        if out:
            yield out
    if state.finish is None:
        raise _Truncated("the stream ended without a finish reason")
    tail = filt.flush()
    if tail:
        yield tail


class _Truncated(Exception):
    pass


def _usage(usage: Any) -> dict[str, int] | None:
    if usage is None:
        return None
    fields = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {f: int(getattr(usage, f)) for f in fields if getattr(usage, f, None) is not None}
