"""Replays: real tutoring dialogues, cut at a learner turn, answered by every variant of a tutor.

A variant is what answers: ``base`` (the base model, no adapter), ``routed`` (neulora's router picks
the style), a style name (that style's model, always), ``random`` (a style drawn per dialogue from a
seeded generator) or ``oracle`` (the style of the human tutor's actual next move, where the data
tags it). A variant never falls back to another model: a failed call is that variant's failure. On
MRBench dialogues the human tutors' own responses (``human:Expert``, ``human:Novice``) are scored
and judged the same way.

Every answer is scored as it arrives and appended to ``results.jsonl`` (one line per dialogue and
variant); a run that finds the file skips what it holds, so a killed run loses at most the
requests in flight. An empty answer or an answer cut at ``max_tokens`` is a failure of the
variant: recorded with its reason, never scored, never asked again. A failed call (the engine down,
a refused token) is recorded too, and asked again by the next run; the newest line of a dialogue
and variant is the one that counts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .._checks import check_int, check_temperature
from .._styles import STYLES
from ..errors import ConfigError, DatasetError, NeuloraError

if TYPE_CHECKING:
    from ._judge import LLMJudge
    from ._records import Cut
    from ._scorer import PedagogyScorer

logger = logging.getLogger(__name__)

VARIANTS: tuple[str, ...] = ("base", "routed", *STYLES, "random", "oracle")
HUMAN_TUTORS: tuple[str, ...] = ("Expert", "Novice")  # MRBench's human tutors
# a failed call says nothing about the model: the next run asks again
RETRIED = ("call failed", "routing failed")
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
    """One cut dialogue to replay: its id in the results, the problem, the human tutors' answers.

    ``dialogue`` names the dialogue it was cut from (its id when it is the only cut): a report
    resamples every cut of one dialogue together.
    """

    id: str
    cut: Cut
    problem: str = ""
    humans: Mapping[str, str] = field(default_factory=dict)  # tutor -> response (MRBench)
    dialogue: str = ""

    @property
    def group(self) -> str:
        return self.dialogue or self.id


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

    @property
    def retried(self) -> bool:
        """A failed call: the next run asks again."""
        return self.error is not None and self.error.startswith(RETRIED)

    @property
    def judge_retried(self) -> bool:
        """An answer whose judge call failed (not a reply that broke the form): judged again."""
        verdict = (self.scores or {}).get("judge") or {}
        return str(verdict.get("failure", "")).startswith(RETRIED)

    @property
    def key(self) -> tuple[str, str]:
        return (self.dialogue_id, self.variant)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: Any) -> Result:
        """A line read back; a field of the wrong type is a ``ValueError`` naming it."""
        if not isinstance(raw, dict):
            raise ValueError("a line must be a JSON object")
        texts = ("dialogue_id", "variant")
        optional = ("style", "model", "response", "finish_reason", "error")
        for name in texts:
            if not isinstance(raw.get(name), str):
                raise ValueError(f"'{name}' must be a string")
        for name in optional:
            if raw.get(name) is not None and not isinstance(raw[name], str):
                raise ValueError(f"'{name}' must be a string or null")
        _check_scores(raw.get("scores"))
        unknown = sorted(set(raw) - {*texts, *optional, "scores"})
        if unknown:
            raise ValueError(f"unknown fields {unknown}")
        return cls(**raw)


def _check_scores(scores: Any) -> None:
    # {"scorer": {dimension: label}, "judge": {"labels": {...}, "attempts": n, "failure": why}}
    if scores is None:
        return
    if not isinstance(scores, dict) or not set(scores) <= {"scorer", "judge"}:
        raise ValueError("'scores' must be an object of 'scorer' and 'judge'")
    judge = scores.get("judge", {})
    if not isinstance(judge, dict):
        raise ValueError("'scores.judge' must be an object")
    for where, labels in (
        ("scorer", scores.get("scorer", {})),
        ("judge.labels", judge.get("labels", {})),
    ):
        if not (
            isinstance(labels, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())
        ):
            raise ValueError(f"'scores.{where}' must map each dimension to a label string")
    failure = judge.get("failure")
    if failure is not None and not isinstance(failure, str):
        raise ValueError("'scores.judge.failure' must be a string")


def latest(results: Sequence[Result]) -> list[Result]:
    """One result per dialogue and variant: the newest (a retried call replaces its failure)."""
    kept: dict[tuple[str, str], Result] = {}
    for result in results:
        kept.pop(result.key, None)  # the newest goes last, in the order lines were written
        kept[result.key] = result
    return list(kept.values())


class ResultsFile:
    """``results.jsonl``: what a run has done, appended one whole line at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[Result]:
        """Every line there; a last line cut by a killed run is dropped from the file."""
        if not self.path.exists():
            return []
        try:
            raw = self.path.read_bytes()
            whole = raw[: raw.rfind(b"\n") + 1]
            if len(whole) != len(raw):
                logger.warning("%s: dropping a last line a killed run left unfinished", self.path)
                with self.path.open("r+b") as f:
                    f.truncate(len(whole))
            text = whole.decode("utf-8")
        except OSError as exc:
            raise DatasetError(f"cannot read {self.path}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{self.path} is not UTF-8: not a results file") from exc
        results = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                results.append(Result.from_json(json.loads(line)))
            except (ValueError, TypeError, RecursionError) as exc:
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
    """What to run: the dialogues, the variants, and how generations are asked for.

    Repeated variants are asked once; ``max_tokens`` and ``temperature`` are checked here, before
    any call.
    """

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
        object.__setattr__(self, "variants", tuple(dict.fromkeys(self.variants)))
        check_int("max_tokens", self.max_tokens)
        check_temperature(self.temperature)
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

    def work(self) -> list[tuple[ReplayItem, str]]:
        """Every (dialogue, variant) of the plan, the human tutors' responses included."""
        todo = []
        for item in self.items:
            todo += [(item, variant) for variant in self.variants]
            todo += [(item, f"human:{tutor}") for tutor in item.humans]
        return todo


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
        """Every (dialogue, variant) the file lacks, ``concurrency`` at a time; the newest results.

        Whole answers are asked in a pool of ``concurrency`` threads (the default pool would cap
        them); streamed ones on the event loop.
        """
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
        done = latest(results.read())
        have = {r.key for r in done if not r.retried}
        work = plan.work()
        todo = [(item, variant) for item, variant in work if (item.id, variant) not in have]
        # an answer kept whose judge call failed is judged again, not asked again
        items = {(item.id, variant): item for item, variant in work}
        unjudged = (
            [(items[r.key], r) for r in done if r.key in items and r.judge_retried]
            if self.judge is not None
            else []
        )
        if progress is not None:
            progress.reset(total=len(todo) + len(unjudged))
        gate = asyncio.Semaphore(concurrency)
        written: list[Result] = []

        with ThreadPoolExecutor(concurrency, thread_name_prefix="neulora-replay") as pool:

            async def one(item: ReplayItem, variant: str) -> None:
                async with gate:
                    result = await self._answer(plan, item, variant, pool)
                if result is not None:
                    results.append(result)
                    written.append(result)
                if progress is not None:
                    progress.update(1)

            async def judged_again(item: ReplayItem, kept: Result) -> None:
                assert self.judge is not None and kept.response is not None
                async with gate:
                    verdict = await self.judge.ajudge(item.cut, kept.response)
                scores = {**(kept.scores or {}), "judge": verdict.to_dict()}
                result = replace(kept, scores=scores)
                results.append(result)
                written.append(result)
                if progress is not None:
                    progress.update(1)

            await asyncio.gather(
                *(one(item, variant) for item, variant in todo),
                *(judged_again(item, kept) for item, kept in unjudged),
            )
        return latest([*done, *written])

    async def _answer(
        self, plan: ReplayPlan, item: ReplayItem, variant: str, pool: ThreadPoolExecutor
    ) -> Result | None:
        if variant.startswith("human:"):
            tutor_name = variant.removeprefix("human:")
            text = item.humans[tutor_name]
            scores = await self._scores(item.cut, text)
            return Result(item.id, variant, None, tutor_name, text, "stop", None, scores)
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
                loop = asyncio.get_running_loop()
                answer = await loop.run_in_executor(
                    pool, lambda: tutor.ask(item.cut.learner, session, **changes)
                )
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
        scores = await self._scores(item.cut, answer.text)
        return Result(
            item.id, variant, chosen, answer.model, answer.text, answer.finish_reason, None, scores
        )

    async def _scores(self, cut: Cut, text: str) -> dict[str, Any]:
        scores: dict[str, Any] = {"scorer": self.scorer.score(cut, text).labels()}
        if self.judge is not None:
            scores["judge"] = (await self.judge.ajudge(cut, text)).to_dict()
        return scores


