"""Classification metrics for routers: accuracy, macro-F1, per-style scores and the confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["RouterReport", "StyleScore", "report_from_predictions"]


@dataclass(frozen=True, slots=True)
class StyleScore:
    """Precision, recall and F1 of one style, with its support (true examples)."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class RouterReport:
    """How well a router's decisions match labelled data.

    ``confusion[i][j]`` counts examples of true style ``styles[i]`` routed to ``styles[j]``.
    """

    styles: tuple[str, ...]
    n: int
    accuracy: float
    macro_f1: float
    per_style: dict[str, StyleScore]
    confusion: tuple[tuple[int, ...], ...]
    fallback_share: float

    def __repr__(self) -> str:
        return f"RouterReport(n={self.n}, accuracy={self.accuracy:.3f}, macro_f1={self.macro_f1:.3f})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "styles": list(self.styles),
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "fallback_share": self.fallback_share,
            "per_style": {
                s: {"precision": m.precision, "recall": m.recall, "f1": m.f1, "support": m.support}
                for s, m in self.per_style.items()
            },
            "confusion": [list(r) for r in self.confusion],
        }

    def format(self) -> str:
        """A plain-text table for terminals."""
        width = max(12, *(len(s) + 2 for s in self.styles))
        lines = [
            f"n={self.n}  accuracy={self.accuracy:.3f}  macro-F1={self.macro_f1:.3f}  "
            f"routed to fallback={self.fallback_share:.1%}",
            "",
            f"{'style':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
        ]
        for s, m in self.per_style.items():
            lines.append(f"{s:<{width}}{m.precision:>10.3f}{m.recall:>10.3f}{m.f1:>10.3f}{m.support:>10d}")
        header = " " * width + "".join(f"{s[:9]:>10}" for s in self.styles)
        lines += ["", "confusion (rows: true, columns: routed)", header]
        for s, row in zip(self.styles, self.confusion, strict=True):
            lines.append(f"{s:<{width}}" + "".join(f"{c:>10d}" for c in row))
        return "\n".join(lines)


def report_from_predictions(
    styles: Sequence[str], truth: ArrayLike, predicted: ArrayLike, fallback: ArrayLike
) -> RouterReport:
    """Build a :class:`RouterReport` from style indices."""
    k = len(styles)
    t = np.asarray(truth, dtype=np.int64)
    p = np.asarray(predicted, dtype=np.int64)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (t, p), 1)
    per_style: dict[str, StyleScore] = {}
    for i, s in enumerate(styles):
        tp = int(confusion[i, i])
        routed = int(confusion[:, i].sum())
        support = int(confusion[i].sum())
        precision = tp / routed if routed else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_style[s] = StyleScore(precision, recall, f1, support)
    n = int(t.size)
    return RouterReport(
        styles=tuple(styles),
        n=n,
        accuracy=float(np.trace(confusion) / n) if n else 0.0,
        macro_f1=float(np.mean([m.f1 for m in per_style.values()])),
        per_style=per_style,
        confusion=tuple(tuple(int(c) for c in row) for row in confusion),
        fallback_share=float(np.mean(np.asarray(fallback, dtype=bool))) if n else 0.0,
    )
