"""The pedagogy scorer: MRBench's labels for a tutor response, offline, on a CPU.

For a dialogue cut at the learner's turn and a tutor response, :class:`PedagogyScorer` gives each
dimension's label and class probabilities: ``Mistake_Identification``, ``Mistake_Location``,
``Providing_Guidance``, ``Actionability``, ``Revealing_of_the_Answer`` (MRBench's names and label
strings) and ``reveals_answer`` (does the response give the answer away: ``Yes``/``No``). The
label is the most probable one; the file's threshold on ``reveals_answer`` is what the answer
checks flag at (chosen in training for its precision), another question than the likelier label.

Each dimension is one linear map and a softmax (a logistic regression, or its mix with Naive-Bayes
one-vs-rest heads folded in: :mod:`._train`) over three blocks: the response's sentence vector
(the multilingual Universal Sentence Encoder), its word tf-idf and the cues of :mod:`._features`.
Some heads also mix in a few shallow boosted trees over the cues (:mod:`._trees`).
The weights live in a JSON file; one trained on MRBench ships with neulora
(``neulora/data/scorer.json``, CC BY-SA 4.0, attribution inside) and :meth:`PedagogyScorer.load`
reads it with no download. ``neulora eval scorer-train`` makes another.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import is_int
from ..embedders._build import embedder_from_spec
from ..embedders._spec import EmbedderSpec, spec_of
from ..errors import ConfigError, ScorerFileError
from ._features import CUES, DialogueCues, WordVocabulary, cue_features
from ._records import LABELS
from ._trees import TreeEnsemble

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..embedders._base import Embedder
    from ._records import Cut

logger = logging.getLogger(__name__)

FORMAT = "neulora-pedagogy-scorer"
MAX_SCORER_FILE = 64 << 20
REVEALS = "reveals_answer"  # the two-way question: does the response give the answer away?
_KEYS = (
    "format",
    "version",
    "embedder",
    "vocabulary",
    "cues",
    "dimensions",
    "thresholds",
    "encoder_window",
)
MIN_WINDOW = 20


@dataclass(frozen=True, slots=True)
class LabelScore:
    """One dimension's label for a response, and every label's probability."""

    label: str
    probabilities: Mapping[str, float]

    @property
    def p(self) -> float:
        """The chosen label's probability."""
        return self.probabilities[self.label]

    def __repr__(self) -> str:
        return f"LabelScore({self.label!r}, p={self.p:.2f})"

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "p": self.p, "probabilities": dict(self.probabilities)}


@dataclass(frozen=True, slots=True)
class PedagogyScores:
    """Every dimension's :class:`LabelScore` for one response."""

    dimensions: Mapping[str, LabelScore]

    def __getitem__(self, dimension: str) -> LabelScore:
        return self.dimensions[dimension]

    def __repr__(self) -> str:
        inner = ", ".join(f"{d}={s.label!r}" for d, s in self.dimensions.items())
        return f"PedagogyScores({inner})"

    def labels(self) -> dict[str, str]:
        """Each dimension's label."""
        return {d: s.label for d, s in self.dimensions.items()}

    def to_dict(self) -> dict[str, Any]:
        return {d: s.to_dict() for d, s in self.dimensions.items()}


@dataclass(frozen=True, slots=True)
class Head:
    """One dimension's head: a weight row and a bias per label, boosted trees, then a softmax.

    Without trees the head is linear; with them its logits are the linear ones and the trees'
    mixed by the trees' ``share``.
    """

    labels: tuple[str, ...]
    weights: NDArray[np.float32] = field(repr=False)  # (len(labels), features)
    bias: NDArray[np.float32] = field(repr=False)
    trees: TreeEnsemble | None = field(default=None, repr=False)

    def probabilities(self, features: NDArray[np.float32]) -> NDArray[np.float64]:
        logits = features.astype(np.float64) @ self.weights.T.astype(np.float64) + self.bias
        if self.trees is not None:
            logits = (1.0 - self.trees.share) * logits + self.trees.share * self.trees.logits(
                features
            )
        logits -= logits.max(axis=1, keepdims=True)
        exp: NDArray[np.float64] = np.exp(logits)
        total: NDArray[np.float64] = exp.sum(axis=1, keepdims=True)
        return np.divide(exp, total)


