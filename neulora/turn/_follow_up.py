"""Follow-up questions: search with the turn they lean on, without an extra LLM call.

"그럼 두 번째 단계는요?" or "and for the second one?" names nothing to search for; the original
app asked the model to rewrite such questions first. :class:`FollowUp` decides cheaply instead: a
short question that holds a word leaning on the previous turn (그럼, 그거, 두 번째, 왜요, it, that,
the second, why, example...) is searched together with the learner's previous question(s); any
other question is searched alone.

Measured with ``bench/bench_relevance.py`` (``k=4``, no relevance rule) on 16 labelled follow-ups (a
learner question, then "그럼 두 번째 단계는요?", "왜요?", "example please", "and for the
geometric one?"...) and 10 topic switches (a second question on another topic; 4 of them start with
a marker, as "그럼 적분은 어떻게 계산해요?")::

                                 follow-ups: hit@1  hit@3  MRR     switches: hit@1  hit@3  MRR
    hashing / question alone                 0.250  0.562  0.385             0.800  1.000  0.900
    hashing / FollowUp()                     0.625  0.812  0.740             0.500  0.900  0.683
    hashing / always prepend                 0.625  0.812  0.740             0.400  0.800  0.567
    USE / question alone                     0.250  0.438  0.391             0.900  0.900  0.900
    USE / FollowUp()                         0.812  0.938  0.891             0.600  0.800  0.708
    USE / always prepend                     0.812  0.938  0.891             0.300  0.700  0.492

None of the 106 stand-alone questions of the relevance set is taken for a follow-up. The cost is the
short topic switch that starts with a marker: it is searched with the previous turn too, which still
finds its topic in the top 3 most of the time but not first.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from .._checks import check_int
from ..errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_MARKERS: tuple[str, ...] = (
    # Korean: matched at the start of a word, so particles may follow
    # (그건, 거기서, 다음은, 예시로).
    "그럼",
    "그러면",
    "그거",
    "그건",
    "그게",
    "그걸",
    "그것",
    "그다음",
    "그래서",
    "이거",
    "이건",
    "이게",
    "이걸",
    "이것",
    "저거",
    "거기",
    "여기서",
    "다음",
    "두 번째",
    "세 번째",
    "마지막",
    "왜요",
    "왜죠",
    "왜?",
    "왜 그",
    "어째서",
    "예시",
    "예를",
    "예제",
    "자세히",
    "다시",
    "더 쉽게",
    # English: whole words, any case.
    "it",
    "its",
    "that",
    "this",
    "those",
    "these",
    "the second",
    "the third",
    "second",
    "next",
    "then",
    "why",
    "example",
    "examples",
    "what about",
    "how about",
    "and for",
    "and the",
    "same",
    "again",
    "more",
)


_MAX_CHAIN = 4  # earlier follow-ups walked back through to reach the question they lean on


@dataclass(frozen=True, slots=True)
class FollowUp:
    r"""Builds the retrieval query of a turn.

    The question alone, or with the previous learner turn(s).

    ``max_chars``: only questions this short can be follow-ups (longer ones name their own topic).
    ``markers``: words that lean on the previous turn. ``turns``: how many earlier stand-alone
    learner questions are prepended (earlier follow-ups are walked through to reach them).

    >>> rule = FollowUp()
    >>> rule.is_follow_up("그럼 두 번째 단계는요?")
    True
    >>> rule.is_follow_up("등비수열의 합은 어떻게 구해요?")
    False
    >>> rule.query("그럼 두 번째 단계는요?", ["등비수열의 합 공식 알려주세요"])
    '등비수열의 합 공식 알려주세요\n그럼 두 번째 단계는요?'
    >>> rule.query("What is the chain rule?", ["What is a logarithm?"])
    'What is the chain rule?'
    """

    max_chars: int = 40
    markers: tuple[str, ...] = DEFAULT_MARKERS
    turns: int = 1

    def __post_init__(self) -> None:
        check_int("max_chars", self.max_chars)
        check_int("turns", self.turns)
        if isinstance(self.markers, str) or not all(
            isinstance(m, str) and m.strip() for m in self.markers
        ):
            raise ConfigError(f"markers must be a tuple of non-empty strings, got {self.markers!r}")
        object.__setattr__(self, "markers", tuple(self.markers))

    def is_follow_up(self, question: str) -> bool:
        """Whether ``question`` leans on the previous turn.

        Short, and holding one of the markers.
        """
        text = _fold(question)
        return 0 < len(text) <= self.max_chars and _pattern(self.markers).search(text) is not None

    def query(self, question: str, previous: Sequence[str]) -> str:
        """What to search with: ``question`` alone, or the learner's previous turn(s) then it.

        ``previous`` holds the learner's earlier questions, oldest first.
        """
        if not self.is_follow_up(question):
            return question
        lead: list[str] = []
        standalone = 0
        followups = 0
        for earlier in reversed(previous):
            if not earlier.strip():
                continue
            lead.insert(0, earlier)
            if self.is_follow_up(earlier):
                followups += 1
                if followups > _MAX_CHAIN:
                    break
                continue
            standalone += 1
            if standalone == self.turns:
                break
        if not lead:
            return question
        logger.debug("follow-up: searching with %d earlier turn(s)", len(lead))
        return "\n".join([*lead, question])


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


@functools.lru_cache(maxsize=16)
def _pattern(markers: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for all markers: Latin ones as whole words, others at the start of a word."""
    parts = []
    for marker in markers:
        body = r"\s*".join(re.escape(word) for word in _fold(marker).split())
        if marker.isascii():
            parts.append(rf"\b{body}\b")
        else:
            parts.append(rf"(?<![^\W\d_]){body}")
    return re.compile("|".join(parts))
