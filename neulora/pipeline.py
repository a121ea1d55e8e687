"""One routed RAG turn: embed once, route, retrieve, generate once, remember.

>>> pipeline = Pipeline(router, retriever, client)  # doctest: +SKIP
>>> answer = pipeline.ask("로그함수의 그래프는 어떻게 그리나요?", session_id="learner-1")  # doctest: +SKIP
>>> answer.style, [p.source for p in answer.passages]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, Literal

from ._checks import check_options, check_text
from ._languages import answer_language
from .embedders._base import Embedder
from .errors import ConfigError, EndpointTimeoutError, GenerationError, InvalidInputError
from .generation._async import astream_of
from .generation._result import Generation, StyleClient
from .memory._base import Memory, Turn, check_session_id
from .memory._inprocess import InMemoryMemory
from .protocols import Retriever, Router
from .routing._decision import RouteDecision
from .store._passage import format_context
from .turn._answer import Answer, AsyncTurnStream, Event, TurnStream, turn_info
from .turn._follow_up import FollowUp
from .turn._prompts import PromptSet
from .turn._relevance import Relevance
from .turn._small_talk import SmallTalkRule
from .turn._state import Call, TurnState, generation_options, options_of, turns_of

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from .settings import Settings
from .turn._policy import PolicyAdvisor

logger = logging.getLogger(__name__)

DEFAULT_FOLLOW_UP, DEFAULT_SMALL_TALK = FollowUp(), SmallTalkRule()  # frozen: shared defaults are safe


Vectors = tuple["NDArray[np.float32] | None", "NDArray[np.float32] | None"]  # the routing and the search vector


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
        min_score: float | Literal["auto"] | None = "auto",
        relevance: Relevance | None = None,
        follow_up: FollowUp | None = DEFAULT_FOLLOW_UP,
        small_talk: Callable[[str], bool] | None = DEFAULT_SMALL_TALK,
        max_question_chars: int = 4000,
        max_tokens: int = 512,
        temperature: float = 0.7,
        policy_advisor: PolicyAdvisor | None = None,
        route_with_history: bool = False,
        on_event: Callable[[Event], None] | None = None,
        deadline: float | None = 120.0,
    ) -> None:
        for name, part, needs in (("router", router, ("route", "route_vector")), ("client", client, ("generate",
                                                                                                    "stream"))):
            if not all(callable(getattr(part, method, None)) for method in needs):
                raise ConfigError(f"{name} must have {' and '.join(needs)} methods (see neulora.protocols), got "
                                  f"{type(part).__name__}")
        check_options(k=k, max_question_chars=max_question_chars, max_tokens=max_tokens,
                      min_score=None if min_score == "auto" else min_score, temperature=temperature, deadline=deadline)
        self.deadline = deadline
        self.router, self.retriever, self.client = router, retriever, client
        self.memory: Memory = memory if memory is not None else InMemoryMemory()
        self.prompts = prompts or PromptSet()
        self.k, self.follow_up = k, follow_up
        # which passages reach the prompt: the embedder's calibrated rule unless a floor (or None: all) is given
        self.relevance = relevance or (Relevance.for_embedder(retriever.embedder) if min_score == "auto" and retriever
                                       else Relevance(floor=min_score) if isinstance(min_score, (int, float))
                                       else Relevance.none())
        self.small_talk = small_talk
        self.max_question_chars = max_question_chars
        self.max_tokens, self.temperature = max_tokens, temperature
        self.policy_advisor = policy_advisor
        self.route_with_history = route_with_history
        self.on_event = on_event
        # A client that writes only some languages says so (``languages``): other questions are answered in its own.
        self._languages: tuple[str, ...] | None = getattr(client, "languages", None)
        missing = [s for s in router.styles if s not in self.prompts.system]
        if missing:
            raise ConfigError(f"no system prompt for style(s) {missing}")

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Pipeline:
        """Build every part the settings describe (see :mod:`neulora.settings`) and assemble them."""
        from ._assemble import build_parts

        parts = build_parts(settings)
        options.setdefault("k", parts.k)
        options.setdefault("min_score", "auto" if parts.min_score is None else parts.min_score)
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
            policy: str | None = None, history: Sequence[Mapping[str, str]] | None = None,
            max_tokens: int | None = None, temperature: float | None = None,
            where: Mapping[str, Any] | None = None) -> Answer:
        """Answer one question: one embedding and one LLM call on the default path.

        Options: ``style`` (force one), ``k``, ``policy``, ``max_tokens``, ``temperature`` (this turn only),
        ``where`` (a Chroma metadata filter for the notes, e.g. ``{"source": "notes/ch3.md"}``), and ``history``
        (earlier ``{"role", "content"}`` messages that replace the session's: the turn is then neither read from
        nor written to memory).
        """
        turn = self._prepare(self._call(question, session_id, options_of(locals())))
        t0 = time.perf_counter()
        generation = self.client.generate(self._style(turn), turn.messages, **self._options(turn))
        turn.timings["generate"] = time.perf_counter() - t0
        return self._finish(turn, generation)

    def stream(self, question: str, session_id: str | None = None, *, style: str | None = None, k: int | None = None,
               policy: str | None = None, history: Sequence[Mapping[str, str]] | None = None,
               max_tokens: int | None = None, temperature: float | None = None,
               where: Mapping[str, Any] | None = None) -> TurnStream:
        """A :class:`TurnStream` of ``route``, ``passages``, ``delta`` ... and ``done`` events (options as in ask).

        The arguments are checked now; the turn runs as the stream is read.
        """
        call = self._call(question, session_id, options_of(locals()))

        def produce() -> Generator[Event, None, Answer]:
            turn = self._prepare(call)
            yield from turn.events
            t0 = time.perf_counter()
            stream = self.client.stream(self._style(turn), turn.messages, **self._options(turn))
            for delta in stream:
                yield self._emit(turn, "delta", delta)
            turn.timings["generate"] = time.perf_counter() - t0
            answer = self._finish(turn, stream.result)
            yield turn.events[-1]  # "done", with the Answer
            return answer

        return TurnStream(produce)

    async def aask(self, question: str, session_id: str | None = None, *, style: str | None = None,
                   k: int | None = None, policy: str | None = None, history: Sequence[Mapping[str, str]] | None = None,
                   max_tokens: int | None = None, temperature: float | None = None,
                   where: Mapping[str, Any] | None = None) -> Answer:
        """:meth:`ask` for an event loop: the same steps; blocking ones (Chroma, memory, local models) in threads."""
        stream = self.astream(question, session_id, style=style, k=k, policy=policy, history=history,
                              max_tokens=max_tokens, temperature=temperature, where=where)
        async for _ in stream:
            pass
        return stream.answer

    def astream(self, question: str, session_id: str | None = None, *, style: str | None = None, k: int | None = None,
                policy: str | None = None, history: Sequence[Mapping[str, str]] | None = None,
                max_tokens: int | None = None, temperature: float | None = None,
                where: Mapping[str, Any] | None = None) -> AsyncTurnStream:
        """:meth:`stream` for ``async for``; cancelling the reader cancels the upstream request."""
        call = self._call(question, session_id, options_of(locals()))

        async def produce(finish: Callable[[Answer], None]) -> AsyncIterator[Event]:
            import asyncio  # lazily: asyncio would cost every ``import neulora``

            if self._embeds_on_loop():  # a remote embedder: its request on the loop, the rest in threads
                turn = await asyncio.to_thread(self._begin, call)
                vector = await self._aembed(turn)
                await asyncio.to_thread(self._decide, turn, vector)
            else:  # one hop for memory, embedding, routing and retrieval: each hop costs the loop a wake-up
                turn = await asyncio.to_thread(self._prepare, call)
            for event in list(turn.events):
                yield event
            t0 = time.perf_counter()
            stream = astream_of(self.client, self._style(turn), turn.messages, self._options(turn))
            async for delta in stream:
                yield self._emit(turn, "delta", delta)
            turn.timings["generate"] = time.perf_counter() - t0
            finish(await asyncio.to_thread(self._finish, turn, stream.result))
            yield turn.events[-1]  # "done", with the Answer

        return AsyncTurnStream(produce)

    def set_policy(self, session_id: str, policy: str | None) -> None:
        """Set (or clear with None) the teaching policy of a session."""
        self.memory.set_policy(check_session_id(session_id),
                               None if policy is None else check_text(policy, what="policy"))

    def warm_up(self, notice: Callable[[str], AbstractContextManager[Any]] | None = None) -> None:
        """Load the in-process models now (every part with a ``warm_up`` method), not on the first turn.

        ``notice(what)``: a context manager around each load, named by what is loaded (the command line prints
        "loading ..." when a load lasts).
        """
        parts = (self.client, getattr(self.retriever, "embedder", None), getattr(self.router, "embedder", None))
        for part in dict.fromkeys(p for p in parts if p is not None):  # one embedder serves router and retriever
            load = getattr(part, "warm_up", None)
            if not callable(load):
                continue
            describe = getattr(part, "describe", None)
            what = describe() if callable(describe) else getattr(part, "name", type(part).__name__)
            started = time.perf_counter()
            with notice(what) if notice is not None else nullcontext():
                load()
            logger.info("loaded %s in %.1fs", what, time.perf_counter() - started)

    def reset(self, session_id: str) -> None:
        """Forget a session."""
        self.memory.reset(check_session_id(session_id))

    # -- the steps of a turn, shared by the sync and async drivers -----------------------------------
    def _call(self, question: Any, session_id: Any, options: Mapping[str, Any]) -> Call:
        """Validate one call's arguments before anything runs."""
        q = check_text(question, what="question")
        if len(q) > self.max_question_chars:
            raise InvalidInputError(f"question is {len(q)} characters; the limit is {self.max_question_chars}")
        style, k, policy = options.get("style"), options.get("k"), options.get("policy")
        if style is not None and style not in self.router.styles:
            raise InvalidInputError(f"unknown style {style!r}: expected one of {list(self.router.styles)}")
        generation = generation_options(options)
        history = options.get("history")
        return Call(q, None if session_id is None else check_session_id(session_id), style, k,
                    None if policy is None else check_text(policy, what="policy"),
                    None if history is None else turns_of(history), generation,
                    None if options.get("where") is None else dict(options["where"]))

    def _prepare(self, call: Call) -> TurnState:
        """Everything before generation: read memory, embed, route, retrieve, build the prompt."""
        turn = self._begin(call)
        self._decide(turn, self._embed(turn))
        return turn

    def _embeds_on_loop(self) -> bool:
        """Whether an embedder of the turn has an ``aembed`` of its own (a remote one) to await on the loop."""
        embedders = (self.router.embedder, self.retriever.embedder if self.retriever is not None else None)
        return any(getattr(e, "aembed", None) is not None for e in embedders if e is not None)

    def _begin(self, call: Call) -> TurnState:
        """Read the conversation so far (from memory, unless the call brings its own history)."""
        started = time.perf_counter()
        remember = call.history is None
        sid = call.session_id if call.session_id is not None else uuid.uuid4().hex
        session = self.memory.get(sid) if remember else None
        turns = list(session.turns) if session is not None else call.history or []
        policy = call.policy if call.policy is not None else session.policy if session is not None else None
        search = self.follow_up.query(call.question, [t.question for t in turns]) if self.follow_up \
            else call.question  # a short question leaning on the last turn is searched together with it
        return TurnState(sid, call.question, turns, policy, call.style, call.k or self.k, remember, started,
                         generation=dict(call.generation), where=call.where, search=search)

    def _uses_retrieval(self, turn: TurnState) -> bool:
        return self.retriever is not None and not (self.small_talk and self.small_talk(turn.question))

    def _shared_embedder(self, turn: TurnState) -> Embedder | None:
        """The embedder whose vector serves both routing and retrieval (None: no shared vector this turn)."""
        routes_on_vector = turn.forced is None and not (self.route_with_history and turn.history)
        if not (routes_on_vector or self._uses_retrieval(turn)):
            return None
        r_emb = self.router.embedder
        if self.retriever is not None:
            t_emb = self.retriever.embedder
            if t_emb is not r_emb and (t_emb.name != r_emb.name or t_emb.dim != r_emb.dim):
                return None
        return r_emb

    def _texts_to_embed(self, turn: TurnState) -> tuple[Embedder | None, list[str]]:
        """The shared embedder and what it embeds: the question, and the follow-up's search query if different."""
        embedder = self._shared_embedder(turn)
        if embedder is None:
            return None, []
        return embedder, [turn.question] + ([turn.search] if turn.search != turn.question else [])

    def _embed(self, turn: TurnState) -> Vectors:
        embedder, texts = self._texts_to_embed(turn)
        if embedder is None:
            return None, None
        t0 = time.perf_counter()
        vectors = embedder.embed(texts)
        turn.timings["embed"] = time.perf_counter() - t0
        return vectors[0], vectors[-1]

    async def _aembed(self, turn: TurnState) -> Vectors:
        """The vectors on the loop: an embedder's own ``aembed`` (remote) or ``embed`` in a thread."""
        import asyncio

        embedder, texts = self._texts_to_embed(turn)
        if embedder is None:
            return None, None
        t0 = time.perf_counter()
        aembed = getattr(embedder, "aembed", None)
        vectors = await aembed(texts) if aembed is not None else await asyncio.to_thread(embedder.embed, texts)
        turn.timings["embed"] = time.perf_counter() - t0
        return vectors[0], vectors[-1]

    def _decide(self, turn: TurnState, vectors: Vectors) -> None:
        """Route, retrieve and build the prompt; emits the ``route`` and ``passages`` events."""
        vector, search_vector = vectors
        t0 = time.perf_counter()
        history = [{"role": r, "content": c} for t in turn.history for r, c in
                   (("user", t.question), ("assistant", t.answer))] if self.route_with_history else []
        if turn.forced is not None:
            # the vector is there anyway (retrieval): scoring it costs microseconds, and shows how the question scored
            routed = self.router.route_vector(vector) if vector is not None else None
            turn.decision = RouteDecision.forced_to(turn.forced, routed)
        elif history:
            turn.decision = self.router.route(turn.question, history=history)
        else:
            turn.decision = (self.router.route_vector(vector) if vector is not None
                             else self.router.route(turn.question))
        turn.timings["route"] = time.perf_counter() - t0
        if self._uses_retrieval(turn) and self.retriever is not None:
            t0 = time.perf_counter()
            extra: dict[str, Any] = {"where": turn.where} if turn.where else {}
            found = (self.retriever.retrieve_vector(search_vector, turn.k, **extra) if search_vector is not None
                     else self.retriever.retrieve(turn.search, turn.k, **extra))
            turn.passages = tuple(self.relevance.apply(found))
            turn.timings["retrieve"] = time.perf_counter() - t0
        turn.messages = self.prompts.build(turn.decision.style, turn.question,
                                           context=format_context(turn.passages) if turn.passages else None,
                                           history=turn.history, policy=turn.policy,
                                           language=answer_language(turn.question, self._languages))
        self._emit(turn, "route", turn.decision)
        self._emit(turn, "passages", turn.passages)

    @staticmethod
    def _style(turn: TurnState) -> str:
        assert turn.decision is not None, "the turn was decided before generation"
        return turn.decision.style

    def _options(self, turn: TurnState) -> dict[str, Any]:
        """The generation's options; its deadline is what embedding and retrieval left of the turn's."""
        options: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": self.temperature, **turn.generation}
        if self.deadline is not None:
            left = self.deadline - (time.perf_counter() - turn.started)
            if left <= 0:
                raise EndpointTimeoutError(f"the turn's deadline of {self.deadline:g}s passed before generation")
            options["deadline"] = left
        return options

    def _finish(self, turn: TurnState, generation: Generation) -> Answer:
        turn.timings["total"] = time.perf_counter() - turn.started
        assert turn.decision is not None
        answer = Answer(text=generation.text, style=turn.decision.style, route=turn.decision, passages=turn.passages,
                        model=generation.model, usage=generation.usage, timings=dict(turn.timings),
                        session_id=turn.session_id, fallback_from=generation.fallback_from, policy=turn.policy,
                        finish_reason=generation.finish_reason)
        if turn.remember:
            meta = turn_info(answer.route, answer.passages, answer)
            session = self.memory.append(turn.session_id, Turn(turn.question, answer.text, answer.style, meta))
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

    def _emit(self, turn: TurnState, kind: str, data: Any) -> Event:
        event = Event(kind, data, time.perf_counter() - turn.started)
        turn.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
        return event
