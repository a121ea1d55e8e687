"""LLM judges: an OpenAI-compatible chat model labels tutor responses on MRBench's dimensions.

The judge is given the taxonomy's definitions and must answer one JSON object mapping each
dimension asked to one of MRBench's label strings. A reply that is anything else is asked once
more; a second bad reply (or a failed call) is a :class:`Verdict` with a ``failure``: counted by
whoever reads it, never guessed. A judge counts only after :func:`check_judge` has measured its
agreement with human labels.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .. import _flow
from ..errors import ConfigError, NeuloraError
from ._agreement import AgreementReport, agreement
from ._records import LABELS

if TYPE_CHECKING:
    from ._records import Cut, LabelledDialogue


class ChatClient(Protocol):
    """What a judge calls: a style client with a target named ``judge``.

    :class:`neulora.llm.HFStyleClient` is one (``HFStyleClient({"judge": MODEL},
    base_url=URL, fallback=None)``: a judge never falls back to another model).
    """

    @property
    def models(self) -> Mapping[str, str]: ...

    def answer_flow(
        self, style: str, messages: Sequence[Mapping[str, str]], **options: Any
    ) -> _flow.Flow[Any]: ...

    async def aclose(self) -> None: ...


logger = logging.getLogger(__name__)

# MRBench's taxonomy (Maurya et al., 2025), one question per dimension
DEFINITIONS: Mapping[str, str] = {
    "Mistake_Identification": "Has the tutor identified a mistake in the student's last response?",
    "Mistake_Location": (
        "Does the tutor's response point to a genuine mistake and where it is in the student's "
        "work?"
    ),
    "Revealing_of_the_Answer": (
        "Does the tutor reveal the final answer to the problem, and is the revealed answer correct?"
    ),
    "Providing_Guidance": (
        "Does the tutor offer correct and relevant guidance: an explanation, elaboration, hint or "
        "example?"
    ),
    "Actionability": "Is it clear from the tutor's response what the student should do next?",
    "Coherence": "Is the tutor's response logically consistent with the student's last turn?",
    "Tutor_Tone": "Is the tutor's tone encouraging, neutral or offensive?",
    "humanlikeness": "Does the tutor's response sound natural, as a human tutor would say it?",
}
JUDGED: tuple[str, ...] = (
    "Mistake_Identification",
    "Mistake_Location",
    "Revealing_of_the_Answer",
    "Providing_Guidance",
    "Actionability",
)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A judge's labels for one response, or why it gave none (``failure``)."""

    labels: Mapping[str, str] = field(default_factory=dict)
    failure: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"labels": dict(self.labels), "attempts": self.attempts}
        return out | ({"failure": self.failure} if self.failure else {})


