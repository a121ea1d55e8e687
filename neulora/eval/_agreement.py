"""How far labels given by a scorer or a judge agree with human labels.

Accuracy, macro-F1 (over the labels either side used, as scikit-learn's ``f1_score`` with
``average="macro"`` counts it), the macro-F1 of always answering the most frequent human label, and
Cohen's kappa. Written in numpy so that checking a scorer or a judge needs no scikit-learn; the
tests compare every figure with scikit-learn's.

>>> a = agreement(["Yes", "Yes", "No", "No"], ["Yes", "No", "No", None])
>>> a.n, a.failures, round(a.accuracy, 3), round(a.macro_f1, 3)
(3, 1, 0.667, 0.667)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class Agreement:
    """One dimension's agreement with the human labels.

    ``n`` counts the items compared; ``failures`` the items the scorer or judge gave no valid label
    for (counted, never guessed, never in ``n``).
    """

    n: int
    accuracy: float
    macro_f1: float
    majority_macro_f1: float
    kappa: float
    failures: int = 0

    def __repr__(self) -> str:
        return (
            f"Agreement(n={self.n}, macro_f1={self.macro_f1:.3f}, accuracy={self.accuracy:.3f}, "
            f"kappa={self.kappa:.3f}, failures={self.failures})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "majority_macro_f1": self.majority_macro_f1,
            "kappa": self.kappa,
            "failures": self.failures,
        }


@dataclass(frozen=True, slots=True)
class AgreementReport:
    """Every dimension's :class:`Agreement`, in the order they were measured."""

    dimensions: Mapping[str, Agreement]

    def __getitem__(self, dimension: str) -> Agreement:
        return self.dimensions[dimension]

    def to_dict(self) -> dict[str, Any]:
        return {"dimensions": {d: a.to_dict() for d, a in self.dimensions.items()}}

    def format(self) -> str:
        """A plain table, one dimension a line."""
        lines = [
            f"{'dimension':<26} {'n':>5} {'macro-F1':>9} {'majority':>9} {'accuracy':>9} "
            f"{'kappa':>7} {'failures':>9}"
        ]
        for name, a in self.dimensions.items():
            lines.append(
                f"{name:<26} {a.n:>5} {a.macro_f1:>9.3f} {a.majority_macro_f1:>9.3f} "
                f"{a.accuracy:>9.3f} {a.kappa:>7.3f} {a.failures:>9}"
            )
        return "\n".join(lines)


def agreement(truth: Sequence[str], predicted: Sequence[str | None]) -> Agreement:
    """Compare ``predicted`` labels (None: a failure) with the human ``truth``, item by item."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} human labels but {len(predicted)} predictions")
    pairs = [(t, p) for t, p in zip(truth, predicted, strict=True) if p is not None]
    failures = len(truth) - len(pairs)
    if not pairs:
        return Agreement(0, 0.0, 0.0, 0.0, 0.0, failures)
    human = [t for t, _ in pairs]
    given = [p for _, p in pairs]
    majority = Counter(human).most_common(1)[0][0]
    return Agreement(
        n=len(pairs),
        accuracy=float(np.mean([t == p for t, p in pairs])),
        macro_f1=macro_f1(human, given),
        majority_macro_f1=macro_f1(human, [majority] * len(human)),
        kappa=cohen_kappa(human, given),
        failures=failures,
    )


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """The unweighted mean of each label's F1, over the labels found on either side."""
    labels = sorted(set(truth) | set(predicted))
    scores = []
    for label in labels:
        tp = sum(t == label and p == label for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def cohen_kappa(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Agreement beyond chance: (observed - expected) / (1 - expected); 0 when chance is all."""
    n = len(truth)
    if n == 0:
        return 0.0
    observed = sum(t == p for t, p in zip(truth, predicted, strict=True)) / n
    human = Counter(truth)
    given = Counter(predicted)
    expected = sum(human[label] * given[label] for label in human) / (n * n)
    return float((observed - expected) / (1 - expected)) if expected < 1 else 0.0