def replay_items(path: str | os.PathLike[str], *, every: bool = False) -> list[ReplayItem]:
    """The cuts to replay from a MathDial JSONL or an MRBench JSON file.

    MathDial dialogues are cut at the last learner turn, or at every one (``every``: ids
    ``<dialogue>#<k>``). An MRBench item is its dialogue at the learner's last turn, with its human
    tutors' responses. A dialogue id the file repeats gets ``/2``, ``/3`` in file order.
    """
    from ._load import load_mathdial, load_mrbench

    items = []
    seen: dict[str, int] = {}

    def unique(name: str) -> str:
        seen[name] = seen.get(name, 0) + 1
        return name if seen[name] == 1 else f"{name}/{seen[name]}"

    if str(path).endswith(".jsonl"):
        for dialogue in load_mathdial(path):
            name = unique(dialogue.id)
            for k, cut in enumerate(dialogue.cuts(every=every)):
                key = f"{name}#{k}" if every else name
                items.append(ReplayItem(key, cut, dialogue.question, dialogue=name))
    elif every:
        raise ConfigError("--turns all needs MathDial dialogues: MRBench has one cut each")
    else:
        for labelled in load_mrbench(path):
            humans = {r.tutor: r.text for r in labelled.responses if r.tutor in HUMAN_TUTORS}
            items.append(ReplayItem(unique(labelled.dialogue.id), labelled.cut, humans=humans))
    if not items:
        raise DatasetError(f"{path}: no dialogues to replay")
    return items
