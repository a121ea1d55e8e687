"""What a turn produces: the :class:`Answer`, its :class:`Event` steps, the streams of them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._streams import AsyncStream, Stream
from ..routing._decision import RouteDecision
from ..store._passage import Passage
from ._contract import Revision


def turn_info(
    route: RouteDecision, passages: Sequence[Passage], answer: Answer | None = None
) -> dict[str, Any]:
    """What neulora knows about a turn as JSON.

    The route and the sources, then (when done) timings and fallbacks.

    The ``neulora`` object of ``neulora serve``'s answers, and what a session keeps of each turn
    (``Turn.meta``).
    """
    out: dict[str, Any] = {
        "style": route.style,
        "scores": route.scores,
        "margin": route.margin,
        "fallback": route.fallback,
        "forced": route.forced,
        "reason": route.reason,
        "sources": [
            {
                "file": p.source,
                "section": p.metadata.get("section"),
                "page": p.page,
                "score": p.score,
                "where": p.where,
            }
            for p in passages
        ],
    }
    if answer is not None:
        out.update(
            {
                "style": answer.style,  # the route's, unless the answer checks fell back
                "session_id": answer.session_id,
                "model": answer.model,
                "timings": answer.timings,
                "fallback_from": answer.fallback_from,
                "used_notes": answer.used_notes,
                "finish_reason": answer.finish_reason,
                "checks": _plain(answer.checks),
                "violations": list(answer.violations),
                "revision": None if answer.revision is None else answer.revision.to_dict(),
                "check_error": answer.check_error,
            }
        )
    return out


def _plain(checks: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]] | None:
    """The checks as new plain dicts (JSON, a session's copy)."""
    return None if checks is None else {name: dict(v) for name, v in checks.items()}


@dataclass(frozen=True, slots=True)
class Answer:
    """Everything about one turn: the answer, the routing decision, the sources, the timings.

    >>> import neulora
    >>> from neulora.testing import FakeRetriever, FakeRouter, FakeStyleClient
    >>> from neulora.embedders import HashingEmbedder
    >>> e = HashingEmbedder(dim=32)
    >>> client = FakeStyleClient("Why do you think so?")
    >>> pipeline = neulora.Pipeline(FakeRouter(e), FakeRetriever(e), client)
    >>> answer = pipeline.ask("2+2=5?")
    >>> answer.style, answer.text, answer.violations
    ('socratic', 'Why do you think so?', ())
    >>> {"embed", "route", "retrieve", "generate", "total"} <= set(answer.timings)
    True
    """

    text: str
    style: str
    route: RouteDecision
    passages: tuple[Passage, ...]
    model: str
    usage: dict[str, int] | None
    timings: dict[str, float]
    session_id: str
    fallback_from: str | None = None
    policy: str | None = None
    finish_reason: str | None = None  # "stop", or "length" when the answer was cut at max_tokens
    # the answer checks (None: off): each dimension's label and p, the style's broken promises,
    # and what was done about them (a whole answer only)
    checks: Mapping[str, Mapping[str, Any]] | None = None
    violations: tuple[str, ...] = ()
    revision: Revision | None = None
    check_error: str | None = None  # why the answer could not be checked (it stands unchecked)

    @property
    def used_notes(self) -> bool:
        """Whether any course notes went into the answer.

        False: answered from general knowledge.
        """
        return bool(self.passages)

    def __repr__(self) -> str:
        return (
            f"Answer(style={self.style!r}, sources={len(self.passages)}, model={self.model!r}, "
            f"total={self.timings.get('total', 0.0):.3f}s, text={self.text[:40]!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "text": self.text,
            "style": self.style,
            "session_id": self.session_id,
            "model": self.model,
            "route": self.route.to_dict(),
            "sources": [
                {k: v for k, v in p.to_dict().items() if k != "text"} for p in self.passages
            ],
            "usage": self.usage,
            "timings": self.timings,
            "fallback_from": self.fallback_from,
            "policy": self.policy,
            "finish_reason": self.finish_reason,
            "used_notes": self.used_notes,
            "checks": _plain(self.checks),
            "violations": list(self.violations),
            "revision": None if self.revision is None else self.revision.to_dict(),
            "check_error": self.check_error,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """A step of a turn: ``route`` (the decision), ``passages``, ``delta`` (text), ``done``.

    The :class:`Answer`.
    """

    kind: str
    data: Any
    elapsed_s: float


class TurnStream(Stream[Event, Answer]):
    """A streamed turn: iterate for :class:`Event` objects (route, passages, each delta, done).

    Afterwards ``answer`` holds the :class:`Answer`; iterating again replays the events without a
    second model call, as a style client's stream does for text.

    >>> import neulora
    >>> from neulora.testing import FakeRetriever, FakeRouter, FakeStyleClient
    >>> from neulora.embedders import HashingEmbedder
    >>> e = HashingEmbedder(dim=32)
    >>> pipeline = neulora.Pipeline(FakeRouter(e), FakeRetriever(e), FakeStyleClient("Why?"))
    >>> stream = pipeline.stream("2+2=5?")
    >>> [event.kind for event in stream], stream.answer.text, "".join(stream.deltas())
    (['route', 'passages', 'delta', 'done'], 'Why?', 'Why?')
    """

    @property
    def answer(self) -> Answer:
        """The finished :class:`Answer` (raises if the stream has not been read to its end)."""
        return self.result

    def deltas(self) -> Iterator[str]:
        """Only the text deltas (reads the stream if it has not been read)."""
        return (event.data for event in self if event.kind == "delta")


class AsyncTurnStream(AsyncStream[Event, Answer]):
    """:class:`TurnStream` for ``async for``: route, passages, each delta, done; then ``answer``."""

    @property
    def answer(self) -> Answer:
        """The finished :class:`Answer` (raises if the stream has not been read to its end)."""
        return self.result

    async def deltas(self) -> AsyncIterator[str]:
        """Only the text deltas (reads the stream if it has not been read)."""
        async for event in self:
            if event.kind == "delta":
                yield event.data
