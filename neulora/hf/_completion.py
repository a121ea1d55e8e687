"""Reading chat-completion responses (whole or streamed, sync or async), checked: a malformed 200 is :class:`Malformed`.

Shared by :class:`~neulora.llm.HFStyleClient`'s sync and async paths, so both read a response the same way.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..generation._cleaning import TemplateFilter
from ._errors import Failure

# Ask for the token counts in a stream's last event (OpenAI, vLLM, TGI honour it; an engine that does not, such as
# llama-cpp-python's server, sends none, and the answer's usage stays None rather than guessed).
_USAGE = {"include_usage": True}


@dataclass
class Partial:
    """What one attempt has received so far."""

    model: str
    parts: list[str] = field(default_factory=list)
    finish: str | None = None
    usage: dict[str, int] | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)


def complete_once(client: Any, model: str | None, msgs: list[dict[str, str]], options: dict[str, Any],
                  state: Partial) -> None:
    """One non-streamed request: its answer lands in ``state``."""
    read_completion(client.chat_completion(msgs, model=model, **options), state)


async def acomplete_once(client: Any, model: str | None, msgs: list[dict[str, str]], options: dict[str, Any],
                         state: Partial) -> None:
    """:func:`complete_once` on an ``AsyncInferenceClient``."""
    read_completion(await client.chat_completion(msgs, model=model, **options), state)


def read_completion(out: Any, state: Partial) -> None:
    """Check a chat completion and put its text, finish reason, usage and model into ``state``."""
    choices = getattr(out, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise Malformed(f"the response has no choices (got {type(choices).__name__})")
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if not isinstance(content, (str, type(None))):
        raise Malformed(f"choices[0].message.content is {type(content).__name__}, not text")
    state.parts.append(_encodable(content or ""))
    state.finish, state.usage = _text_or_none(getattr(choices[0], "finish_reason", None)), _usage(out.usage)
    state.model = _text_or_none(getattr(out, "model", None)) or state.model


def stream_once(client: Any, model: str | None, msgs: list[dict[str, str]], options: dict[str, Any],
                state: Partial) -> Generator[str, None, None]:
    """One streamed request: yields the cleaned deltas; the whole answer lands in ``state``."""
    filt = TemplateFilter()
    for chunk in client.chat_completion(msgs, model=model, stream=True, stream_options=_USAGE, **options):
        out = filt.feed(read_chunk(chunk, state))
        if out:
            yield out
    yield from _finish(filt, state)


async def astream_once(client: Any, model: str | None, msgs: list[dict[str, str]], options: dict[str, Any],
                       state: Partial) -> AsyncIterator[str]:
    """:func:`stream_once` on an ``AsyncInferenceClient``."""
    filt = TemplateFilter()
    async for chunk in await client.chat_completion(msgs, model=model, stream=True, stream_options=_USAGE,
                                                    **options):
        out = filt.feed(read_chunk(chunk, state))
        if out:
            yield out
    for tail in _finish(filt, state):
        yield tail


def read_chunk(chunk: Any, state: Partial) -> str:
    """Check one stream event, note its finish reason, usage and model in ``state``; returns its raw text."""
    state.usage = _usage(getattr(chunk, "usage", None)) or state.usage
    state.model = _text_or_none(getattr(chunk, "model", None)) or state.model
    choices = getattr(chunk, "choices", None)
    if not isinstance(choices, list):
        raise Malformed(f"a stream event has no choices list (got {type(choices).__name__})")
    if not choices:
        return ""
    state.finish = _text_or_none(getattr(choices[0], "finish_reason", None)) or state.finish
    raw = getattr(getattr(choices[0], "delta", None), "content", None) or ""
    if not isinstance(raw, str):
        raise Malformed(f"a stream event's delta content is {type(raw).__name__}, not text")
    raw = _encodable(raw)
    state.parts.append(raw)
    return raw


def _finish(filt: TemplateFilter, state: Partial) -> Iterator[str]:
    if state.finish is None:
        raise Malformed("the stream ended without a finish reason")
    tail = filt.flush()
    if tail:
        yield tail


class Malformed(Exception):
    """A 200 response that is not a chat completion: retried, then the next target."""

    @property
    def failure(self) -> Failure:
        return Failure("response", 502, f"malformed response: {self}", True)


def unreadable(exc: Exception, redact: Any) -> Failure:
    """A response huggingface_hub could not parse (not JSON, a JSON array, a bad SSE line): retried, then fallback."""
    return Failure("response", 502, redact(f"the server's answer could not be read: {type(exc).__name__}: {exc}"),
                   True)


def _text_or_none(value: Any) -> str | None:
    return _encodable(value) if isinstance(value, str) else None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(text: str) -> str:
    """``text`` without lone surrogates.

    An engine's JSON may escape one, and no byte of it could be sent on, stored or printed (a session holding
    one would fail on every later turn).
    """
    return _SURROGATE.sub("", text)


def _usage(usage: Any) -> dict[str, int] | None:
    if usage is None:
        return None
    fields = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {f: int(v) for f in fields if isinstance(v := getattr(usage, f, None), int) and not isinstance(v, bool)}
