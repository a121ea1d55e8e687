"""One routed RAG turn: embed once, route, retrieve, generate once, remember.

>>> pipeline = Pipeline(router, retriever, client)  # doctest: +SKIP
>>> question = "로그함수의 그래프는 어떻게 그리나요?"
>>> answer = pipeline.ask(question, session_id="learner-1")  # doctest: +SKIP
>>> answer.style, [p.source for p in answer.passages]  # doctest: +SKIP

A turn is one flow (:meth:`Pipeline._turn`, a generator of its I/O steps, see :mod:`neulora._flow`):
``ask`` and ``stream`` drive it in the caller's thread, ``aask`` and ``astream`` on an event loop.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from . import _flow
from ._checks import check_answer_checks, check_text, is_int, is_number
from ._languages import answer_language
from ._redact import redact
from .errors import (
    ConfigError,
    EndpointTimeoutError,
    GenerationError,
    InvalidInputError,
    NeuloraError,
)
from .memory import InMemoryMemory, Turn
from .memory._base import check_session_id
from .routing import DialogueState, RouteDecision
from .store import format_context
from .turn import (
    Answer,
    AsyncTurnStream,
    Event,
    PolicyAdvisor,
    PromptSet,
    QuestionRules,
    Relevance,
    TurnOptions,
    TurnStream,
)
from .turn._answer import turn_info
from .turn._contract import AnswerChecks, CheckResult, Revision, answer_checks, default_mode
from .turn._options import CheckedCall
from .turn._state import TurnState, turns_of
from .turn._steps import Embed, Generate

if TYPE_CHECKING:
    from typing import Unpack

    import numpy as np
    from numpy.typing import NDArray

    from .embedders import Embedder
    from .generation import Generation, StyleClient
    from .memory import Memory
    from .protocols import Retriever, Router
    from .settings import Settings
    from .turn._options import TurnChanges

__all__ = ["Pipeline"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Vectors:
    """The turn's vectors: the question's (routing) and the search query's (None: not embedded)."""

    route: NDArray[np.float32] | None = None
    search: NDArray[np.float32] | None = None


class Final(NamedTuple):
    """The answer a turn keeps: its generation, style, checks and what was done about them."""

    generation: Generation
    style: str
    checked: CheckResult | None = None
    revision: Revision | None = None
    usage: dict[str, int] | None = None  # when two answers were asked for: both (else the one's)

    @property
    def tokens(self) -> dict[str, int] | None:
        return self.usage if self.revision is not None and self.usage else self.generation.usage


