"""Out-of-fold scoring: each response judged by heads fitted without its fold, every label kept."""

from __future__ import annotations

import numpy as np

from neulora.embedders import HashingEmbedder
from neulora.eval._records import Cut
from neulora.eval._train import Example, FitOptions, OutOfFold, head_labels, out_of_fold

GUIDANCE = "Providing_Guidance"
SAYINGS = {
    "Yes": "Try adding the tens first, then the ones: what do you get?",
    "No": "Great job, well done!",
    "To some extent": "Hmm, maybe check that again.",
}


def _items(fold_labels: list[list[str]]) -> tuple[list[Example], list[int]]:
    items, folds = [], []
    for k, labels in enumerate(fold_labels):
        for j, label in enumerate(labels):
            cut = Cut(f"d{k}-{j}", (), f"I think it is {k + j + 11}")
            items.append(
                Example(cut.dialogue_id, cut, f"{SAYINGS[label]} ({j})", {GUIDANCE: label})
            )
            folds.append(k)
    return items, folds


def test_a_label_a_fold_never_trained_on_gets_zero_there_and_its_own_column_elsewhere() -> None:
    # "To some extent" is only in fold 1: the fit that scores fold 1 never saw it
    items, folds = _items(
        [["Yes", "No"] * 4, ["Yes", "No", "To some extent", "To some extent"] * 2]
    )
    embedder = HashingEmbedder(dim=64)
    sentences = embedder.embed([e.response for e in items])

    held_out = out_of_fold(
        items, sentences, embedder, [GUIDANCE], folds, FitOptions(2.0, 1, {}, {})
    )

    p = held_out.probabilities[GUIDANCE]
    assert held_out.labels[GUIDANCE] == head_labels(GUIDANCE) == ("Yes", "To some extent", "No")
    in_fold_1 = np.asarray(folds) == 1
    assert (p[in_fold_1, 1] == 0.0).all()
    assert (p[~in_fold_1, 1] > 0.0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert "To some extent" not in [held_out.predicted(GUIDANCE)[i] for i in np.where(in_fold_1)[0]]


def test_predicted_labels_and_agreement_read_the_likeliest_label_of_labelled_responses() -> None:
    items, _ = _items([["Yes", "No", "To some extent"]])
    items.append(Example("d-x", items[0].context, "unlabelled", {}))
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.9, 0.05, 0.05]])
    held_out = OutOfFold({GUIDANCE: head_labels(GUIDANCE)}, {GUIDANCE: p})

    assert held_out.predicted(GUIDANCE) == ["Yes", "No", "To some extent", "Yes"]
    report = held_out.agreement(items)[GUIDANCE]
    assert (report.n, report.accuracy) == (3, 1.0)
    assert head_labels("reveals_answer") == ("Yes", "No")
