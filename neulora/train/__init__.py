"""Training and evaluating routers.

Centroids, a linear head, thresholds, reports against baselines.
"""

from __future__ import annotations

from typing import Any

from ._fit import (
    LinearHead,
    evaluate,
    evaluate_vectors,
    fit,
    fit_threshold,
    fit_vectors,
    from_examples,
)
from ._metrics import Baseline, RouterReport, StyleScore, report_from_predictions
from ._samples import corpus_dir, exemplar_router, style_examples

__all__ = [
    "Baseline",
    "LinearHead",
    "RouterReport",
    "StyleScore",
    "corpus_dir",
    "evaluate",
    "evaluate_vectors",
    "exemplar_router",
    "fit",
    "fit_threshold",
    "fit_vectors",
    "from_examples",
    "report_from_predictions",
    "style_examples",
]


def __getattr__(name: str) -> Any:
    from .._compat import moved  # names this module held before the parts became folders

    return moved(__name__, name)
