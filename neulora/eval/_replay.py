"""Replays: real tutoring dialogues, cut at a learner turn, answered by every variant of a tutor.

A variant is what answers: ``base`` (the base model, no adapter), ``routed`` (neulora's router picks
the style), a style name (that style's model, always), ``random`` (a style drawn per dialogue from a
seeded generator) or ``oracle`` (the style of the human tutor's actual next move, where the data
tags it). A variant never falls back to another model: a failed call is that variant's failure.

Every answer is scored as it arrives and appended to ``results.jsonl`` (one line per dialogue and
variant); a run that finds the file skips what it holds, so a killed run loses at most the
requests in flight. An empty answer, a failed call or an answer cut at ``max_tokens`` is a failure:
recorded with its reason and never scored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .._styles import STYLES
from ..errors import ConfigError, DatasetError, NeuloraError

if TYPE_CHECKING:
    from ._judge import LLMJudge
    from ._records import Cut, LabelledDialogue
    from ._scorer import PedagogyScorer

logger = logging.getLogger(__name__)

VARIANTS: tuple[str, ...] = ("base", "routed", *STYLES, "random", "oracle")
# the base variant's system prompt, for every style: the base model is asked as a plain tutor
BASE_PROMPT = (
    "You are a patient math tutor. Help the learner with the problem and their latest message."
)


class Tutor(Protocol):
    """What answers a replayed turn: a :class:`neulora.Pipeline` (prompts, retrieval, router)."""

    def ask(self, question: str, session_id: str | None = None, **changes: Any) -> Any: ...

    async def aask(self, question: str, session_id: str | None = None, **changes: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """One cut dialogue to replay, with its id in the results and the problem it is about."""

    id: str
    cut: Cut
    problem: str = ""


@dataclass(frozen=True, slots=True)
class Result:
    """One line of ``results.jsonl``: a variant's answer to one dialogue, and its scores."""

    dialogue_id: str
    variant: str
    style: str | None
    model: str | None
    response: str | None
    finish_reason: str | None
    error: str | None
    scores: Mapping[str, Any] | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


class ResultsFile:
    """``results.jsonl``: what a run has done, appended one whole line at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[Result]:
        """The results already there; a last line cut by a killed run is dropped from the file."""
        if not self.path.exists():
            return []
        raw = self.path.read_bytes()
        whole = raw[: raw.rfind(b"\n") + 1]
        if len(whole) != len(raw):
            logger.warning("%s: dropping a last line a killed run left unfinished", self.path)
            with self.path.open("r+b") as f:
                f.truncate(len(whole))
        results = []
        for n, line in enumerate(whole.decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                results.append(Result(**json.loads(line)))
            except (ValueError, TypeError) as exc:
                raise DatasetError(f"{self.path}:{n}: not a replay result ({exc})") from exc
        return results

    def append(self, result: Result) -> None:
        # one write of one whole line, flushed: a kill loses no line already written
        with self.path.open("a", encoding="utf-8") as f:
            f.write(result.to_json() + "\n")
            f.flush()
            os.fsync(f.fileno())


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """What to run: the dialogues, the variants, and how generations are asked for."""

    items: Sequence[ReplayItem]
    variants: Sequence[str] = VARIANTS
    max_tokens: int = 512
    temperature: float = 0.7
    seed: int = 0
    stream: bool = False  # ask the engine for streams (the answer is the same, whole)

    def __post_init__(self) -> None:
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown or not self.variants:
            raise ConfigError(f"unknown variants {unknown}: expected some of {list(VARIANTS)}")
        ids = [item.id for item in self.items]
        if len(set(ids)) != len(ids):
            raise ConfigError("dialogue ids repeat: each replayed cut needs its own id")

    def style(self, variant: str, item: ReplayItem) -> str | None:
        """The style ``variant`` forces on ``item``.

        None: the router chooses (``routed``), the base model answers (``base``) or the data does
        not say (``oracle``).
        """
        if variant in STYLES:
            return variant
        if variant == "random":
            return random.Random(f"{self.seed}:{item.id}").choice(STYLES)
        if variant == "oracle":
            return item.cut.next_style
        return None


class Replay:
    """Runs a :class:`ReplayPlan`, scoring each answer as it comes.

    ``tutor`` answers the routed and styled variants (its router, prompts and retrieval; its client
    without a fallback), ``base`` the ``base`` variant (the base model behind every style, a neutral
    prompt); ``judge`` (optional) labels each answer beside the ``scorer``.
    """

    def __init__(
        self,
        tutor: Tutor,
        base: Tutor,
        scorer: PedagogyScorer,
        *,
        judge: LLMJudge | None = None,
    ) -> None:
        self.tutor = tutor
        self.base = base
        self.scorer = scorer
        self.judge = judge

    @staticmethod
    def history(item: ReplayItem) -> list[dict[str, str]]:
        """The dialogue before the learner's turn as chat messages, the problem first."""
        problem = (
            [{"role": "user", "content": f"The problem: {item.problem}"}] if item.problem else []
        )
        return [*problem, *item.cut.messages()]

    async def run(
        self,
        plan: ReplayPlan,
        results: ResultsFile,
        *,
        concurrency: int = 4,
        progress: Any = None,
    ) -> list[Result]:
        """Every (dialogue, variant) the file lacks, ``concurrency`` at a time; all results."""
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
        done = results.read()
        have = {(r.dialogue_id, r.variant) for r in done}
        todo = [
            (item, variant)
            for item in plan.items
            for variant in plan.variants
            if (item.id, variant) not in have
        ]
        if progress is not None:
            progress.reset(total=len(todo))
        gate = asyncio.Semaphore(concurrency)
        written: list[Result] = []

        async def one(item: ReplayItem, variant: str) -> None:
            async with gate:
                result = await self._answer(plan, item, variant)
            if result is not None:
                results.append(result)
                written.append(result)
            if progress is not None:
                progress.update(1)

        await asyncio.gather(*(one(item, variant) for item, variant in todo))
        return done + written

    async def _answer(self, plan: ReplayPlan, item: ReplayItem, variant: str) -> Result | None:
        style = plan.style(variant, item)
        if variant == "oracle" and style is None:
            return None  # the data does not say what the human tutor did next
        tutor = self.base if variant == "base" else self.tutor
        changes: dict[str, Any] = {
            "style": "direct" if variant == "base" else style,
            "history": self.history(item),
            "max_tokens": plan.max_tokens,
            "temperature": plan.temperature,
        }
        session = f"replay:{item.id}:{variant}"
        try:
            if plan.stream:
                answer = await tutor.aask(item.cut.learner, session, **changes)
            else:
                answer = await asyncio.to_thread(tutor.ask, item.cut.learner, session, **changes)
        except NeuloraError as exc:
            return Result(item.id, variant, style, None, None, None, f"call failed: {exc}")
        chosen = None if variant == "base" else answer.style
        failure = None
        if answer.fallback_from:
            failure = f"fell back from {answer.fallback_from}"  # never scored under this name
        elif not answer.text.strip():
            failure = "empty answer"
        elif answer.finish_reason == "length":
            failure = f"cut at max_tokens ({plan.max_tokens})"
        if failure is not None:
            return Result(
                item.id, variant, chosen, answer.model, answer.text, answer.finish_reason, failure
            )
        scores: dict[str, Any] = {"scorer": self.scorer.score(item.cut, answer.text).labels()}
        if self.judge is not None:
            verdict = await self.judge.ajudge(item.cut, answer.text)
            scores["judge"] = verdict.to_dict()
        return Result(
            item.id, variant, chosen, answer.model, answer.text, answer.finish_reason, None, scores
        )