@dataclass(frozen=True, slots=True)
class Threshold:
    """A decision threshold on one label's probability, and how it did where it was chosen.

    ``precision`` and ``recall`` of "p >= ``p``" on the out-of-fold probabilities of the training
    data (dialogues each fold never saw), ``n`` labelled responses.
    """

    label: str
    p: float
    precision: float
    recall: float
    n: int

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "p": self.p,
            "precision": self.precision,
            "recall": self.recall,
            "n": self.n,
        }

    @classmethod
    def from_json(cls, raw: Any, where: str) -> Threshold:
        try:
            threshold = cls(
                str(raw["label"]),
                float(raw["p"]),
                float(raw["precision"]),
                float(raw["recall"]),
                int(raw["n"]),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ScorerFileError(f"{where}: malformed threshold ({exc!r})") from exc
        numbers = (threshold.p, threshold.precision, threshold.recall)
        if not all(0.0 <= x <= 1.0 for x in numbers) or threshold.n < 1:
            raise ScorerFileError(
                f"{where}: a threshold's p, precision and recall lie in [0, 1] and n >= 1, got "
                f"{raw!r}"
            )
        return threshold


@dataclass(frozen=True, slots=True)
class ScorerModel:
    """What a scorer file holds: how to make the features, and one :class:`Head` per dimension."""

    embedder: EmbedderSpec
    vocabulary: WordVocabulary
    cue_mean: NDArray[np.float64] = field(repr=False)
    cue_scale: NDArray[np.float64] = field(repr=False)
    heads: Mapping[str, Head]
    about: Mapping[str, Any] = field(default_factory=dict)  # provenance, licence, cross-validation
    # per dimension, the threshold a flag on one of its labels uses (the answer checks flag an
    # answer as revealing from it); the label :meth:`PedagogyScorer.score` gives is always the
    # most probable one, as in cross-validation and ``scorer-check``
    thresholds: Mapping[str, Threshold] = field(default_factory=dict)
    # the sentence encoder reads at most this many characters of a response (its first and last
    # halves; None: all of it): its cost grows with the length, the word and cue blocks' barely
    window: int | None = None

    @property
    def size(self) -> int:
        """How many features each head reads."""
        return (self.embedder.dim or 0) + len(self.vocabulary.terms) + len(CUES)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": 1,
            **self.about,
            "thresholds": {name: t.to_json() for name, t in self.thresholds.items()},
            "encoder_window": self.window,
            "embedder": self.embedder.to_json(),
            "vocabulary": {
                "terms": list(self.vocabulary.terms),
                "idf": _rounded(self.vocabulary.idf),
            },
            "cues": {
                "names": list(CUES),
                "mean": _rounded(self.cue_mean),
                "scale": _rounded(self.cue_scale),
            },
            "dimensions": {
                name: {
                    "labels": list(head.labels),
                    "weights": [_rounded(row) for row in head.weights],
                    "bias": _rounded(head.bias),
                    **({} if head.trees is None else {"trees": head.trees.to_json()}),
                }
                for name, head in self.heads.items()
            },
        }

    @classmethod
    def from_json(cls, raw: Any, where: str) -> ScorerModel:
        """Read a scorer file's JSON; every inconsistency is a :class:`ScorerFileError`."""
        if not isinstance(raw, Mapping) or raw.get("format") != FORMAT:
            raise ScorerFileError(f"{where}: not a neulora pedagogy scorer (format {FORMAT!r})")
        if raw.get("version") != 1:
            raise ScorerFileError(f"{where}: scorer format version {raw.get('version')!r} unknown")
        try:
            embedder = EmbedderSpec.from_json(raw["embedder"])
            vocabulary = WordVocabulary(
                tuple(str(t) for t in raw["vocabulary"]["terms"]),
                tuple(float(x) for x in raw["vocabulary"]["idf"]),
            )
            if not isinstance(raw["dimensions"], Mapping) or not isinstance(raw["cues"], Mapping):
                raise TypeError("'dimensions' and 'cues' must be objects")
            cues = raw["cues"]
            if list(cues["names"]) != list(CUES):
                raise ScorerFileError(
                    f"{where}: made with other cues than this neulora computes: train it again "
                    "with neulora eval scorer-train"
                )
            mean = np.asarray(cues["mean"], dtype=np.float64)
            scale = np.asarray(cues["scale"], dtype=np.float64)
            thresholds_raw = raw.get("thresholds", {})
            if not isinstance(thresholds_raw, Mapping):
                raise TypeError("'thresholds' must be an object")
            thresholds = {
                str(name): Threshold.from_json(value, f"{where}, threshold of {name!r}")
                for name, value in thresholds_raw.items()
            }
            size = (embedder.dim or 0) + len(vocabulary.terms) + len(CUES)
            heads = {
                str(name): Head(
                    tuple(str(label) for label in head["labels"]),
                    np.asarray(head["weights"], dtype=np.float32),
                    np.asarray(head["bias"], dtype=np.float32),
                    None
                    if head.get("trees") is None
                    else TreeEnsemble.from_json(
                        head["trees"],
                        labels=len(head["labels"]),
                        columns=size,
                        sentence=embedder.dim or 0,
                        where=f"{where}, trees of {name!r}",
                    ),
                )
                for name, head in raw["dimensions"].items()
            }
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ScorerFileError):
                raise
            raise ScorerFileError(f"{where}: malformed scorer file ({exc!r})") from exc
        about = {k: v for k, v in raw.items() if k not in _KEYS}
        window = raw.get("encoder_window")
        if window is not None and not (is_int(window) and window >= MIN_WINDOW):
            raise ScorerFileError(
                f"{where}: encoder_window must be null or an int >= {MIN_WINDOW}, got {window!r}"
            )
        model = cls(embedder, vocabulary, mean, scale, heads, about, thresholds, window)
        model._check(where)
        return model

    def _check_features(self, where: str) -> None:
        if not all(math.isfinite(x) and x > 0 for x in self.vocabulary.idf):
            raise ScorerFileError(f"{where}: idf weights must be finite and positive")
        if self.cue_mean.shape != (len(CUES),) or self.cue_scale.shape != (len(CUES),):
            raise ScorerFileError(f"{where}: cue mean and scale need {len(CUES)} values each")
        if not (np.all(np.isfinite(self.cue_mean)) and np.all(np.isfinite(self.cue_scale))):
            raise ScorerFileError(f"{where}: cue means and scales must be finite")
        if not np.all(self.cue_scale > 0):
            raise ScorerFileError(f"{where}: cue scales must be positive")

    def _check(self, where: str) -> None:
        if not self.heads:
            raise ScorerFileError(f"{where}: the scorer has no dimensions")
        self._check_features(where)
        for name, head in self.heads.items():
            allowed = ("Yes", "No") if name == REVEALS else LABELS.get(name)
            if allowed is None:
                raise ScorerFileError(f"{where}: unknown dimension {name!r}")
            if len(set(head.labels)) != len(head.labels) or not set(head.labels) <= set(allowed):
                raise ScorerFileError(
                    f"{where}: dimension {name!r} has labels {list(head.labels)}: expected "
                    f"distinct ones of {list(allowed)}"
                )
            k = len(head.labels)
            if k < 2 or head.weights.shape != (k, self.size) or head.bias.shape != (k,):
                raise ScorerFileError(
                    f"{where}: dimension {name!r} needs {k} >= 2 labels, weights of shape "
                    f"{(k, self.size)} and {k} biases; got {head.weights.shape} and "
                    f"{head.bias.shape}"
                )
            if not (np.all(np.isfinite(head.weights)) and np.all(np.isfinite(head.bias))):
                raise ScorerFileError(f"{where}: dimension {name!r} has non-finite weights")
        for name, threshold in self.thresholds.items():
            # the one decision a threshold makes: does the response give the answer away
            if name != REVEALS or threshold.label != "Yes" or name not in self.heads:
                raise ScorerFileError(
                    f"{where}: a threshold on {name!r} label {threshold.label!r}: only "
                    f"{REVEALS!r} 'Yes' takes one, and the scorer must give it"
                )


