"""Classification metrics for routers.

Accuracy, macro-F1, per-style scores, the confusion matrix and baselines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True, slots=True)
class StyleScore:
    """Precision, recall and F1 of one style, with its support (true examples)."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Baseline:
    """What a router that ignores its input scores on the same labels: the floor to beat.

    ``majority`` always answers the most frequent true style (``style``); ``uniform`` answers a
    style drawn uniformly at random, and its figures are those of its expected confusion matrix.

    >>> Baseline("majority", 0.4, 0.143, style="socratic")
    Baseline('majority' 'socratic', accuracy=0.400, macro_f1=0.143)
    """

    name: str
    accuracy: float
    macro_f1: float
    style: str | None = None

    def __repr__(self) -> str:
        what = f"{self.name!r}" + (f" {self.style!r}" if self.style else "")
        return f"Baseline({what}, accuracy={self.accuracy:.3f}, macro_f1={self.macro_f1:.3f})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out: dict[str, Any] = {"accuracy": self.accuracy, "macro_f1": self.macro_f1}
        return out | ({"style": self.style} if self.style is not None else {})


@dataclass(frozen=True, slots=True)
class Calibration:
    """Whether the router's confidence means what it says.

    ``ece``: the expected calibration error of the top style's probability (10 equal-width bins;
    a cosine head's probability is the softmax of its cosines: ``confidence`` says which).
    ``by_margin``: the rows cut into five equal parts by the margin between the top two scores,
    smallest first, each with its margin range, size and accuracy: a margin worth reading rises
    left to right.
    """

    ece: float
    confidence: str
    by_margin: tuple[tuple[float, float, int, float], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ece": self.ece,
            "confidence": self.confidence,
            "by_margin": [
                {"low": lo, "high": hi, "n": n, "accuracy": acc}
                for lo, hi, n, acc in self.by_margin
            ],
        }