class Pipeline:
    """Routes a question, retrieves context, answers in the chosen style, and remembers the turn.

    ``options`` are every turn's defaults (a call changes them for its turn with keywords);
    ``relevance`` decides which passages reach the prompt: ``"auto"`` (the embedder's calibrated
    rule), a score floor, a :class:`~neulora.turn.Relevance`, or None (all of them); ``rules`` say
    how a question is read; ``policy_advisor`` refreshes a session's policy every few turns;
    ``on_event`` sees each event as it happens. The options' ``checks`` score every answer
    against its style's contract (see :class:`~neulora.turn.TurnOptions`).

    >>> from neulora.embedders import HashingEmbedder
    >>> from neulora.testing import FakeRetriever, FakeRouter, FakeStyleClient
    >>> e = HashingEmbedder(dim=32)
    >>> options = TurnOptions(k=2)
    >>> client = FakeStyleClient("Why?")
    >>> pipeline = Pipeline(FakeRouter(e), FakeRetriever(e), client, options=options)
    >>> pipeline.ask("2+2=5?", max_tokens=64).text
    'Why?'
    """

    def __init__(
        self,
        router: Router,
        retriever: Retriever | None,
        client: StyleClient,
        *,
        memory: Memory | None = None,
        prompts: PromptSet | None = None,
        options: TurnOptions = TurnOptions(),
        relevance: Relevance | float | Literal["auto"] | None = "auto",
        rules: QuestionRules = QuestionRules(),
        policy_advisor: PolicyAdvisor | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        _check_part("router", router, ("route", "route_vector"))
        if getattr(router, "uses_state", False) is True:
            _check_takes_state(router)
        _check_part("client", client, ("generate", "stream"))
        if not isinstance(options, TurnOptions):
            raise ConfigError(f"options must be a TurnOptions, got {type(options).__name__}")
        if not isinstance(rules, QuestionRules):
            raise ConfigError(f"rules must be a QuestionRules, got {type(rules).__name__}")
        self.router = router
        self.retriever = retriever
        self.client = client
        self.memory: Memory = memory if memory is not None else InMemoryMemory()
        self.prompts = prompts or PromptSet()
        self.options = options
        self.relevance = _relevance(relevance, retriever)
        self.rules = rules
        self.policy_advisor = policy_advisor
        self.on_event = on_event
        # the options' checks, made once ("auto": NEULORA_CHECKS, else on when the scorer runs)
        self.checks = answer_checks(options.checks, os.environ)
        _check_fallback(self.checks, router.styles, ConfigError)
        # what a turn asking for checks of its own scores with when the pipeline's are off: made on
        # that first turn, then kept (one scorer read per pipeline)
        self._spare_checks: AnswerChecks | None = None
        self._spare_lock = threading.Lock()
        # A client that writes only some languages says so (``languages``): other questions are
        # answered in its own.
        self._languages: tuple[str, ...] | None = getattr(client, "languages", None)
        missing = [s for s in router.styles if s not in self.prompts.system]
        if missing:
            raise ConfigError(f"no system prompt for style(s) {missing}")
        if options.style is not None and options.style not in router.styles:
            raise ConfigError(
                f"unknown style {options.style!r}: expected one of {list(router.styles)}"
            )

    @classmethod
    def from_settings(cls, settings: Settings, **parts: Any) -> Pipeline:
        """Build every part the settings describe (see :mod:`neulora.settings`) and assemble them.

        ``parts`` are constructor keywords (``memory=...``, ``options=...``); they win over the
        settings (a given ``options`` whole: ``TurnOptions(k=settings.k, ...)`` keeps their ``k``).
        """
        from ._assemble import build_parts

        built = build_parts(settings)
        parts.setdefault("relevance", "auto" if built.min_score is None else built.min_score)
        # the settings decide (their environment, not this process's)
        checks = default_mode() if settings.checks is None else settings.checks
        parts.setdefault("options", TurnOptions(k=built.k, checks=checks))
        return cls(built.router, built.retriever, built.client, **parts)

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | str | os.PathLike[str], **parts: Any
    ) -> Pipeline:
        """Build from a dict (explicit: it beats the environment) or a JSON file.

        The environment beats it.
        """
        from .settings import Settings

        if isinstance(config, Mapping):
            settings = Settings.load(overrides=config)
        else:
            settings = Settings.load(file=config)
        return cls.from_settings(settings, **parts)

    @classmethod
    def from_env(cls, **parts: Any) -> Pipeline:
        """Build the production setup from environment variables (see :mod:`neulora.settings`)."""
        from .settings import Settings

        return cls.from_settings(Settings.load(), **parts)

    def __repr__(self) -> str:
        return (
            f"Pipeline(router={self.router!r}, retriever={self.retriever!r}, "
            f"client={self.client!r})"
        )

    # -- public
    # -------------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        session_id: str | None = None,
        **options: Unpack[TurnChanges],
    ) -> Answer:
        """Answer one question: one embedding and one LLM call on the default path.

        ``options`` change this turn's :class:`~neulora.turn.TurnOptions` (``style``, ``k``,
        ``policy``, ``history``, ``where``, ``max_tokens``, ``temperature``, ``deadline``).
        """
        call = self._call(question, session_id, options)
        return _flow.run(self._turn(call, streaming=False, whole=True))

    def stream(
        self,
        question: str,
        session_id: str | None = None,
        **options: Unpack[TurnChanges],
    ) -> TurnStream:
        """A :class:`TurnStream` of ``route``, ``passages``, ``delta`` ... and ``done`` events.

        Options as in ask.

        The arguments are checked now; the turn runs as the stream is read.
        """
        call = self._call(question, session_id, options)
        return TurnStream(lambda: self._turn(call, streaming=True, whole=False))

    async def aask(
        self,
        question: str,
        session_id: str | None = None,
        **options: Unpack[TurnChanges],
    ) -> Answer:
        """:meth:`ask` for an event loop.

        The same steps; blocking ones (Chroma, memory, local models) in threads. The answer is
        streamed from the model, as :meth:`astream` does (``on_event`` sees its deltas).
        """
        call = self._call(question, session_id, options)
        return await _flow.arun(self._turn(call, streaming=True, whole=True))

    def astream(
        self,
        question: str,
        session_id: str | None = None,
        **options: Unpack[TurnChanges],
    ) -> AsyncTurnStream:
        """:meth:`stream` for ``async for``; cancelling the reader cancels the upstream request."""
        call = self._call(question, session_id, options)
        return AsyncTurnStream(lambda: self._turn(call, streaming=True, whole=False))

    def set_policy(self, session_id: str, policy: str | None) -> None:
        """Set (or clear with None) the teaching policy of a session."""
        checked = None if policy is None else check_text(policy, what="policy")
        self.memory.set_policy(check_session_id(session_id), checked)

    def warm_up(self, notice: Callable[[str], AbstractContextManager[Any]] | None = None) -> None:
        """Load in-process models now (each part with a ``warm_up`` method), not on the first turn.

        ``notice(what)``: a context manager around each load, named by what is loaded (the command
        line prints "loading ..." when a load lasts).
        """
        parts = [
            self.client,
            getattr(self.retriever, "embedder", None),
            getattr(self.router, "embedder", None),
            self.checks,
        ]
        # one embedder serves router and retriever
        for part in dict.fromkeys(p for p in parts if p is not None):
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

    # -- the turn: one flow, run by either driver
    # ---------------------------------------------------
    def _turn(self, call: CheckedCall, *, streaming: bool, whole: bool) -> _flow.Flow[Answer]:
        """Read memory, embed, route, retrieve, build the prompt, generate, check, remember.

        Yields the events. ``streaming``: the model's text comes as deltas; ``whole``: the caller
        gets the answer whole (a broken contract may then be answered again).
        """
        if self._embeds_on_loop():  # a remote embedder: its request is a step of its own
            turn = yield from self._preparing(call)
        else:
            # one step for memory, embedding, routing and retrieval: each costs an event loop a
            # wake-up
            turn = yield _flow.Blocking(self._prepare, call)
        yield from list(turn.events)  # route, passages
        started = time.perf_counter()
        generation = yield Generate(
            self.client,
            self._style(turn),
            turn.messages,
            self._generation_options(turn),
            streaming=streaming,
            wrap=lambda delta: self._emit(turn, "delta", delta),
        )
        turn.timings["generate"] = time.perf_counter() - started
        final = Final(generation, self._style(turn))
        if call.checks is not None:
            final = yield from self._checked(turn, final, call.checks, revise=whole)
        answer = yield _flow.Blocking(self._finish, turn, final)
        yield turn.events[-1]  # "done", with the Answer
        return answer  # type: ignore[no-any-return]

    def _call(self, question: Any, session_id: Any, changes: Mapping[str, Any]) -> CheckedCall:
        """Validate one call's arguments before anything runs."""
        q = check_text(question, what="question")
        limit = self.rules.max_chars
        if len(q) > limit:
            raise InvalidInputError(f"question is {len(q)} characters; the limit is {limit}")
        options = self.options.changed(**changes)
        if options.style is not None and options.style not in self.router.styles:
            styles = list(self.router.styles)
            raise InvalidInputError(f"unknown style {options.style!r}: expected one of {styles}")
        history = None if options.history is None else turns_of(options.history)
        sid = None if session_id is None else check_session_id(session_id)
        return CheckedCall(q, sid, options, history, self._checks_of(options))

    def _checks_of(self, options: TurnOptions) -> AnswerChecks | None:
        """The turn's answer checks: the pipeline's, unless the call changed them."""
        chosen = options.checks
        if chosen is self.options.checks or chosen == "auto":
            return self.checks
        if isinstance(chosen, AnswerChecks) or chosen is None:
            checks = chosen
        elif check_answer_checks(chosen, error=InvalidInputError) == "off":
            checks = None
        else:  # this turn's policy, a scorer read once for the pipeline
            checks = self._scorer_holder().with_policy(chosen)
        _check_fallback(checks, self.router.styles, InvalidInputError)
        return checks

    def _scorer_holder(self) -> AnswerChecks:
        """The pipeline's checks, or (they are off) the spare ones a turn's own mode uses."""
        if self.checks is not None:
            return self.checks
        with self._spare_lock:
            if self._spare_checks is None:
                self._spare_checks = AnswerChecks()
            return self._spare_checks

    def _prepare(self, call: CheckedCall) -> TurnState:
        """Everything before generation, in the calling thread (see :meth:`_preparing`)."""
        return _flow.run(self._preparing(call))

    def _preparing(self, call: CheckedCall) -> _flow.Flow[TurnState]:
        """Everything before generation: read memory, embed, route, retrieve, build the prompt."""
        turn: TurnState = yield _flow.Blocking(self._begin, call)
        embedding = self._embedding(turn)
        vectors = Vectors()
        if embedding is not None:
            started = time.perf_counter()
            found = yield embedding
            turn.timings["embed"] = time.perf_counter() - started
            vectors = Vectors(route=found[0], search=found[-1])
        yield _flow.Blocking(self._decide, turn, vectors)
        return turn

    def _embeds_on_loop(self) -> bool:
        """Whether an embedder of the turn has its own ``aembed`` (a remote one) to await."""
        retriever_embedder = self.retriever.embedder if self.retriever is not None else None
        embedders = [self.router.embedder, retriever_embedder]
        return any(getattr(e, "aembed", None) is not None for e in embedders if e is not None)

    def _begin(self, call: CheckedCall) -> TurnState:
        """Read the conversation so far (from memory, unless the call brings its own history)."""
        started = time.perf_counter()
        options = call.options
        remember = call.history is None
        sid = call.session_id if call.session_id is not None else uuid.uuid4().hex
        session = self.memory.get(sid) if remember else None
        turns: list[Turn] = list(session.turns) if session is not None else call.history or []
        policy = options.policy
        if policy is None and session is not None:
            policy = session.policy
        search = call.question
        if self.rules.follow_up is not None:
            # a short question leaning on the last turn is searched together with it
            search = self.rules.follow_up.query(call.question, [t.question for t in turns])
        return TurnState(
            sid,
            call.question,
            turns,
            policy,
            options.style,
            options.k,
            remember,
            started,
            generation={"max_tokens": options.max_tokens, "temperature": options.temperature},
            deadline=options.deadline,
            where=None if options.where is None else dict(options.where),
            search=search,
            earlier=session.total_turns if session is not None else len(turns),
        )

    def _uses_retrieval(self, turn: TurnState) -> bool:
        small_talk = self.rules.small_talk
        return self.retriever is not None and not (small_talk and small_talk(turn.question))

    def _shared_embedder(self, turn: TurnState) -> Embedder | None:
        """The embedder whose vector serves both routing and retrieval.

        None: no shared vector this turn.
        """
        routes_on_vector = turn.forced is None and not (
            self.rules.route_with_history and turn.history
        )
        if not (routes_on_vector or self._uses_retrieval(turn)):
            return None
        r_emb = self.router.embedder
        if self.retriever is not None:
            t_emb = self.retriever.embedder
            if t_emb is not r_emb and (t_emb.name != r_emb.name or t_emb.dim != r_emb.dim):
                return None
        return r_emb

    def _embedding(self, turn: TurnState) -> Embed | None:
        """The turn's one embedding step (None: none needed).

        The shared embedder's vectors of the question, and of the follow-up's search query if it
        differs.
        """
        embedder = self._shared_embedder(turn)
        if embedder is None:
            return None
        extra = [turn.search] if turn.search != turn.question else []
        return Embed(embedder, [turn.question, *extra])

    def _decide(self, turn: TurnState, vectors: Vectors) -> None:
        """Route, retrieve and build the prompt; emits the ``route`` and ``passages`` events."""
        started = time.perf_counter()
        turn.decision = self._route(turn, vectors.route)
        turn.timings["route"] = time.perf_counter() - started
        if self._uses_retrieval(turn) and self.retriever is not None:
            started = time.perf_counter()
            extra: dict[str, Any] = {"where": turn.where} if turn.where else {}
            if vectors.search is not None:
                found = self.retriever.retrieve_vector(vectors.search, turn.k, **extra)
            else:
                found = self.retriever.retrieve(turn.search, turn.k, **extra)
            turn.passages = tuple(self.relevance.apply(found))
            turn.timings["retrieve"] = time.perf_counter() - started
        turn.messages = self._messages(turn, turn.decision.style)
        self._emit(turn, "route", turn.decision)
        self._emit(turn, "passages", turn.passages)

    def _messages(
        self, turn: TurnState, style: str, insist: Sequence[str] = ()
    ) -> list[dict[str, str]]:
        """The prompt for ``style`` (``insist``: the promises a first answer broke)."""
        return self.prompts.build(
            style,
            turn.question,
            context=format_context(turn.passages) if turn.passages else None,
            history=turn.history,
            policy=turn.policy,
            language=answer_language(turn.question, self._languages),
            insist=insist,
        )

    def _route(self, turn: TurnState, vector: NDArray[np.float32] | None) -> RouteDecision:
        # a router that reads the dialogue's state gets it (others are never passed the keyword)
        state = self._dialogue_state(turn)
        extra: dict[str, Any] = {} if state is None else {"state": state}
        if turn.forced is not None:
            # the vector is there anyway (retrieval): scoring it costs microseconds, and shows how
            # the question scored
            routed = self.router.route_vector(vector, **extra) if vector is not None else None
            return RouteDecision.forced_to(turn.forced, routed)
        if self.rules.route_with_history and turn.history:
            history = []
            for t in turn.history:
                history += [
                    {"role": "user", "content": t.question},
                    {"role": "assistant", "content": t.answer},
                ]
            return self.router.route(turn.question, history=history, **extra)
        if vector is not None:
            return self.router.route_vector(vector, **extra)
        return self.router.route(turn.question, **extra)

    def _dialogue_state(self, turn: TurnState) -> DialogueState | None:
        """The state a state router reads: the style of the answer the learner is replying to.

        From the session's memory (the style neulora answered with last: the style of its prompt,
        also when a fallback model wrote the text); a turn given its own ``history`` messages has
        no styles, so its previous style is unknown (None).
        """
        if not getattr(self.router, "uses_state", False):
            return None
        last = turn.history[-1] if turn.history else None
        previous = None
        if last is not None and turn.remember and last.style in self.router.styles:
            previous = last.style
        # messages before this question: each earlier turn was a question and an answer (a
        # trimmed memory keeps fewer turns than the session had: its count is the session's)
        return DialogueState(
            previous, turn=2 * turn.earlier, last_tutor=None if last is None else last.answer
        )

    @staticmethod
    def _style(turn: TurnState) -> str:
        assert turn.decision is not None, "the turn was decided before generation"
        return turn.decision.style

    def _generation_options(self, turn: TurnState) -> dict[str, Any]:
        """The generation's options; its deadline is what the earlier steps left of the turn's."""
        options = dict(turn.generation)
        if turn.deadline is not None:
            left = turn.deadline - (time.perf_counter() - turn.started)
            if left <= 0:
                raise EndpointTimeoutError(
                    f"the turn's deadline of {turn.deadline:g}s passed before generation"
                )
            options["deadline"] = left
        return options

    def _checked(
        self, turn: TurnState, first: Final, checks: AnswerChecks, *, revise: bool
    ) -> _flow.Flow[Final]:
        """Check the answer against its style's contract; on a broken one, apply the policy.

        Only to a whole answer (``revise``): one more call, in the same style with a stricter
        instruction or in the fallback style (a forced style too: the policy is the caller's
        choice as well); the answer that breaks fewer promises of its own style's contract is
        kept. A check that fails leaves the answer as it is, unchecked, and says why.
        """
        found = yield _flow.Blocking(self._check, turn, checks, first)
        first = first._replace(checked=found)
        policy = checks.on_violation
        if not found.violations or not revise or policy.action == "flag":
            return first
        style = first.style if policy.style is None else policy.style
        insist = found.violations if policy.action == "regenerate" else ()
        started = time.perf_counter()
        try:
            generation = yield Generate(
                self.client,
                style,
                self._messages(turn, style, insist),
                self._generation_options(turn),
                streaming=False,
                wrap=lambda delta: delta,
            )
        except Exception as exc:  # whatever failed, the first answer stands, flagged
            why = redact(str(exc) or type(exc).__name__)
            logger.warning("%s after %s failed: %s", policy, found.violations, why)
            revision = Revision(str(policy), first.style, found.violations, "first", why)
            return first._replace(revision=revision)
        turn.timings["revise"] = time.perf_counter() - started
        second = Final(generation, style)
        second = second._replace(checked=(yield _flow.Blocking(self._check, turn, checks, second)))
        assert second.checked is not None
        keep_second = second.checked.error is None and len(second.checked.violations) < len(
            found.violations
        )
        kept = second if keep_second else first
        revision = Revision(
            str(policy), first.style, found.violations, "second" if keep_second else "first"
        )
        # both answers were paid for
        return kept._replace(
            revision=revision, usage=_added(first.generation.usage, generation.usage)
        )

    def _check(self, turn: TurnState, checks: AnswerChecks, final: Final) -> CheckResult:
        """``final``'s check against the dialogue the prompt holds (a failure: an unchecked one)."""
        started = time.perf_counter()
        history = self.prompts.history(turn.history)
        text = final.generation.text
        try:
            return checks.check(final.style, turn.question, history, text)
        except Exception as exc:  # the answer exists: it is not lost to a check
            why = redact(str(exc) or type(exc).__name__)
            logger.warning("the answer could not be checked: %s", why)
            return CheckResult.failed(why)
        finally:
            turn.timings["check"] = turn.timings.get("check", 0.0) + time.perf_counter() - started

    def _finish(self, turn: TurnState, final: Final) -> Answer:
        turn.timings["total"] = time.perf_counter() - turn.started
        assert turn.decision is not None
        generation = final.generation
        checked = final.checked
        answer = Answer(
            text=generation.text,
            style=final.style,
            route=turn.decision,
            passages=turn.passages,
            model=generation.model,
            usage=final.tokens,
            timings=dict(turn.timings),
            session_id=turn.session_id,
            fallback_from=generation.fallback_from,
            policy=turn.policy,
            finish_reason=generation.finish_reason,
            checks=None if checked is None or checked.error else checked.checks,
            violations=() if checked is None else checked.violations,
            revision=final.revision,
            check_error=None if checked is None else checked.error,
        )
        if turn.remember:
            meta = turn_info(answer.route, answer.passages, answer)
            kept = Turn(turn.question, answer.text, answer.style, meta)
            session = self.memory.append(turn.session_id, kept)
            self._advise(turn.session_id, session.turns, session.total_turns)
        self._emit(turn, "done", answer)
        logger.info(
            "turn %s: style %s, %d passages, %.3fs",
            turn.session_id[:8],
            answer.style,
            len(answer.passages),
            turn.timings["total"],
        )
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


