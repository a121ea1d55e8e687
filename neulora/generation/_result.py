"""What every style client returns.

:class:`Generation`, :class:`GenerationStream`, and answer cleaning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .._streams import AsyncStream, Stream


@dataclass(frozen=True, slots=True)
class Generation:
    """One answer: its text, the style asked for, what actually answered, and how it got there.

    >>> Generation("Why 8?", "socratic", "direct-lora", fallback_from="socratic:x")
    Generation(style='socratic', model='direct-lora', fallback_from='socratic:x', text='Why 8?')
    """

    text: str
    style: str
    model: str
    usage: dict[str, int] | None = None
    attempts: int = 1
    latency_s: float = 0.0
    fallback_from: str | None = None
    finish_reason: str | None = None
    path: tuple[str, ...] = ()

    def __repr__(self) -> str:
        via = f", fallback_from={self.fallback_from!r}" if self.fallback_from else ""
        return (
            f"Generation(style={self.style!r}, model={self.model!r}{via}, text={self.text[:40]!r})"
        )


class StyleClient(Protocol):
    """Generates an answer in a teaching style: the remote and the local clients both fit."""

    def generate(
        self, style: str, messages: Sequence[Mapping[str, str]], **params: Any
    ) -> Generation:
        """Return the whole answer."""
        ...

    def stream(
        self, style: str, messages: Sequence[Mapping[str, str]], **params: Any
    ) -> GenerationStream:
        """Return a stream of text deltas; the :class:`Generation` is available when it ends."""
        ...


class GenerationStream(Stream[str, Generation]):
    """Iterate for text deltas; ``result`` holds the :class:`Generation` once the stream has ended.

    >>> def produce():
    ...     yield "Hello"
    ...     yield ", learner"
    ...     return Generation("Hello, learner", "direct", "m")
    >>> stream = GenerationStream(produce)
    >>> list(stream), stream.result.text, list(stream)
    (['Hello', ', learner'], 'Hello, learner', ['Hello', ', learner'])
    """


class AsyncGenerationStream(AsyncStream[str, Generation]):
    """:class:`GenerationStream` for ``async for``."""