def calibration(
    scores: NDArray[Any],
    truth: NDArray[Any],
    *,
    probabilities: bool,
    decided: NDArray[Any] | None = None,
    bins: int = 10,
) -> Calibration:
    """:class:`Calibration` of routing decisions: ``scores`` (rows x styles), the true indices.

    ``decided``: the styles the router chose (its fallback rule applied); default the top scores.
    The confidence of a row is the probability of the style it was routed to.

    >>> c = calibration(np.array([[0.9, 0.1], [0.6, 0.4]]), np.array([0, 1]), probabilities=True)
    >>> round(c.ece, 3), [round(b[3], 2) for b in c.by_margin]
    (0.35, [0.0, 1.0])
    """
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(truth, dtype=np.int64)
    if s.ndim != 2 or len(s) != len(t) or len(s) == 0:
        raise ValueError(f"scores of shape {s.shape} for {len(t)} rows")
    if probabilities:
        p = s
    else:
        e = np.exp(s - s.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    chosen = s.argmax(axis=1) if decided is None else np.asarray(decided, dtype=np.int64)
    right = (chosen == t).astype(np.float64)
    confidence = p[np.arange(len(p)), chosen]
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            ece += inside.mean() * abs(right[inside].mean() - confidence[inside].mean())
    ordered = np.sort(s, axis=1)
    margins = ordered[:, -1] - ordered[:, -2] if s.shape[1] > 1 else ordered[:, -1]
    parts = []
    for chunk in np.array_split(np.argsort(margins, kind="stable"), min(5, len(margins))):
        parts.append(
            (
                float(margins[chunk].min()),
                float(margins[chunk].max()),
                int(chunk.size),
                float(right[chunk].mean()),
            )
        )
    kind = "probability" if probabilities else "softmax of cosines"
    return Calibration(float(ece), kind, tuple(parts))


@dataclass(frozen=True, slots=True)
class RouterReport:
    """How well a router's decisions match labelled data, beside the majority and uniform ones.

    ``confusion[i][j]`` counts examples of true style ``styles[i]`` routed to ``styles[j]``;
    ``router`` names the head that scored the styles (``centroid``, ``linear``, ``mlp2``) and
    ``embedder`` the vectors it read.

    >>> r = report_from_predictions(["direct", "socratic"], [0, 1, 1, 1], [0, 1, 0, 1], [False] * 4,
    ...                             router="linear", embedder="hash-v1")
    >>> r, r.majority.accuracy, r.uniform.accuracy
    (RouterReport(linear on 'hash-v1', n=4, accuracy=0.750, macro_f1=0.733), 0.75, 0.5)
    """

    styles: tuple[str, ...]
    n: int
    accuracy: float
    macro_f1: float
    per_style: dict[str, StyleScore]
    confusion: tuple[tuple[int, ...], ...]
    fallback_share: float
    majority: Baseline
    uniform: Baseline
    router: str = ""
    embedder: str = ""
    previous_style: Baseline | None = (
        None  # "the same style as the tutor's previous move" (rows with prev_label)
    )
    calibration: Calibration | None = None

    def __repr__(self) -> str:
        who = f"{self.router or 'router'} on {self.embedder!r}, " if self.embedder else ""
        return (
            f"RouterReport({who}n={self.n}, accuracy={self.accuracy:.3f}, "
            f"macro_f1={self.macro_f1:.3f})"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "router": self.router,
            "embedder": self.embedder,
            "styles": list(self.styles),
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "fallback_share": self.fallback_share,
            "baselines": {
                "majority": self.majority.to_dict(),
                "uniform": self.uniform.to_dict(),
                **(
                    {"previous_style": self.previous_style.to_dict()} if self.previous_style else {}
                ),
            },
            "warning": self.verdict() or None,
            "per_style": {
                s: {"precision": m.precision, "recall": m.recall, "f1": m.f1, "support": m.support}
                for s, m in self.per_style.items()
            },
            "confusion": [list(r) for r in self.confusion],
            **({"calibration": self.calibration.to_dict()} if self.calibration else {}),
        }

    def format(self) -> str:
        """A plain-text table for terminals."""
        width = max(12, *(len(s) + 2 for s in self.styles))
        maj = self.majority
        uni = self.uniform
        lines = [
            f"router={self.router or '?'}  embedder={self.embedder or '?'}",
            f"n={self.n}  accuracy={self.accuracy:.3f}  macro-F1={self.macro_f1:.3f}  "
            f"routed to fallback={self.fallback_share:.1%}",
            f"baselines: majority ({maj.style}) accuracy={maj.accuracy:.3f} "
            f"macro-F1={maj.macro_f1:.3f}; "
            f"uniform accuracy={uni.accuracy:.3f} macro-F1={uni.macro_f1:.3f}"
            + (
                f"; previous style accuracy={self.previous_style.accuracy:.3f} "
                f"macro-F1={self.previous_style.macro_f1:.3f}"
                if self.previous_style
                else ""
            ),
            "",
            f"{'style':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
        ]
        for s, m in self.per_style.items():
            lines.append(
                f"{s:<{width}}{m.precision:>10.3f}{m.recall:>10.3f}{m.f1:>10.3f}{m.support:>10d}"
            )
        column = max(10, *(len(s) + 2 for s in self.styles))  # whole style names, never cut
        header = " " * width + "".join(f"{s:>{column}}" for s in self.styles)
        lines += ["", "confusion (rows: true, columns: routed)", header]
        for s, row in zip(self.styles, self.confusion, strict=True):
            lines.append(f"{s:<{width}}" + "".join(f"{c:>{column}d}" for c in row))
        if self.calibration is not None:
            cal = self.calibration
            lines += [
                "",
                f"calibration: expected calibration error {cal.ece:.3f} "
                f"(confidence: {cal.confidence})",
                "accuracy by margin, smallest fifth first: "
                + "  ".join(f"{lo:.3f}-{hi:.3f}: {acc:.3f}" for lo, hi, _, acc in cal.by_margin),
            ]
        verdict = self.verdict()
        if verdict:
            lines += ["", verdict]
        return "\n".join(lines)

    def verdict(self) -> str:
        """A plain sentence if the router is below a baseline on accuracy or macro-F1, else ``""``.

        >>> styles = ["direct", "socratic"]
        >>> bad = report_from_predictions(styles, [0, 0, 0, 1], [1, 0, 1, 0], [False] * 4)
        >>> bad.verdict().startswith("warning: the router is below the majority baseline")
        True
        """
        below = []
        bases = [
            (self.majority, f"the majority baseline (always {self.majority.style!r})"),
            (self.uniform, "the uniform baseline (a random style)"),
        ]
        if self.previous_style is not None:
            bases.append(
                (
                    self.previous_style,
                    "the previous-style baseline (the tutor's previous move again)",
                )
            )
        for base, what in bases:
            worse = [
                f"{name} {mine:.3f} < {theirs:.3f}"
                for name, mine, theirs in (
                    ("accuracy", self.accuracy, base.accuracy),
                    ("macro-F1", self.macro_f1, base.macro_f1),
                )
                if mine < theirs
            ]
            if worse:
                below.append(f"{what}: {', '.join(worse)}")
        if not below:
            return ""
        return (
            "warning: the router is below "
            + "; below ".join(below)
            + ". It routes these rows worse than a rule that ignores the question."
        )


def report_from_predictions(
    styles: Sequence[str],
    truth: ArrayLike,
    predicted: ArrayLike,
    fallback: ArrayLike,
    *,
    router: str = "",
    embedder: str = "",
    previous: Sequence[int | None] | None = None,
    scores: ArrayLike | None = None,
    probabilities: bool = False,
) -> RouterReport:
    """Build a :class:`RouterReport` from style indices.

    ``router`` and ``embedder`` name what made them.

    ``previous``: the style index of the tutor's previous move for each row (None where there was
    none): the previous-style baseline answers it again (the majority style where there is none).
    ``scores``: the router's scores (rows x styles) for its :class:`Calibration`; ``probabilities``
    says whether they are probabilities already (a classifier head) or cosines.
    """
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
        macro_f1=_macro_f1(per_style, confusion),
        per_style=per_style,
        confusion=tuple(tuple(int(c) for c in row) for row in confusion),
        fallback_share=float(np.mean(np.asarray(fallback, dtype=bool))) if n else 0.0,
        majority=_majority(styles, confusion),
        uniform=_uniform(confusion),
        router=router,
        embedder=embedder,
        previous_style=None if previous is None else _previous(styles, t, previous, confusion),
        calibration=(
            None
            if scores is None or n == 0
            else calibration(np.asarray(scores), t, probabilities=probabilities, decided=p)
        ),
    )