class PedagogyScorer:
    """Scores tutor responses on MRBench's dimensions (see the module docstring).

    >>> scorer = PedagogyScorer.load()  # doctest: +SKIP
    >>> scores = scorer.score(cut, "What do you get when you add 3 and 4?")  # doctest: +SKIP
    >>> scores["reveals_answer"]  # doctest: +SKIP
    LabelScore('No', p=0.93)
    """

    def __init__(self, model: ScorerModel, embedder: Embedder) -> None:
        if embedder.dim != model.embedder.dim:
            raise ConfigError(
                f"the scorer was trained on {model.embedder.dim}-d vectors "
                f"({model.embedder.name}); the embedder gives {embedder.dim}"
            )
        self.model = model
        self.embedder = embedder

    def __repr__(self) -> str:
        return f"PedagogyScorer({list(self.model.heads)}, embedder={self.embedder.name!r})"

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(self.model.heads)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None = None, *, embedder: Embedder | None = None
    ) -> PedagogyScorer:
        """The scorer in ``path``, or the one shipped with neulora; its embedder is built lazily."""
        if path is None:
            text = (resources.files("neulora") / "data" / "scorer.json").read_text("utf-8")
            where = "the shipped scorer"
        else:
            where = str(path)
            text = _read(Path(path))
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise ScorerFileError(f"{where}: not JSON ({exc})") from exc
        model = ScorerModel.from_json(raw, where)
        if embedder is None:
            embedder = embedder_from_spec(model.embedder.to_json())
        elif spec_of(embedder).name != model.embedder.name:
            raise ConfigError(
                f"{where} was trained with {model.embedder.name} vectors, "
                f"not {spec_of(embedder).name}"
            )
        return cls(model, embedder)

    def save(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(json.dumps(self.model.to_json()) + "\n", encoding="utf-8")

    def features(self, pairs: Sequence[tuple[Cut, str]]) -> NDArray[np.float32]:
        """The feature rows the heads read, one per (dialogue, response) pair."""
        encoded = [window(r, self.model.window) for _, r in pairs]
        return rows(self.model, self.embedder.embed(encoded), pairs)

    def score(self, context: Cut, response: str) -> PedagogyScores:
        """Every dimension's label for ``response`` answering ``context``."""
        return self.score_many([(context, response)])[0]

    def score_many(self, pairs: Sequence[tuple[Cut, str]]) -> list[PedagogyScores]:
        """:meth:`score` for many pairs, the sentence vectors embedded in one batch."""
        if not pairs:
            return []
        rows = self.features(pairs)
        out: list[dict[str, LabelScore]] = [{} for _ in pairs]
        for name, head in self.model.heads.items():
            probabilities = head.probabilities(rows)
            for scores, p in zip(out, probabilities, strict=True):
                best = int(np.argmax(p))
                scores[name] = LabelScore(
                    head.labels[best], dict(zip(head.labels, (float(x) for x in p), strict=True))
                )
        return [PedagogyScores(s) for s in out]


def window(text: str, chars: int | None) -> str:
    """What the sentence encoder reads of ``text``: all of it, or its first and last halves.

    >>> window("abcdefghij", 4)
    'ab … ij'
    """
    if chars is None or len(text) <= chars:
        return text
    half = chars // 2
    return f"{text[:half]} … {text[-half:]}"


def rows(
    model: ScorerModel, sentences: NDArray[np.float32], pairs: Sequence[tuple[Cut, str]]
) -> NDArray[np.float32]:
    """Sentence vector, word tf-idf and standardised cues of each response, side by side."""
    word_rows = model.vocabulary.transform([response for _, response in pairs])
    read: dict[int, DialogueCues] = {}  # each dialogue read once, however many responses
    rows_of_cues = []
    for context, response in pairs:
        dialogue = read.get(id(context))
        if dialogue is None:
            dialogue = DialogueCues.of(context)
            read[id(context)] = dialogue
        rows_of_cues.append(cue_features(context, response, dialogue))
    cues = np.stack(rows_of_cues)
    cues = (cues - model.cue_mean) / model.cue_scale
    return np.hstack([sentences, word_rows, cues.astype(np.float32)]).astype(np.float32)


def _read(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_SCORER_FILE:
            raise ScorerFileError(f"{path}: {size} bytes, over the {MAX_SCORER_FILE} a scorer has")
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScorerFileError(f"cannot read the scorer file {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ScorerFileError(f"{path} is not UTF-8 text: not a scorer file") from exc


def _rounded(values: Any) -> list[float]:
    # five significant digits: the file stays small and the scores do not move
    return [float(f"{float(x):.5g}") for x in np.asarray(values).ravel()]