def _check_takes_state(router: Any) -> None:
    """A router that says it reads the dialogue's state must take ``state=`` where it routes."""
    import inspect

    for name in ("route", "route_vector"):
        try:
            parameters = inspect.signature(getattr(router, name)).parameters
        except (TypeError, ValueError):  # a builtin without a signature: trust it
            continue
        kinds = {p.kind for p in parameters.values()}
        if "state" not in parameters and inspect.Parameter.VAR_KEYWORD not in kinds:
            raise ConfigError(
                f"the router says it reads the dialogue's state (uses_state) but its {name}() "
                "takes no state= keyword"
            )


def _added(*usages: Mapping[str, int] | None) -> dict[str, int] | None:
    """Token counts of several completions added up (None when none reported any)."""
    total: dict[str, int] = {}
    for usage in usages:
        for key, value in (usage or {}).items():
            if is_int(value):
                total[key] = total.get(key, 0) + value
    return total or None


def _check_fallback(
    checks: AnswerChecks | None, styles: Sequence[str], error: type[NeuloraError]
) -> None:
    fallback = None if checks is None else checks.on_violation.style
    if fallback is not None and fallback not in styles:
        raise error(
            f"the checks fall back to {fallback!r}, which the router does not know: expected one "
            f"of {list(styles)}"
        )


def _check_part(name: str, part: Any, needs: tuple[str, ...]) -> None:
    if not all(callable(getattr(part, method, None)) for method in needs):
        raise ConfigError(
            f"{name} must have {' and '.join(needs)} methods (see neulora.protocols), "
            f"got {type(part).__name__}"
        )


def _relevance(
    relevance: Relevance | float | Literal["auto"] | None, retriever: Retriever | None
) -> Relevance:
    """Which passages reach the prompt.

    The embedder's calibrated rule, a floor, a rule given, or all of them.
    """
    if isinstance(relevance, Relevance):
        return relevance
    if relevance == "auto":
        return (
            Relevance.for_embedder(retriever.embedder)
            if retriever is not None
            else Relevance.none()
        )
    if relevance is None:
        return Relevance.none()
    if not is_number(relevance):
        raise ConfigError(
            f"relevance must be 'auto', a score floor, a Relevance or None, got {relevance!r}"
        )
    return Relevance(floor=float(relevance))


def __getattr__(name: str) -> Any:
    from ._compat import moved  # names this module held before the parts became folders

    return moved(__name__, name)