def replay_items(
    path: str | os.PathLike[str], *, every: bool = False
) -> tuple[list[ReplayItem], list[LabelledDialogue]]:
    """The cuts to replay from a MathDial JSONL or an MRBench JSON file, and MRBench's items.

    MathDial dialogues are cut at the last learner turn, or at every one (``every``: ids
    ``<dialogue>#<k>``; a dialogue id the file repeats gets ``/2``, ``/3`` in file order). An
    MRBench item is its dialogue at the learner's last turn, and its human tutors' responses come
    back too, to be scored beside the variants.
    """
    from ._load import load_mathdial, load_mrbench

    if str(path).endswith(".jsonl"):
        items = []
        seen: dict[str, int] = {}
        for dialogue in load_mathdial(path):
            # one problem and scenario can have several conversations: the later ones get /2, /3
            seen[dialogue.id] = seen.get(dialogue.id, 0) + 1
            name = dialogue.id if seen[dialogue.id] == 1 else f"{dialogue.id}/{seen[dialogue.id]}"
            for k, cut in enumerate(dialogue.cuts(every=every)):
                key = f"{name}#{k}" if every else name
                items.append(ReplayItem(key, cut, dialogue.question))
        return items, []
    if every:
        raise ConfigError("--turns all needs MathDial dialogues: MRBench has one cut each")
    labelled = load_mrbench(path)
    return [ReplayItem(d.dialogue.id, d.cut) for d in labelled], labelled


def human_results(dialogues: Sequence[LabelledDialogue], scorer: PedagogyScorer) -> list[Result]:
    """MRBench's human tutors' own responses, scored as the variants are (``human:<tutor>``)."""
    out = []
    for item in dialogues:
        for response in item.responses:
            if response.tutor not in ("Expert", "Novice"):
                continue
            scores = {"scorer": scorer.score(item.cut, response.text).labels()}
            out.append(
                Result(
                    item.dialogue.id,
                    f"human:{response.tutor}",
                    None,
                    response.tutor,
                    response.text,
                    "stop",
                    None,
                    scores,
                )
            )
    return out
