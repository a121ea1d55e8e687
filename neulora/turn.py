"""What a turn produces: the :class:`Answer`, the :class:`Event` steps, and the streams that carry them."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .aio import AsyncReplayStream
from .errors import ConfigError, InvalidInputError, NeuloraError
from .generation import ReplayStream
from .memory import Turn
from .retrieval import Passage
from .router import RouteDecision
from .text import check_encodable

__all__ = ["Answer", "AsyncTurnStream", "Call", "Event", "SmallTalkRule", "TurnState", "TurnStream", "check_options",
           "turn_info",
           "check_positive_int", "check_temperature", "generation_options", "options_of", "turns_of"]


def turn_info(route: RouteDecision, passages: Sequence[Passage], answer: Answer | None = None) -> dict[str, Any]:
    """What neulora knows about a turn as JSON: the route and the sources, then (when done) timings and fallbacks.

    The ``neulora`` object of ``neulora serve``'s answers, and what a session keeps of each turn (``Turn.meta``).
    """
    out: dict[str, Any] = {
        "style": route.style, "scores": route.scores, "margin": route.margin, "fallback": route.fallback,
        "forced": route.forced, "reason": route.reason,
        "sources": [{"file": p.source, "section": p.metadata.get("section"), "page": p.page, "score": p.score,
                     "where": p.where} for p in passages],
    }
    if answer is not None:
        out.update({"session_id": answer.session_id, "model": answer.model, "timings": answer.timings,
                    "fallback_from": answer.fallback_from, "used_notes": answer.used_notes,
                    "finish_reason": answer.finish_reason})
    return out


@dataclass(frozen=True, slots=True)
class Answer:
    """Everything about one turn: the answer, the routing decision, the sources, the timings.

    >>> import neulora
    >>> from neulora.testing import FakeRetriever, FakeRouter, FakeStyleClient
    >>> from neulora.embeddings import HashingEmbedder
    >>> e = HashingEmbedder(dim=32)
    >>> pipeline = neulora.Pipeline(FakeRouter(e), FakeRetriever(e), FakeStyleClient("Why do you think so?"))
    >>> answer = pipeline.ask("2+2=5?")
    >>> answer.style, answer.text, sorted(answer.timings)
    ('socratic', 'Why do you think so?', ['embed', 'generate', 'retrieve', 'route', 'total'])
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

    @property
    def used_notes(self) -> bool:
        """Whether any course notes went into the answer (False: answered from general knowledge)."""
        return bool(self.passages)

    def __repr__(self) -> str:
        return (f"Answer(style={self.style!r}, sources={len(self.passages)}, model={self.model!r}, "
                f"total={self.timings.get('total', 0.0):.3f}s, text={self.text[:40]!r})")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "text": self.text, "style": self.style, "session_id": self.session_id, "model": self.model,
            "route": self.route.to_dict(),
            "sources": [{k: v for k, v in p.to_dict().items() if k != "text"} for p in self.passages],
            "usage": self.usage, "timings": self.timings, "fallback_from": self.fallback_from, "policy": self.policy,
            "finish_reason": self.finish_reason, "used_notes": self.used_notes,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """A step of a turn: ``route`` (the decision), ``passages``, ``delta`` (text), ``done`` (the :class:`Answer`)."""

    kind: str
    data: Any
    elapsed_s: float


class TurnStream(ReplayStream[Event, Answer]):
    """A streamed turn: iterate for :class:`Event` objects (route, passages, each delta, done).

    Afterwards ``answer`` holds the :class:`Answer`; iterating again replays the events without a second model
    call, as :class:`~neulora.generation.GenerationStream` does for text.

    >>> import neulora
    >>> from neulora.testing import FakeRetriever, FakeRouter, FakeStyleClient
    >>> from neulora.embeddings import HashingEmbedder
    >>> e = HashingEmbedder(dim=32)
    >>> stream = neulora.Pipeline(FakeRouter(e), FakeRetriever(e), FakeStyleClient("Why?")).stream("2+2=5?")
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

    def text(self) -> str:
        """Read the whole stream (if not yet read) and return the answer's text."""
        for _ in self:
            pass
        return self.answer.text


class AsyncTurnStream(AsyncReplayStream[Event, Answer]):
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

    async def text(self) -> str:
        """Read the whole stream (if not yet read) and return the answer's text."""
        async for _ in self:
            pass
        return self.answer.text


