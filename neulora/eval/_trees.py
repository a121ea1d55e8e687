"""Boosted decision trees that add to a head's logits, scored in plain numpy.

A linear head weighs each cue on its own; a few shallow trees over the same cues catch what they
say together ("says it is wrong" *and* "asks a question"), and what a cue means for one kind of
response (the trees also read where the sentence vector lies along a few directions: its main
axes on the training responses). Trees are fitted with scikit-learn's histogram gradient boosting
when a scorer is trained; a scorer file holds their nodes, and scoring walks every tree at once,
one level per step, with numpy indexing.

>>> trees = TreeEnsemble.from_json(
...     {
...         "share": 0.5,
...         "baseline": [0.0, 0.0],
...         "trees": [{"label": 1, "nodes": [[0, 0.5, 1, 2, 0.0], [-1, 0, 0, 0, -1.0],
...                                          [-1, 0, 0, 0, 2.0]]}],
...     },
...     labels=2, columns=1, sentence=0, where="example",
... )
>>> trees.logits(np.array([[0.0], [1.0]], dtype=np.float32)).tolist()
[[0.0, -1.0], [0.0, 2.0]]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import is_int, is_number, is_real
from ..errors import ConfigError, ScorerFileError

if TYPE_CHECKING:
    from numpy.typing import NDArray

# a tree deeper than this is not what a scorer fits (it fits depth 3): a file that says otherwise
# is refused rather than walked
MAX_DEPTH = 16


@dataclass(frozen=True, slots=True)
class TreeEnsemble:
    """Trees whose leaves add to one label's logit each, mixed into a head by ``share``.

    The nodes of every tree sit in one set of arrays; ``root`` says where each tree starts. A split
    sends a row left when its ``feature`` column is at most ``threshold``; a leaf is its own left
    and right child, so a row that reached it stays there while deeper trees go on. The columns
    are a row's own, then one per row of ``directions``: the row's sentence vector (its first
    block) projected on it. Rows are finite (a scorer's features always are): a NaN would go right
    at every split, where scikit-learn learns a side for missing values.
    """

    share: float  # the head's logits: (1 - share) * linear + share * trees
    baseline: NDArray[np.float64] = field(repr=False)  # (labels,)
    label: NDArray[np.intp] = field(repr=False)  # (trees,) the logit each tree adds to
    root: NDArray[np.intp] = field(repr=False)  # (trees,)
    feature: NDArray[np.intp] = field(repr=False)  # (nodes,) 0 at a leaf
    threshold: NDArray[np.float64] = field(repr=False)
    left: NDArray[np.intp] = field(repr=False)
    right: NDArray[np.intp] = field(repr=False)
    value: NDArray[np.float64] = field(repr=False)  # what a leaf adds; 0 at a split
    directions: NDArray[np.float64] = field(repr=False)  # (projections, sentence vector size)
    depth: int

    def logits(self, features: NDArray[np.float32]) -> NDArray[np.float64]:
        """The trees' logit per label for each row of ``features``: shape (rows, labels)."""
        x = np.asarray(features, dtype=np.float64)
        if len(self.directions):
            x = np.hstack([x, _projected(x, self.directions)])
        node = np.broadcast_to(self.root, (len(x), len(self.root)))
        row = np.arange(len(x))[:, None]
        for _ in range(self.depth):
            goes_left = x[row, self.feature[node]] <= self.threshold[node]
            node = np.where(goes_left, self.left[node], self.right[node])
        per_label = np.zeros((len(self.root), len(self.baseline)))
        per_label[np.arange(len(self.root)), self.label] = 1.0
        out: NDArray[np.float64] = self.value[node] @ per_label + self.baseline
        return out

    def to_json(self) -> dict[str, Any]:
        trees = []
        for t, start in enumerate(self.root):
            end = self.root[t + 1] if t + 1 < len(self.root) else len(self.value)
            nodes = []
            for i in range(int(start), int(end)):
                leaf = self.left[i] == i
                nodes.append(
                    [-1, 0, 0, 0, float(self.value[i])]
                    if leaf
                    else [
                        int(self.feature[i]),
                        float(self.threshold[i]),
                        int(self.left[i] - start),
                        int(self.right[i] - start),
                        0,
                    ]
                )
            trees.append({"label": int(self.label[t]), "nodes": nodes})
        return {
            "share": self.share,
            "baseline": [float(x) for x in self.baseline],
            "directions": [[float(x) for x in row] for row in self.directions],
            "trees": trees,
        }

    @classmethod
    def from_json(
        cls, raw: Any, *, labels: int, columns: int, sentence: int, where: str
    ) -> TreeEnsemble:
        """Read a head's trees: ``labels`` logits from rows ``columns`` wide.

        The directions project a row's sentence vector, its first ``sentence`` columns.
        """
        try:
            share = raw["share"]
            if not is_number(share):
                raise TypeError(f"'share' must be a number, got {share!r}")
            baseline = _reals(raw["baseline"], "'baseline'")
            directions = _reals(raw.get("directions", []), "'directions'")
            trees = raw["trees"]
            if not isinstance(trees, Sequence) or not trees:
                raise TypeError("'trees' must be a non-empty list")
            return cls.of(
                share,
                baseline,
                [(_label(t["label"]), [_node(n) for n in t["nodes"]]) for t in trees],
                labels=labels,
                columns=columns,
                directions=directions.reshape(0, sentence) if not directions.size else directions,
                sentence=sentence,
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ScorerFileError(f"{where}: malformed trees ({exc})") from exc

    @classmethod
    def of(
        cls,
        share: float,
        baseline: NDArray[np.float64],
        trees: Sequence[tuple[int, Sequence[tuple[int, float, int, int, float]]]],
        *,
        labels: int,
        columns: int,
        directions: NDArray[np.float64],
        sentence: int,
    ) -> TreeEnsemble:
        """Trees from their nodes, ``ValueError`` naming what does not hold.

        Each node is ``(feature, threshold, left, right, value)``, its children numbered within
        its tree; ``feature`` is -1 at a leaf.
        """
        if not (math.isfinite(share) and 0.0 < share <= 1.0):
            raise ValueError(f"share must lie in (0, 1], got {share}")
        if baseline.shape != (labels,) or not np.all(np.isfinite(baseline)):
            raise ValueError(f"baseline must be {labels} finite numbers")
        if directions.ndim != 2 or directions.shape[1] != sentence or sentence > columns:
            raise ValueError(
                f"directions must be rows of {sentence} numbers, the sentence vector's"
            )
        if not np.all(np.isfinite(directions)):
            raise ValueError("directions must be finite numbers")
        readable = columns + len(directions)
        label: list[int] = []
        root: list[int] = []
        feature: list[int] = []
        left: list[int] = []
        right: list[int] = []
        threshold: list[float] = []
        value: list[float] = []
        depth = 0
        for t, (target, nodes) in enumerate(trees):
            if not 0 <= target < labels:
                raise ValueError(f"tree {t} adds to label {target}, not one of {labels}")
            depth = max(depth, *_levels(t, nodes, readable))
            start = len(value)
            label.append(target)
            root.append(start)
            for i, (column, cut, low, high, add) in enumerate(nodes):
                leaf = column == -1
                feature.append(0 if leaf else column)
                threshold.append(0.0 if leaf else cut)
                left.append(start + (i if leaf else low))
                right.append(start + (i if leaf else high))
                value.append(add if leaf else 0.0)
        arrays = np.asarray(threshold), np.asarray(value)
        if depth > MAX_DEPTH or not all(np.all(np.isfinite(a)) for a in arrays):
            raise ValueError(f"trees must be at most {MAX_DEPTH} deep, with finite numbers")
        return cls(
            share,
            baseline,
            np.asarray(label, dtype=np.intp),
            np.asarray(root, dtype=np.intp),
            np.asarray(feature, dtype=np.intp),
            arrays[0],
            np.asarray(left, dtype=np.intp),
            np.asarray(right, dtype=np.intp),
            arrays[1],
            directions,
            depth,
        )


def _levels(
    t: int, nodes: Sequence[tuple[int, float, int, int, float]], readable: int
) -> list[int]:
    """Each node's level in tree ``t`` (the root's is 0), once the tree's shape is checked.

    Children come after their parent, and each has one: every walk ends, and a node's level is
    its one parent's plus one.
    """
    if not nodes:
        raise ValueError(f"tree {t} has no nodes")
    levels = [0] * len(nodes)
    parents = [0] * len(nodes)
    for i, (column, _, low, high, _) in enumerate(nodes):
        if column == -1:
            continue
        if not (0 <= column < readable and i < low < len(nodes) and i < high < len(nodes)):
            raise ValueError(
                f"tree {t}, node {i}: a split must read a column below {readable} and lead to "
                "later nodes of its tree"
            )
        parents[low] += 1
        parents[high] += 1
        if low == high or parents[low] > 1 or parents[high] > 1:
            raise ValueError(f"tree {t}, node {i}: a node has one parent, got more")
        levels[low] = levels[high] = levels[i] + 1
    return levels


def _label(raw: Any) -> int:
    if not is_int(raw):
        raise TypeError(f"a tree's label is an integer, got {raw!r}")
    return int(raw)


def _node(raw: Any) -> tuple[int, float, int, int, float]:
    if not isinstance(raw, Sequence) or len(raw) != 5:
        raise TypeError(f"a node is [feature, threshold, left, right, value], got {raw!r}")
    column, cut, low, high, add = raw
    if not all(is_int(v) for v in (column, low, high)):
        raise TypeError(f"a node's feature, left and right are integers, got {raw!r}")
    if not (is_real(cut) and is_real(add)):
        raise TypeError(f"a node's threshold and value are numbers, got {raw!r}")
    return column, float(cut), low, high, float(add)


def _reals(raw: Any, what: str) -> NDArray[np.float64]:
    rows = raw if isinstance(raw, list) and raw and isinstance(raw[0], list) else [raw]
    if not all(isinstance(row, list) and all(is_real(x) for x in row) for row in rows):
        raise TypeError(f"{what} must be a list of numbers")
    return np.asarray(raw, dtype=np.float64)


def trees_from_sklearn(
    fitted: Any,
    labels: Sequence[str],
    columns: Sequence[int],
    directions: NDArray[np.float64],
    share: float,
    *,
    width: int,
    check: NDArray[np.float64],
) -> TreeEnsemble:
    """A fitted ``HistGradientBoostingClassifier``'s trees, adding to ``labels``' logits in order.

    ``fitted`` read the ``columns`` of rows ``width`` wide, then their sentence vectors projected
    on ``directions`` (:func:`tree_inputs`). ``check`` (rows, full width) is scored both ways, and
    any difference from scikit-learn's own decision function is an error (its tree layout is not
    public API: a scikit-learn that changed it is a :class:`~neulora.errors.ConfigError`, not a
    misread scorer).
    """
    classes = [str(c) for c in fitted.classes_]
    if sorted(classes) != sorted(labels):
        raise ValueError(f"trees fitted on labels {classes} cannot add to {list(labels)}")
    position = [list(labels).index(c) for c in classes]  # scikit-learn's label k is ours
    # the model's input columns as the ensemble numbers them: the row's, then the projections
    where = [*columns, *range(width, width + len(directions))]
    trees: list[tuple[int, list[tuple[int, float, int, int, float]]]] = []
    for per_iteration in fitted._predictors:
        for k, predictor in enumerate(per_iteration):
            # two labels: one tree per round, for the second label's logit against the first
            target = position[1 if len(classes) == 2 else k]
            nodes = [
                (-1, 0.0, 0, 0, float(n["value"]))
                if n["is_leaf"]
                else (
                    where[int(n["feature_idx"])],
                    float(n["num_threshold"]),
                    int(n["left"]),
                    int(n["right"]),
                    0.0,
                )
                for n in predictor.nodes
            ]
            trees.append((target, nodes))
    bare = TreeEnsemble.of(
        share,
        np.zeros(len(labels)),
        trees,
        labels=len(labels),
        columns=width,
        directions=directions,
        sentence=directions.shape[1],
    )
    theirs = np.asarray(
        fitted.decision_function(tree_inputs(check, columns, directions)), dtype=np.float64
    )
    if len(classes) == 2:
        theirs = np.stack([np.zeros(len(theirs)), theirs], axis=1)
    theirs = theirs[:, [position.index(j) for j in range(len(labels))]]
    offset = theirs - bare.logits(check.astype(np.float32))
    baseline = offset.mean(axis=0)
    if not np.allclose(offset, baseline, atol=1e-4):
        raise ConfigError(
            "the trees read from scikit-learn do not score as scikit-learn does: this "
            "scikit-learn lays its trees out otherwise than neulora reads them (install the "
            "scikit-learn neulora's eval extra names)"
        )
    return dataclasses.replace(bare, baseline=baseline)


def tree_inputs(
    rows: NDArray[np.float64], columns: Sequence[int], directions: NDArray[np.float64]
) -> NDArray[np.float64]:
    """What trees are fitted on: ``columns`` of ``rows``, then their projections on ``directions``.

    The directions project a row's sentence vector, its first columns.
    """
    return np.hstack([rows[:, list(columns)], _projected(rows, directions)])


def _projected(rows: NDArray[np.float64], directions: NDArray[np.float64]) -> NDArray[np.float64]:
    # the rows' sentence vectors (their first columns) along each direction
    out: NDArray[np.float64] = rows[:, : directions.shape[1]] @ directions.T
    return out


def main_directions(vectors: NDArray[np.float64], count: int) -> NDArray[np.float64]:
    """The ``count`` directions along which ``vectors`` vary most (principal axes), as rows."""
    centred = vectors - vectors.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return np.asarray(axes[: min(count, len(axes))], dtype=np.float64)