def _macro_f1(per_style: Mapping[str, StyleScore], confusion: NDArray[np.int64]) -> float:
    """The mean F1 over the styles either side used, as scikit-learn's ``average="macro"`` counts.

    A style no row has and the router never chose says nothing of the router: it is left out.
    """
    used = (confusion.sum(axis=0) + confusion.sum(axis=1)) > 0
    scores = [m.f1 for m, u in zip(per_style.values(), used, strict=True) if u]
    return float(np.mean(scores)) if scores else 0.0


def _previous(
    styles: Sequence[str],
    truth: NDArray[np.int64],
    previous: Sequence[int | None],
    confusion: NDArray[np.int64],
) -> Baseline:
    """The baseline that answers the style of the tutor's previous move.

    The majority style without one.
    """
    if len(previous) != truth.size:
        raise ValueError(f"{truth.size} rows but {len(previous)} previous styles")
    top = int(np.argmax(confusion.sum(axis=1)))
    guess = [top if p is None else int(p) for p in previous]
    again = report_from_predictions(styles, truth, guess, [False] * truth.size)
    return Baseline("previous_style", again.accuracy, again.macro_f1)


def _majority(styles: Sequence[str], confusion: NDArray[np.int64]) -> Baseline:
    # Always the most frequent true style: precision = its share, recall = 1, every other style
    # the rows hold scores F1 0 (a style they do not hold counts neither side: left out).
    support = confusion.sum(axis=1)
    n = int(support.sum())
    top = int(np.argmax(support))
    share = support[top] / n if n else 0.0
    f1 = 2 * share / (share + 1) if n else 0.0
    present = max(int((support > 0).sum()), 1)
    return Baseline("majority", float(share), float(f1 / present), style=styles[top])


def _uniform(confusion: NDArray[np.int64]) -> Baseline:
    # Each style drawn with probability 1/k: per style, expected precision = its share and recall =
    # 1/k.
    k = confusion.shape[0]
    n = int(confusion.sum())
    shares = confusion.sum(axis=1) / n if n else np.zeros(k)
    f1 = [2 * p / (k * p + 1) if p else 0.0 for p in shares]
    return Baseline("uniform", 1.0 / k, float(np.mean(f1)))
