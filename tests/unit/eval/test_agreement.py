"""Agreement figures match scikit-learn's, and failures are counted, never scored."""

from __future__ import annotations

import random

import pytest

from neulora.eval import agreement
from neulora.eval._agreement import cohen_kappa, macro_f1

metrics = pytest.importorskip("sklearn.metrics")
LABELS = ("Yes", "To some extent", "No")


@pytest.mark.parametrize("seed", range(5))
def test_figures_match_scikit_learn(seed: int) -> None:
    rng = random.Random(seed)
    truth = [rng.choice(LABELS) for _ in range(200)]
    # mostly right, sometimes a label the truth never uses on this side
    given = [t if rng.random() < 0.6 else rng.choice(LABELS[: 1 + seed % 3]) for t in truth]
    a = agreement(truth, given)
    assert a.n == 200 and a.failures == 0
    assert a.accuracy == pytest.approx(metrics.accuracy_score(truth, given))
    assert a.macro_f1 == pytest.approx(metrics.f1_score(truth, given, average="macro"))
    assert a.kappa == pytest.approx(metrics.cohen_kappa_score(truth, given))
    majority = max(set(truth), key=truth.count)
    assert a.majority_macro_f1 == pytest.approx(
        metrics.f1_score(truth, [majority] * len(truth), average="macro")
    )


def test_failures_are_counted_and_left_out() -> None:
    truth = ["Yes", "No", "No", "Yes"]
    a = agreement(truth, ["Yes", None, "No", None])
    assert (a.n, a.failures, a.accuracy, a.macro_f1) == (2, 2, 1.0, 1.0)
    nothing = agreement(truth, [None] * 4)
    assert (nothing.n, nothing.failures, nothing.macro_f1) == (0, 4, 0.0)


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="3 human labels but 2"):
        agreement(["Yes"] * 3, ["Yes"] * 2)


def test_degenerate_cases() -> None:
    assert macro_f1([], []) == 0.0
    assert cohen_kappa(["Yes", "Yes"], ["Yes", "Yes"]) == 0.0  # chance explains everything