@dataclass(frozen=True)
class SmallTalkRule:
    """Recognises questions that need no retrieval (greetings, thanks) without an LLM call.

    >>> rule = SmallTalkRule()
    >>> rule("감사합니다!"), rule("Thanks, and what is a logarithm?")
    (True, False)
    """

    pattern: str = (r"(hi|hello|hey|thanks|thank you|thx|bye|good (morning|night)|안녕|안녕하세요|반가워요?|"
                    r"고마워요?|고맙습니다|감사합니다|감사해요|ㅎㅇ|ㄱㅅ|잘 ?가|수고하셨습니다)")
    max_chars: int = 40

    def __call__(self, question: str) -> bool:
        text = question.strip().lower()
        return len(text) <= self.max_chars and re.fullmatch(self.pattern + r"[\s!.~?^ㅎㅋ]*", text) is not None


@dataclass(frozen=True)
class Call:
    """One call's checked arguments (internal to the pipeline)."""

    question: str
    session_id: str | None
    style: str | None
    k: int | None
    policy: str | None
    history: list[Turn] | None
    generation: dict[str, Any]
    where: dict[str, Any] | None = None


@dataclass
class TurnState:
    """A turn in progress (internal to the pipeline): what each step has decided so far."""

    session_id: str
    question: str
    history: list[Turn]
    policy: str | None
    forced: str | None
    k: int
    remember: bool
    started: float
    timings: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("embed", "route", "retrieve", "generate"), 0.0))
    generation: dict[str, Any] = field(default_factory=dict)
    where: dict[str, Any] | None = None
    search: str = ""  # what retrieval searches: the question, or the question with the turn it leans on
    decision: RouteDecision | None = None
    passages: tuple[Passage, ...] = ()
    messages: list[dict[str, str]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def turns_of(history: Any) -> list[Turn]:
    """OpenAI-style messages (``user``/``assistant`` pairs, ``system`` ignored) as the :class:`Turn` s they make."""
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Sequence):
        raise InvalidInputError(
            f"history must be a list of {{'role', 'content'}} messages, got {type(history).__name__}")
    turns: list[Turn] = []
    pending: str | None = None
    for i, m in enumerate(history):
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise InvalidInputError(f"history message {i} must be a dict with str 'role' and 'content'")
        check_encodable(m["content"], what=f"history message {i}")
        if m["role"] == "user":
            pending = m["content"] if pending is None else f"{pending}\n{m['content']}"
        elif m["role"] == "assistant":
            turns.append(Turn(pending or "", m["content"], "direct"))
            pending = None
        elif m["role"] != "system":
            raise InvalidInputError(f"history message {i} has role {m['role']!r}: use user, assistant or system")
    return turns


def options_of(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """A public method's turn options, read from its ``locals()``."""
    return {key: arguments[key] for key in ("style", "k", "policy", "history", "max_tokens", "temperature",
                                            "where")}


def check_positive_int(name: str, value: Any, error: type[NeuloraError] = ConfigError) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise error(f"{name} must be a positive int, got {value!r}")


def check_temperature(value: Any, error: type[NeuloraError] = ConfigError) -> None:
    if not (_number(value) and 0 <= value <= 2):
        raise error(f"temperature must be a number between 0 and 2, got {value!r}")


def generation_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """One call's ``k`` and ``where`` checked, and its ``max_tokens``/``temperature`` checked and returned."""
    where = options.get("where")
    if where is not None and (not isinstance(where, Mapping) or not where):
        raise InvalidInputError(f"where must be a non-empty dict of metadata conditions, got {where!r}")
    generation = {key: options[key] for key in ("max_tokens", "temperature") if options.get(key) is not None}
    for name in ("k", "max_tokens"):
        if options.get(name) is not None:
            check_positive_int(name, options[name], InvalidInputError)
    if "temperature" in generation:
        check_temperature(generation["temperature"], InvalidInputError)
    return generation


def check_options(*, k: Any, max_question_chars: Any, max_tokens: Any, min_score: Any, temperature: Any,
                  deadline: Any) -> None:
    """Refuse constructor options that could only fail later, naming the option and what it takes."""
    for name, value in (("k", k), ("max_question_chars", max_question_chars), ("max_tokens", max_tokens)):
        check_positive_int(name, value)
    if min_score is not None and not _number(min_score):
        raise ConfigError(f"min_score must be a number (a cosine similarity floor) or None, got {min_score!r}")
    check_temperature(temperature)
    if deadline is not None and not (_number(deadline) and deadline > 0):
        raise ConfigError(f"deadline must be a positive number of seconds (or None), got {deadline!r}")


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
