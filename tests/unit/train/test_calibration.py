"""Calibration of routing decisions, by hand on small cases."""

from __future__ import annotations

import numpy as np
import pytest

from neulora.train._metrics import calibration, report_from_predictions


def test_a_perfectly_calibrated_router_has_zero_error() -> None:
    # four rows at confidence 0.75, three of them right
    scores = np.array([[0.75, 0.25]] * 4)
    c = calibration(scores, np.array([0, 0, 0, 1]), probabilities=True)
    assert c.ece == pytest.approx(0.0)


def test_an_overconfident_router_shows_the_gap() -> None:
    scores = np.array([[0.95, 0.05]] * 10)
    c = calibration(scores, np.array([0] * 5 + [1] * 5), probabilities=True)
    assert c.ece == pytest.approx(0.45)
    assert c.confidence == "probability"


def test_cosines_become_a_softmax_and_margins_are_cut_in_fifths() -> None:
    rng = np.random.default_rng(0)
    scores = rng.uniform(-1, 1, size=(50, 4))
    truth = scores.argmax(axis=1)  # always right: accuracy 1 in every fifth
    c = calibration(scores, truth, probabilities=False)
    assert c.confidence == "softmax of cosines"
    assert [n for _, _, n, _ in c.by_margin] == [10] * 5
    assert all(acc == 1.0 for _, _, _, acc in c.by_margin)
    highs = [hi for _, hi, _, _ in c.by_margin]
    assert highs == sorted(highs)
    # a softmax of cosines is far from certain: the right answers show it under-confident
    assert c.ece > 0.3


def test_the_report_carries_it_when_given_scores() -> None:
    styles = ["direct", "socratic"]
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    r = report_from_predictions(
        styles, [0, 1, 1], [0, 1, 0], [False] * 3, scores=scores, probabilities=True
    )
    assert r.calibration is not None and "calibration" in r.to_dict()
    assert report_from_predictions(styles, [0], [0], [False]).calibration is None
    with pytest.raises(ValueError, match="scores of shape"):
        calibration(np.zeros((2, 2)), np.zeros(3), probabilities=True)
