"""What the pedagogy scorer reads in a response: its words, and cues from the dialogue it answers.

Two feature blocks are computed here, in plain numpy, the same way when a scorer is trained and
when it scores (the sentence vector, the third block, comes from an embedder):

- :class:`WordVocabulary`: tf-idf of the response's words and word pairs over a vocabulary fixed
  at training time (sublinear counts, smoothed idf, unit rows);
- :func:`cue_features`: what the form of the response and the numbers of the dialogue say. Does
  the response state a number the dialogue has not said (the result given away)? Does it repeat
  the learner's number, or the solution's final one? Is it a question, a command, praise? Each cue
  was kept because it raised cross-validated macro-F1 on MRBench (see ``bench/scorer.md``).

>>> vocabulary = WordVocabulary.fit(["Try again", "try it", "What is 3 x 4?"], min_df=2)
>>> vocabulary.terms
('try',)
>>> vocabulary.transform(["Try, try!"]).round(3).tolist()
[[1.0]]
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ._records import Cut

_WORD = re.compile(r"(?u)\b\w\w+\b")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
# a verb that states a value, then the number it states ("equals 12", "should be 8", "= 20")
_STATED = re.compile(
    r"(?:=|equals?|is|are|be|gets?|gives?|makes?|was|of)\s+(?:actually\s+|just\s+|only\s+)?"
    r"\$?(-?\d[\d,]*(?:\.\d+)?)"
)
_PRAISE = re.compile(
    r"^\W*(great|good|excellent|well done|nice|perfect|awesome|correct"
    r"|that's (right|correct|great))"
)
_WRONG = re.compile(r"\b(incorrect|not (quite )?(right|correct)|mistake|error|wrong|oops)\b")
_COMMAND = re.compile(
    r"^\W*(try|think|check|look|calculate|recalculate|consider|remember|now|so|first|next)\b"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_HEDGE = re.compile(
    r"\b(might|maybe|perhaps|seems?|seemed|looks like|i think|possibly|a bit|slightly|small"
    r"|little)\b"
)
_REVEAL_PHRASE = re.compile(
    r"\b(the (correct |right |final )?answer is|should be|should have been|would be"
    r"|the correct|is equal to|which gives|so the total|that gives)\b"
)
# words that say nothing of what a turn is about, left out of the overlap cues
_STOP = frozenset(
    (  # noqa: SIM905 - a word list reads best as text
        "the a an and or but so to of in on at for is are was were be been it its this "
        "that these those you your i me my we our us he she they them his her their what "
        "how why which who can could would should will do does did have has had not no "
        "yes if then than as with by from up out about just there here all any some more "
        "much very also too into one let lets let's "
    ).split()
)

# the cues in the order of the vector cue_features returns (model files record them by name)
CUES: tuple[str, ...] = (
    "log_words",
    "sentences",
    "question_marks",
    "ends_with_question",
    "opens_with_question",
    "numbers",
    "new_numbers",
    "any_new_number",
    "stated_numbers",
    "stated_new_numbers",
    "equals_signs",
    "has_final_number",
    "knows_final_number",
    "repeats_learner_number",
    "not_a_number",
    "instead_of",
    "opens_with_praise",
    "says_correct",
    "says_wrong",
    "actually",
    "remember",
    "lets",
    "you",
    "opens_with_command",
    "can_you",
    "wh_word",
    "asks_to_explain",
    "generic_practice",
    "learner_turns",
    "log_learner_words",
    # how the response relates to the learner's turn, and whether it states the result
    "overlap_learner",
    "overlap_response",
    "quotes_learner_3gram",
    "reveal_phrase",
    "solution_numbers_new",
    "final_new_in_response",
    "learner_final_is_final",
    "learner_numbers_in_response",
    "learner_new_numbers",
    "quotes_learner_new_number",
    "response_new_vs_learner",
    "hedge",
)


def numbers(text: str) -> list[float]:
    """The numbers written in ``text`` (thousands commas dropped).

    >>> numbers("3 x 4 = 12, not 1,200.5")
    [3.0, 4.0, 12.0, 1200.5]
    """
    found = []
    for raw in _NUMBER.findall(text):
        try:
            found.append(float(raw.replace(",", "")))
        except ValueError:  # "1,,2" and the like: not a number
            continue
    return found


@dataclass(frozen=True, slots=True)
class DialogueCues:
    """What the cues need from the dialogue: read once per dialogue, not once per response."""

    said: frozenset[float]  # every number said so far, the learner's turn included
    earlier: frozenset[float]  # numbers said before the learner's turn
    learner_numbers: tuple[float, ...]
    final: tuple[float, ...]  # the worked solution's numbers, its answer last
    learner_words: frozenset[str]
    learner_trigrams: frozenset[tuple[str, ...]]
    learner_turns: int
    learner_length: int

    @classmethod
    def of(cls, context: Cut) -> DialogueCues:
        # a number never spans the line between two turns: the history is read once
        earlier = frozenset(numbers("\n".join(t.text for t in context.history)))
        learner_numbers = tuple(numbers(context.learner))
        return cls(
            said=earlier.union(learner_numbers),
            earlier=earlier,
            learner_numbers=learner_numbers,
            final=tuple(numbers(context.solution)),
            learner_words=frozenset(_content_words(context.learner)),
            learner_trigrams=frozenset(_trigrams(context.learner)),
            learner_turns=1 + sum(t.role == "learner" for t in context.history),
            learner_length=len(context.learner.split()),
        )


def cue_features(
    context: Cut, response: str, dialogue: DialogueCues | None = None
) -> NDArray[np.float64]:
    """The :data:`CUES` of ``response`` answering ``context``, as a vector.

    ``dialogue``: :meth:`DialogueCues.of` the context, when the caller scores several responses to
    one dialogue.
    """
    d = dialogue if dialogue is not None else DialogueCues.of(context)
    lower = response.lower()
    said = d.said
    in_response = numbers(response)
    found = set(in_response)
    new = [x for x in in_response if x not in said]
    stated = [float(x.replace(",", "")) for x in _STATED.findall(lower) if _is_number(x)]
    learner_numbers = d.learner_numbers
    final = d.final
    sentences = [s for s in _SENTENCE_END.split(response.strip()) if s]
    learner_turns = d.learner_turns
    earlier = d.earlier
    learner_set = set(learner_numbers)
    solution = set(final)
    learner_words = d.learner_words
    response_words = _content_words(response)
    # a phrase that states a result, in a sentence that is not a question
    reveals = any(
        _REVEAL_PHRASE.search(sentence.lower()) is not None
        for sentence in sentences
        if not sentence.rstrip().endswith("?")
    )
    values = (
        math.log1p(len(response.split())),
        len(sentences),
        response.count("?"),
        response.strip().endswith("?"),
        bool(sentences) and sentences[0].endswith("?"),
        len(in_response),
        len(new),
        bool(new),
        len(stated),
        sum(x not in said for x in stated),
        response.count("="),
        bool(final) and final[-1] in found,
        bool(final),
        bool(learner_numbers) and learner_numbers[-1] in found,
        re.search(r"\bnot\s+\$?\d", lower) is not None,
        re.search(r"instead of|rather than", lower) is not None,
        _PRAISE.match(lower) is not None,
        re.search(r"\b(correct|right)\b", lower) is not None,
        _WRONG.search(lower) is not None,
        "actually" in lower,
        re.search(r"\bremember\b", lower) is not None,
        re.search(r"\blet'?s\b", lower) is not None,
        len(re.findall(r"\byou\b", lower)),
        _COMMAND.match(lower) is not None,
        re.search(r"\b(can|could) you\b", lower) is not None,
        re.search(r"\b(how|what|why|which)\b", lower) is not None,
        re.search(r"\b(explain|tell me|walk me|show me)\b", lower) is not None,
        re.search(r"\b(keep (practicing|up)|practice|more examples|similar problems)\b", lower)
        is not None,
        learner_turns,
        math.log1p(d.learner_length),
        len(learner_words & response_words) / max(1, len(learner_words)),
        len(response_words & learner_words) / max(1, len(response_words)),
        bool(d.learner_trigrams & _trigrams(response)),
        reveals,
        sum(x in solution and x not in said for x in found),
        bool(final) and final[-1] in found and final[-1] not in said,
        bool(final) and bool(learner_numbers) and learner_numbers[-1] == final[-1],
        sum(x in found for x in learner_set),
        sum(x not in earlier for x in learner_numbers),
        any(x in found for x in learner_numbers if x not in earlier),
        sum(x not in learner_set for x in found),
        _HEDGE.search(lower) is not None,
    )
    return np.asarray(values, dtype=np.float64)


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and not w.isdigit()}


def _trigrams(text: str) -> set[tuple[str, ...]]:
    tokens = _WORD.findall(text.lower())
    return {tuple(tokens[i : i + 3]) for i in range(len(tokens) - 2)}


def _is_number(raw: str) -> bool:
    return raw.replace(",", "").replace(".", "", 1).lstrip("-").isdigit()


def words(text: str) -> list[str]:
    """The response's terms: lower-cased words of two letters or more, and adjacent pairs.

    >>> words("Try it again")
    ['try', 'it', 'again', 'try it', 'it again']
    """
    tokens = _WORD.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


@dataclass(frozen=True, slots=True)
class WordVocabulary:
    """Terms and their inverse document frequencies, fixed when the scorer was trained."""

    terms: tuple[str, ...]
    idf: tuple[float, ...]
    _index: Mapping[str, int] = field(init=False, repr=False, compare=False)
    _weights: NDArray[np.float64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.terms) != len(self.idf):
            raise ValueError(f"{len(self.terms)} terms but {len(self.idf)} idf weights")
        object.__setattr__(self, "_index", {term: i for i, term in enumerate(self.terms)})
        # made once: converting thousands of weights costs more than a response's whole row
        object.__setattr__(self, "_weights", np.asarray(self.idf, dtype=np.float64))

    def __repr__(self) -> str:
        return f"WordVocabulary({len(self.terms)} terms)"

    @classmethod
    def fit(cls, texts: Iterable[str], *, min_df: int = 2) -> WordVocabulary:
        """The terms found in at least ``min_df`` of ``texts``, with smoothed idf weights."""
        documents = 0
        frequency: Counter[str] = Counter()
        for text in texts:
            documents += 1
            frequency.update(set(words(text)))
        terms = sorted(t for t, df in frequency.items() if df >= min_df)
        idf = [math.log((1 + documents) / (1 + frequency[t])) + 1.0 for t in terms]
        return cls(tuple(terms), tuple(idf))

    def transform(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """An ``(len(texts), len(terms))`` array of unit tf-idf rows (zeros: no known term)."""
        index = self._index
        idf = self._weights
        out = np.zeros((len(texts), len(self.terms)), dtype=np.float64)
        for row, text in enumerate(texts):
            counts = Counter(t for t in words(text) if t in index)
            for term, count in counts.items():
                column = index[term]
                out[row, column] = (1.0 + math.log(count)) * idf[column]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)