class LLMJudge:
    """Labels responses with a chat model behind ``client`` (its one target, named ``judge``).

    ``dimensions``: what it is asked, MRBench's names. The client's retries and deadline apply to
    each call; a reply that breaks the format is asked again once.
    """

    def __init__(
        self,
        client: ChatClient,
        *,
        dimensions: Sequence[str] = JUDGED,
        max_tokens: int = 200,
    ) -> None:
        unknown = [d for d in dimensions if d not in LABELS]
        if unknown or not dimensions:
            raise ConfigError(f"dimensions must be MRBench's ({list(LABELS)}), got {unknown}")
        if "judge" not in client.models:
            raise ConfigError("the judge's client needs a target named 'judge'")
        self.client = client
        self.dimensions = tuple(dimensions)
        self.max_tokens = max_tokens

    @property
    def model(self) -> str:
        return self.client.models["judge"]

    def __repr__(self) -> str:
        return f"LLMJudge(model={self.model!r}, dimensions={list(self.dimensions)})"

    def judge(self, context: Cut, response: str) -> Verdict:
        return _flow.run(self._verdict(context, response))

    async def ajudge(self, context: Cut, response: str) -> Verdict:
        return await _flow.arun(self._verdict(context, response))

    def messages(self, context: Cut, response: str) -> list[dict[str, str]]:
        """What the judge is sent: the taxonomy, the dialogue, the response, the answer's form."""
        asked = "\n".join(
            f'- "{d}": {DEFINITIONS[d]} Labels: ' + ", ".join(f'"{x}"' for x in LABELS[d])
            for d in self.dimensions
        )
        roles = {"tutor": "Tutor", "learner": "Student"}
        dialogue = "\n".join(f"{roles[t.role]}: {t.text}" for t in context.history)
        dialogue += f"\nStudent: {context.learner}"
        return [
            {
                "role": "system",
                "content": (
                    "You evaluate the pedagogical ability of a math tutor's response to a "
                    "student, as MRBench's annotators do. Answer with one JSON object only."
                ),
            },
            {
                "role": "user",
                "content": (
                    f"Dialogue so far:\n{dialogue}\n\nTutor's response to evaluate:\n{response}\n\n"
                    f"Label the response on each dimension:\n{asked}\n\n"
                    "Answer with one JSON object mapping each dimension name to one label string, "
                    "exactly as written above, and nothing else."
                ),
            },
        ]

    def parse(self, reply: str) -> dict[str, str] | None:
        """The labels in ``reply``, or None when it is not one JSON object with every dimension."""
        text = reply.strip()
        fenced = _FENCE.match(text)
        if fenced is not None:
            text = fenced.group(1)
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):  # nested past the parser's depth: not an answer
            return None
        if not isinstance(value, dict):
            return None
        labels = {}
        for dimension in self.dimensions:
            label = value.get(dimension)
            if label not in LABELS[dimension]:
                return None
            labels[dimension] = str(label)
        return labels

    def _verdict(self, context: Cut, response: str) -> _flow.Flow[Verdict]:
        messages = self.messages(context, response)
        last = ""
        for attempt in (1, 2):
            try:
                generation = yield from self.client.answer_flow(
                    "judge", messages, max_tokens=self.max_tokens, temperature=0.0
                )
            except NeuloraError as exc:
                return Verdict(failure=self._redact(f"call failed: {exc}"), attempts=attempt)
            labels = self.parse(generation.text)
            if labels is not None:
                return Verdict(labels, attempts=attempt)
            last = generation.text
            messages = [
                *messages,
                {"role": "assistant", "content": generation.text},
                {
                    "role": "user",
                    "content": "That is not the JSON object asked for. Answer with only the JSON "
                    "object, every dimension mapped to one of its label strings.",
                },
            ]
        logger.info("judge reply not in the asked format, twice: %.120r", self._redact(last))
        failure = f"reply not in the asked format: {last[:200]!r}"
        return Verdict(failure=self._redact(failure), attempts=2)

    def _redact(self, text: str) -> str:
        # a reply may echo what it was sent: the token never reaches a verdict
        auth = getattr(self.client, "auth", None)
        return str(auth.redact(text)) if auth is not None else text


async def check_judge(
    judge: LLMJudge,
    dialogues: Sequence[LabelledDialogue],
    *,
    limit: int | None = None,
    concurrency: int = 4,
    progress: Any = None,
) -> AgreementReport:
    """The judge's agreement with the human labels, per dimension (failures counted, not scored).

    ``limit`` bounds how many responses are judged (the first ones, in file order).
    """
    items = [(d.cut, r) for d in dialogues for r in d.responses]
    items = items[:limit] if limit is not None else items
    gate = asyncio.Semaphore(concurrency)

    async def one(context: Cut, response: str) -> Verdict:
        async with gate:
            verdict = await judge.ajudge(context, response)
        if progress is not None:
            progress.update(1)
        return verdict

    verdicts = await asyncio.gather(*(one(cut, r.text) for cut, r in items))
    report = {}
    for dimension in judge.dimensions:
        truth = []
        given: list[str | None] = []
        for (_, response), verdict in zip(items, verdicts, strict=True):
            human = response.labels.get(dimension)
            if human is None:
                continue
            truth.append(human)
            given.append(verdict.labels.get(dimension) if verdict.ok else None)
        report[dimension] = agreement(truth, given)
    await judge.client.aclose()
    return AgreementReport(report)
