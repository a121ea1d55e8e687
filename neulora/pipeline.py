"""One routed RAG turn: embed once, route, retrieve, generate once, remember.

>>> pipeline = Pipeline(router, retriever, client)  # doctest: +SKIP
>>> answer = pipeline.ask("로그함수의 그래프는 어떻게 그리나요?", session_id="learner-1")  # doctest: +SKIP
>>> answer.style, [p.source for p in answer.passages]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, GenerationError, InvalidInputError
from .generation import Generation, ReplayStream, StyleClient
from .memory import InMemoryMemory, Memory, Turn
from .prompts import POLICY_TAGS, PromptSet
from .protocols import Retriever, Router
from .retrieval import Passage, format_context
from .router import RouteDecision
from .text import check_text

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from .settings import Settings

__all__ = ["Answer", "Event", "Pipeline", "PolicyAdvisor", "SmallTalkRule", "TurnStream"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Answer:
    """Everything about one turn: the answer, the routing decision, the sources, the timings.

    >>> from neulora.testing import FakeRetriever, FakeRouter, FakeStyleClient
    >>> from neulora.embeddings import HashingEmbedder
    >>> e = HashingEmbedder(dim=32)
    >>> answer = Pipeline(FakeRouter(e), FakeRetriever(e), FakeStyleClient("Why do you think so?")).ask("2+2=5?")
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

    >>> from neulora.testing import FakeRetriever, FakeRouter, FakeStyleClient
    >>> from neulora.embeddings import HashingEmbedder
    >>> e = HashingEmbedder(dim=32)
    >>> stream = Pipeline(FakeRouter(e), FakeRetriever(e), FakeStyleClient("Why?")).stream("2+2=5?")
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


@dataclass
class PolicyAdvisor:
    """Refreshes a session's teaching policy every ``every`` turns with one extra LLM call (off unless given)."""

    client: StyleClient
    every: int = 10
    style: str = "direct"
    tags: Sequence[str] = POLICY_TAGS

    def advise(self, turns: Sequence[Turn]) -> str | None:
        """One or two policy tags for these turns, or None if the model named none."""
        dialogue = "\n".join(f"student: {t.question}\ntutor: {t.answer}" for t in turns[-self.every:])
        prompt = ("You analyse a tutoring conversation and choose the tutor's policy for the next turns.\n\n"
                  f"Conversation:\n{dialogue}\n\nChoose the one or two most suitable lines below and copy them "
                  "exactly, one per line, with nothing else:\n" + "\n".join(f"- {t}" for t in self.tags))
        text = self.client.generate(self.style, [{"role": "user", "content": prompt}], max_tokens=80,
                                    temperature=0.0).text
        chosen = [t for t in self.tags if t in text][:2]
        return "\n".join(chosen) or None


@dataclass
class _Turn:
    session_id: str
    question: str
    decision: RouteDecision
    passages: tuple[Passage, ...]
    messages: list[dict[str, str]]
    policy: str | None
    timings: dict[str, float]
    started: float
    events: list[Event] = field(default_factory=list)


