"""Style-specific generation through ``huggingface_hub.InferenceClient``.

A style's target is a Hub repo id (served by a provider), an endpoint URL (a dedicated Inference
Endpoint per style), or an adapter name on one shared ``base_url`` (a multi-LoRA server: vLLM, TGI,
LoRAX, where the request's ``model`` field picks the adapter).

>>> client = HFStyleClient(base_url="http://127.0.0.1:8080",  # doctest: +SKIP
...     models={"direct": "direct", "socratic": "socratic", "scaffolding": "scaff",
...                                "feedback": "feedback"})
>>> question = [{"role": "user", "content": "왜 로그의 밑은 양수죠?"}]
>>> client.generate("socratic", question).text  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from . import _flow
from ._checks import check_seconds
from ._deadline import Deadline
from ._redact import redact_url
from ._styles import STYLES
from .errors import ConfigError, InvalidInputError
from .generation import (
    AsyncGenerationStream,
    Generation,
    GenerationStream,
    check_messages,
    clean_answer,
)
from .hf import HFAuth, RetryPolicy
from .hf._auth import RemoteOptions, check_url
from .hf._calls import ChatCompletion, Connection
from .hf._retry import Attempts, Target

__all__ = [
    "DEFAULT_BASE_MODEL",
    "AsyncGenerationStream",
    "FallbackChain",
    "HFStyleClient",
    "Target",
    "default_models",
]

DEFAULT_BASE_MODEL = "Qwen/Qwen2.5-14B-Instruct"


def default_models() -> dict[str, str]:
    """The merged fine-tunes of the original app, one Hub repo per style."""
    return {s: f"RiverWon/NeuLoRA-{s}" for s in STYLES}


@dataclass(frozen=True)
class FallbackChain:
    """Where to go when a style's target keeps failing.

    Another style, then a base model (None skips a step).

    >>> chain = FallbackChain(base_model=None)
    >>> client = HFStyleClient(base_url="http://127.0.0.1:8080", fallback=chain)
    >>> [t.label for t in client.chain("socratic")]
    ['socratic:RiverWon/NeuLoRA-socratic', 'direct:RiverWon/NeuLoRA-direct']
    """

    style: str | None = "direct"
    base_model: str | None = DEFAULT_BASE_MODEL


class HFStyleClient:
    """Answers with the model of each teaching style, with retries and a recorded fallback chain.

    The token is resolved by :class:`neulora.hf.HFAuth` (argument, environment, saved login); it is
    sent in the Authorization header and never appears in logs, reprs or error messages.
    ``generate``, ``stream``, ``agenerate`` and ``astream`` run one flow (:meth:`_answer`): the same
    retries, fallbacks and deadline.
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
            raise ConfigError(
                "models must map each style to a non-empty target (repo id, URL or adapter name)"
            )
        if (
            fallback is not None
            and fallback.style is not None
            and fallback.style not in self.models
        ):
            raise ConfigError(f"fallback style {fallback.style!r} has no target in models")
        remote = RemoteOptions(token, provider, base_url, timeout)
        self.provider = remote.provider
        self.base_url = remote.base_url
        self.timeout = float(remote.timeout)
        for style, spec in self.models.items():
            if spec.startswith(("http://", "https://")):
                check_url(spec, f"the target of style {style!r}")
        self.retry = retry or RetryPolicy()
        self.fallback = fallback
        self._token_arg = token

    @cached_property
    def auth(self) -> HFAuth:
        """The token and where it came from, resolved on first use.

        The saved login is a file read.
        """
        return HFAuth.resolve(self._token_arg)

    @cached_property
    def _connection(self) -> Connection:
        return Connection(self.auth, self.provider, self.timeout, self.retry.headers())

    @property
    def styles(self) -> tuple[str, ...]:
        return tuple(self.models)

    def __repr__(self) -> str:
        if self.base_url:
            where = f"base_url={redact_url(self.base_url)!r}, "
        elif self.provider:
            where = f"provider={self.provider!r}, "
        else:
            where = ""
        resolved = self.__dict__.get("auth")
        if self._token_arg:
            token = "token given"
        else:
            token = resolved.hint() if resolved else "token not resolved yet"
        models = {style: redact_url(target) for style, target in self.models.items()}
        return f"HFStyleClient({where}models={models!r}, {token})"

    # -- targets
    # ------------------------------------------------------------------------------------
    def target(self, style: str) -> Target:
        """Where requests for ``style`` go."""
        if style not in self.models:
            raise InvalidInputError(f"unknown style {style!r}: expected one of {list(self.models)}")
        return self._resolve(style, self.models[style])

    def _resolve(self, label: str, spec: str) -> Target:
        if spec.startswith(("http://", "https://")):
            # a label is shown: no password
            return Target(f"{label}:{redact_url(spec)}", spec.rstrip("/"), None)
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

    # -- generation
    # ---------------------------------------------------------------------------------
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

        ``deadline`` (seconds; default and cap: the retry policy's) bounds the whole call: every
        attempt, every fallback, every byte in flight.
        """
        flow = self.answer_flow(
            style,
            messages,
            max_tokens=max_tokens,
            temperature=temperature,
            deadline=deadline,
            **params,
        )
        return _flow.run(flow)

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

        ``deadline`` bounds the call as in :meth:`generate`, the stream included; its clock starts
        now.
        """
        options = {"max_tokens": max_tokens, "temperature": temperature, **params}
        answer = self._answer(style, messages, options, deadline, streaming=True)
        return GenerationStream(lambda: answer)

    async def agenerate(
        self,
        style: str,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        deadline: float | None = None,
        **params: Any,
    ) -> Generation:
        """:meth:`generate` on the event loop (``AsyncInferenceClient``).

        Same retries, fallbacks and deadline.
        """
        flow = self.answer_flow(
            style,
            messages,
            max_tokens=max_tokens,
            temperature=temperature,
            deadline=deadline,
            **params,
        )
        return await _flow.arun(flow)

    def astream(
        self,
        style: str,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        deadline: float | None = None,
        **params: Any,
    ) -> AsyncGenerationStream:
        """:meth:`stream` for ``async for``.

        Cancelling the reader closes the upstream connection.
        """
        options = {"max_tokens": max_tokens, "temperature": temperature, **params}
        answer = self._answer(style, messages, options, deadline, streaming=True)
        return AsyncGenerationStream(lambda: answer)

    async def aclose(self) -> None:
        """Close the connection pool the async calls of this event loop share."""
        await self._connection.aclose()

    def answer_flow(
        self,
        style: str,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        deadline: float | None = None,
        streaming: bool = False,
        **params: Any,
    ) -> _flow.Flow[Generation]:
        """The flow the four calls drive, for a caller's own flow.

        A judge or a replay that calls the engine as one step of a larger operation written once
        for both drivers (``generation = yield from client.answer_flow(...)``). ``streaming``: the
        answer is asked for as a stream, and its deltas are the flow's items.
        """
        options = {"max_tokens": max_tokens, "temperature": temperature, **params}
        return self._answer(style, messages, options, deadline, streaming=streaming)

    def _answer(
        self,
        style: str,
        messages: Sequence[Mapping[str, str]],
        options: dict[str, Any],
        seconds: float | None,
        *,
        streaming: bool,
    ) -> _flow.Flow[Generation]:
        """The one flow of a call: checked now, its deadline started now.

        Each attempt a chat completion.
        """
        chain = self.chain(style)
        msgs = check_messages(messages)
        cap = (
            math.inf
            if seconds is None
            else check_seconds("deadline", seconds, InvalidInputError, infinite=True)
        )
        deadline = Deadline.after(min(self.retry.deadline, cap), self.retry.clock)

        def request(target: Target) -> ChatCompletion:
            return ChatCompletion(
                self._connection, target, msgs, options, deadline, streaming=streaming
            )

        def answer() -> _flow.Flow[Generation]:
            attempts = (
                Attempts(  # when the call starts: a stream resolves the token when first read
                    policy=self.retry,
                    auth=self.auth,
                    deadline=deadline,
                    where=lambda target: f"style {style!r} via {target}",
                    what=f"style {style!r}",
                )
            )
            step, _ = yield from attempts.flow(chain, request)
            state = step.state
            return Generation(
                text=clean_answer(state.text),
                style=style,
                model=state.model,
                usage=state.usage,
                attempts=attempts.count,
                latency_s=time.monotonic() - attempts.started,
                fallback_from=attempts.first,
                finish_reason=state.finish,
                path=(*attempts.tried, f"{step.target}: ok"),
            )

        return answer()