class Pipeline:
    """Routes a learner's question, retrieves context, generates the answer in that style, and remembers."""

    def __init__(
        self,
        router: Router,
        retriever: Retriever | None,
        client: StyleClient,
        *,
        memory: Memory | None = None,
        prompts: PromptSet | None = None,
        k: int = 4,
        min_score: float | None = 0.2,
        small_talk: Callable[[str], bool] | None = SmallTalkRule(),
        max_question_chars: int = 4000,
        max_tokens: int = 512,
        temperature: float = 0.7,
        policy_advisor: PolicyAdvisor | None = None,
        route_with_history: bool = False,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        if k < 1 or max_question_chars < 1:
            raise ConfigError("k and max_question_chars must be positive")
        self.router, self.retriever, self.client = router, retriever, client
        self.memory: Memory = memory if memory is not None else InMemoryMemory()
        self.prompts = prompts or PromptSet()
        self.k, self.min_score = k, min_score
        self.small_talk = small_talk
        self.max_question_chars = max_question_chars
        self.max_tokens, self.temperature = max_tokens, temperature
        self.policy_advisor = policy_advisor
        self.route_with_history = route_with_history
        self.on_event = on_event
        missing = [s for s in router.styles if s not in self.prompts.system]
        if missing:
            raise ConfigError(f"no system prompt for style(s) {missing}")

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Pipeline:
        """Build every part the settings describe (see :mod:`neulora.settings`) and assemble them."""
        from .config import build_parts

        parts = build_parts(settings)
        options.setdefault("k", parts.k)
        options.setdefault("min_score", parts.min_score)
        return cls(parts.router, parts.retriever, parts.client, **options)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | str | os.PathLike[str], **options: Any) -> Pipeline:
        """Build from a dict (explicit: it beats the environment) or a JSON file (the environment beats it)."""
        from .settings import Settings

        settings = Settings.load(overrides=config) if isinstance(config, Mapping) else Settings.load(file=config)
        return cls.from_settings(settings, **options)

    @classmethod
    def from_env(cls, **options: Any) -> Pipeline:
        """Build the production setup from environment variables (see :mod:`neulora.settings`)."""
        from .settings import Settings

        return cls.from_settings(Settings.load(), **options)

    def __repr__(self) -> str:
        return f"Pipeline(router={self.router!r}, retriever={self.retriever!r}, client={self.client!r})"

    # -- public -------------------------------------------------------------------------------------
    def ask(self, question: str, session_id: str | None = None, *, style: str | None = None, k: int | None = None,
            policy: str | None = None) -> Answer:
        """Answer one question: one embedding and one LLM call on the default path."""
        turn = self._prepare(question, session_id, style, k, policy)
        t0 = time.perf_counter()
        generation = self.client.generate(turn.decision.style, turn.messages, max_tokens=self.max_tokens,
                                          temperature=self.temperature)
        turn.timings["generate"] = time.perf_counter() - t0
        return self._finish(turn, generation)

    def stream(self, question: str, session_id: str | None = None, *, style: str | None = None,
               k: int | None = None, policy: str | None = None) -> TurnStream:
        """A :class:`TurnStream` of ``route``, ``passages``, ``delta`` ... and ``done`` events.

        The arguments are checked now; the turn runs as the stream is read.
        """
        self._check_call(question, session_id, style, k, policy)

        def produce() -> Generator[Event, None, Answer]:
            turn = self._prepare(question, session_id, style, k, policy)
            yield from turn.events
            t0 = time.perf_counter()
            stream = self.client.stream(turn.decision.style, turn.messages, max_tokens=self.max_tokens,
                                        temperature=self.temperature)
            for delta in stream:
                yield self._emit(turn, "delta", delta)
            turn.timings["generate"] = time.perf_counter() - t0
            answer = self._finish(turn, stream.result)
            yield turn.events[-1]  # "done", with the Answer
            return answer

        return TurnStream(produce)

    def set_policy(self, session_id: str, policy: str | None) -> None:
        """Set (or clear with None) the teaching policy of a session."""
        self.memory.set_policy(self._session_id(session_id), None if policy is None else check_text(policy,
                                                                                                    what="policy"))

    def reset(self, session_id: str) -> None:
        """Forget a session."""
        self.memory.reset(self._session_id(session_id))

    # -- steps --------------------------------------------------------------------------------------
    def _prepare(self, question: Any, session_id: Any, style: str | None, k: int | None,
                 policy: str | None) -> _Turn:
        started = time.perf_counter()
        q, sid = self._check_call(question, session_id, style, k, policy)
        session = self.memory.get(sid)
        timings = {"embed": 0.0, "route": 0.0, "retrieve": 0.0, "generate": 0.0}
        use_retrieval = self.retriever is not None and not (self.small_talk and self.small_talk(q))
        # Routing on the history embeds a different text than retrieval does: a second embedding, by choice.
        history = [{"role": r, "content": c} for t in session.turns for r, c in
                   (("user", t.question), ("assistant", t.answer))] if self.route_with_history else []
        routes_on_vector = style is None and not history
        vector = self._embed_once(q, timings) if (routes_on_vector or use_retrieval) else None
        t0 = time.perf_counter()
        if style is not None:
            decision = RouteDecision.forced_to(style)
        elif history:
            decision = self.router.route(q, history=history)
        else:
            decision = self.router.route_vector(vector) if vector is not None else self.router.route(q)
        timings["route"] = time.perf_counter() - t0
        passages: tuple[Passage, ...] = ()
        if use_retrieval and self.retriever is not None:
            t0 = time.perf_counter()
            kk = k or self.k
            found = (self.retriever.retrieve_vector(vector, kk, min_score=self.min_score) if vector is not None
                     else self.retriever.retrieve(q, kk, min_score=self.min_score))
            passages = tuple(found)
            timings["retrieve"] = time.perf_counter() - t0
        used_policy = policy if policy is not None else session.policy
        messages = self.prompts.build(decision.style, q, context=format_context(passages) if passages else None,
                                      history=session.turns, policy=used_policy)
        turn = _Turn(sid, q, decision, passages, messages, used_policy, timings, started)
        self._emit(turn, "route", decision)
        self._emit(turn, "passages", passages)
        return turn

    def _check_call(self, question: Any, session_id: Any, style: Any, k: Any, policy: Any) -> tuple[str, str]:
        """Validate one call's arguments before anything runs; returns the question and the session id."""
        q = check_text(question, what="question")
        if len(q) > self.max_question_chars:
            raise InvalidInputError(f"question is {len(q)} characters; the limit is {self.max_question_chars}")
        sid = self._session_id(session_id) if session_id is not None else uuid.uuid4().hex
        if style is not None and style not in self.router.styles:
            raise InvalidInputError(f"unknown style {style!r}: expected one of {list(self.router.styles)}")
        if policy is not None:
            check_text(policy, what="policy")
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise InvalidInputError(f"k must be a positive int, got {k!r}")
        return q, sid

    def _embed_once(self, question: str, timings: dict[str, float]) -> NDArray[np.float32] | None:
        """The query vector, when router and retriever share one embedder (else None: each embeds itself)."""
        r_emb = self.router.embedder
        if self.retriever is not None:
            t_emb = self.retriever.embedder
            if t_emb is not r_emb and (t_emb.name != r_emb.name or t_emb.dim != r_emb.dim):
                return None
        t0 = time.perf_counter()
        vector: NDArray[np.float32] = r_emb.embed([question])[0]
        timings["embed"] = time.perf_counter() - t0
        return vector

    def _finish(self, turn: _Turn, generation: Generation) -> Answer:
        turn.timings["total"] = time.perf_counter() - turn.started
        answer = Answer(text=generation.text, style=turn.decision.style, route=turn.decision, passages=turn.passages,
                        model=generation.model, usage=generation.usage, timings=dict(turn.timings),
                        session_id=turn.session_id, fallback_from=generation.fallback_from, policy=turn.policy)
        session = self.memory.append(turn.session_id, Turn(turn.question, answer.text, answer.style))
        self._advise(turn.session_id, session.turns, session.total_turns)
        self._emit(turn, "done", answer)
        logger.info("turn %s: style %s, %d passages, %.3fs", turn.session_id[:8], answer.style,
                    len(answer.passages), turn.timings["total"])
        return answer

    def _advise(self, session_id: str, turns: Sequence[Turn], total: int) -> None:
        advisor = self.policy_advisor
        if advisor is None or total % advisor.every:
            return
        try:
            policy = advisor.advise(turns)
        except GenerationError as exc:  # the answer is already safe; keep the old policy
            logger.warning("policy refresh failed, keeping the previous policy: %s", exc)
            return
        if policy:
            self.memory.set_policy(session_id, policy)

    def _emit(self, turn: _Turn, kind: str, data: Any) -> Event:
        event = Event(kind, data, time.perf_counter() - turn.started)
        turn.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
        return event

    @staticmethod
    def _session_id(session_id: Any) -> str:
        if not isinstance(session_id, str) or not session_id.strip() or len(session_id) > 200:
            raise InvalidInputError(
                f"session_id must be a non-empty str of at most 200 characters, got {type(session_id).__name__}")
        return session_id
