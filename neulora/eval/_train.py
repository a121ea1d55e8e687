"""Training a pedagogy scorer on MRBench's human labels, cross-validated by dialogue.

The examples are every labelled tutor response; a response that both MRBench files hold (the same
dialogue and tutor) is one example with the labels of both. Folds never split a dialogue: the
cross-validated figures say how the scorer does on dialogues it never saw. Fitting uses
scikit-learn's logistic regression (the ``eval`` extra); scoring needs only numpy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import check_int, is_number
from ..errors import ConfigError, DatasetError
from ._agreement import AgreementReport, agreement
from ._features import CUES, WordVocabulary, cue_features
from ._records import LABELS
from ._scorer import (
    MIN_WINDOW,
    REVEALS,
    Head,
    PedagogyScorer,
    ScorerModel,
    Threshold,
    rows,
    window,
)
from ._trees import MAX_DEPTH, TreeEnsemble, main_directions, tree_inputs, trees_from_sklearn

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..embedders._base import Embedder
    from ._records import Cut, LabelledDialogue

logger = logging.getLogger(__name__)

# The answer checks flag an answer as revealing from the threshold whose out-of-fold precision on
# MRBench's labels is this: 0.8 promised, and 0.02 for dialogues the folds did not hold (the
# precision moves between 0.79 and 0.85 over thresholds 0.6 to 0.8 on the shared half).
REVEAL_PRECISION = 0.82
# The sentence encoder reads a response's first and last 100 characters (a longer answer costs it
# about 2 ms per 100 characters): on MRBench's shared half this scores as the whole response does
# (macro-F1 within 0.006 on every dimension; 23% of its responses are longer).
ENCODER_WINDOW = 200

DIMENSIONS: tuple[str, ...] = (
    "Mistake_Identification",
    "Mistake_Location",
    "Providing_Guidance",
    "Actionability",
    "Revealing_of_the_Answer",
    REVEALS,
)
# Per dimension, what its linear head reads (each choice measured by cross-validation on MRBench's
# shared half, five fold settings by dialogue; bench/scorer.md): the word tf-idf weighs double for
# mistake identification and reveals_answer, and the cues that relate the response to the learner's
# turn and to the solution are read only by the linear heads they helped (the others got worse with
# them). A head's boosted trees read every cue: so they were measured (bench/scorer-trees.md).
WORD_SCALE: Mapping[str, float] = {"Mistake_Identification": 2.0, REVEALS: 2.0}
_OVERLAP = ("overlap_learner", "overlap_response", "quotes_learner_3gram")
_REVEALING = (
    "reveal_phrase",
    "solution_numbers_new",
    "final_new_in_response",
    "learner_final_is_final",
)
_LEARNER_NUMBERS = (
    "learner_numbers_in_response",
    "learner_new_numbers",
    "quotes_learner_new_number",
    "response_new_vs_learner",
)
RESTRICTED_CUES = frozenset((*_OVERLAP, *_REVEALING, *_LEARNER_NUMBERS, "hedge"))
CUES_READ: Mapping[str, frozenset[str]] = {
    "Revealing_of_the_Answer": frozenset((*_OVERLAP, *_REVEALING)),
    REVEALS: frozenset((*_OVERLAP, *_REVEALING)),
    "Actionability": frozenset((*_LEARNER_NUMBERS, "hedge")),
}


@dataclass(frozen=True, slots=True)
class NBHead:
    """A one-vs-rest head over words weighed by their Naive-Bayes log-count ratios.

    Each label's binary logistic regression reads the word block scaled, word by word, by how much
    more often the word occurs with that label than without it (Wang and Manning, 2012), the ratio
    raised to ``power`` (keeping its sign). Its logits are averaged with the multinomial head's,
    ``share`` of the weight to this one (1.0: this head alone). The ratios and the average fold
    into one weight matrix: scoring is unchanged.
    """

    power: float
    share: float

    def to_json(self) -> dict[str, float]:
        return {"power": self.power, "share": self.share}


# Measured by cross-validation on MRBench's shared half over four assignments of dialogues to folds:
# each raised its dimension on all four (mistake identification +0.013, guidance +0.008,
# actionability +0.012 on average); mistake location and the reveal heads lost with any of them.
# Against plain heads in the shipped scorer's own run: +0.007, +0.005, +0.016.
NB_HEADS: Mapping[str, NBHead] = {
    "Mistake_Identification": NBHead(1.0, 0.5),
    "Providing_Guidance": NBHead(1.0, 0.5),
    "Actionability": NBHead(0.5, 1.0),
}


@dataclass(frozen=True, slots=True)
class TreeHead:
    """Boosted trees over the cues, mixed into a head: ``share`` of its logits are theirs.

    Besides the cues, the trees read the sentence vector along its ``directions`` main axes on the
    training responses. ``iterations`` rounds of one tree per label (one in all for two labels),
    each at most ``depth`` deep with at least ``min_leaf`` responses per leaf, shrunk by
    ``learning_rate`` (scikit-learn's histogram gradient boosting, labels balanced as the linear
    head's are).
    """

    share: float
    directions: int = 16
    iterations: int = 50
    learning_rate: float = 0.05
    depth: int = 3
    min_leaf: int = 20

    def to_json(self) -> dict[str, float]:
        return {
            "share": self.share,
            "directions": self.directions,
            "iterations": self.iterations,
            "learning_rate": self.learning_rate,
            "depth": self.depth,
            "min_leaf": self.min_leaf,
        }


# Measured by cross-validation on MRBench's shared half over ten assignments of dialogues to folds
# (bench/scorer-trees.md); mistake location and reveals_answer gained nothing sure: they have none.
TREE_HEADS: Mapping[str, TreeHead] = {
    "Mistake_Identification": TreeHead(0.5),
    "Providing_Guidance": TreeHead(0.5),
    "Actionability": TreeHead(0.5),
}
ATTRIBUTION = {
    "derived_from": "MRBench (Maurya et al., NAACL 2025; BEA 2025 shared task)",
    "licence": "CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)",
    "attribution": (
        "Weights trained on human labels of MRBench: K. K. Maurya, KV A. Srivatsa, K. Petukhova, "
        "E. Kochmar, 'Unifying AI Tutor Evaluation: An Evaluation Taxonomy for Pedagogical "
        "Ability Assessment of LLM-Powered AI Tutors', NAACL 2025. Shared under the same licence."
    ),
}


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled tutor response, with the dialogue it answers and that dialogue's group."""

    group: str
    context: Cut
    response: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def label(self, dimension: str) -> str | None:
        """The human label on ``dimension`` (``reveals_answer``: any "Yes ..." is "Yes")."""
        if dimension == REVEALS:
            revealing = self.labels.get("Revealing_of_the_Answer")
            return None if revealing is None else ("No" if revealing == "No" else "Yes")
        return self.labels.get(dimension)


@dataclass(frozen=True, slots=True)
class TrainedScorer:
    """A trained scorer and its cross-validated agreement on dialogues it did not see."""

    scorer: PedagogyScorer
    cross_validation: AgreementReport


def examples(dialogues: Sequence[LabelledDialogue]) -> list[Example]:
    """Every labelled response once.

    The same response (its dialogue, its tutor, its words, spacing aside) in two files is one
    example with the labels of both; two responses that differ are two examples, whatever else
    they share (MRBench repeats some dialogues under other ids, with other responses).
    """
    merged: dict[tuple[str, str, str], Example] = {}
    for item in dialogues:
        cut = item.cut
        group = cut.text
        for response in item.responses:
            key = (group, response.tutor, " ".join(response.text.split()))
            before = merged.get(key)
            if before is None:
                merged[key] = Example(group, cut, response.text, dict(response.labels))
            else:
                labels = {**response.labels, **before.labels}
                context = before.context if before.context.solution else cut
                merged[key] = Example(group, context, before.response, labels)
    return list(merged.values())


def train_scorer(
    dialogues: Sequence[LabelledDialogue],
    embedder: Embedder,
    *,
    folds: int = 5,
    c: float = 2.0,
    min_df: int = 2,
    reveal_precision: float = REVEAL_PRECISION,
    encoder_window: int | None = ENCODER_WINDOW,
    nb_heads: Mapping[str, NBHead] = NB_HEADS,
    tree_heads: Mapping[str, TreeHead] = TREE_HEADS,
) -> TrainedScorer:
    """Fit one head per dimension on every example; report ``folds``-fold grouped agreement.

    The ``reveals_answer`` threshold is the lowest probability of "Yes" whose out-of-fold
    precision is at least ``reveal_precision`` (the answer checks flag what it calls revealing).
    ``nb_heads``: the dimensions whose head mixes in a one-vs-rest Naive-Bayes head (``{}``: none);
    ``tree_heads``: those whose head mixes in boosted trees over the cues (``{}``: none).
    """
    if not (is_number(reveal_precision) and 0.0 < reveal_precision < 1.0):
        raise ConfigError(f"reveal_precision must lie between 0 and 1, got {reveal_precision!r}")
    if encoder_window is not None:
        check_int("encoder_window", encoder_window, low=MIN_WINDOW)
    _check_nb_heads(nb_heads)
    _check_tree_heads(tree_heads)
    items = examples(dialogues)
    groups = sorted({e.group for e in items})
    if len(groups) < folds or folds < 2:
        raise DatasetError(
            f"{len(groups)} dialogues cannot be split into {folds} folds: give more dialogues"
        )
    dimensions = [d for d in DIMENSIONS if any(e.label(d) is not None for e in items)]
    if not dimensions:
        raise DatasetError("no response carries a label of " + ", ".join(DIMENSIONS))
    sentences = embedder.embed([window(e.response, encoder_window) for e in items])
    fold_of = _folds([e.group for e in items], folds)
    options = FitOptions(c, min_df, nb_heads, tree_heads)
    held_out = out_of_fold(items, sentences, embedder, dimensions, fold_of, options)
    cross_validation = held_out.agreement(items)
    thresholds = {}
    if REVEALS in dimensions:
        labelled = [i for i, e in enumerate(items) if e.label(REVEALS) is not None]
        thresholds[REVEALS] = precise_threshold(
            [items[i].label(REVEALS) == "Yes" for i in labelled],
            held_out.probabilities[REVEALS][labelled, head_labels(REVEALS).index("Yes")],
            reveal_precision,
        )
    model = _fit(items, sentences, embedder, dimensions, options)
    about = {
        **ATTRIBUTION,
        "trained_on": {"dialogues": len(groups), "responses": len(items)},
        "options": {
            "c": c,
            "min_df": min_df,
            "folds": folds,
            "reveal_precision": reveal_precision,
            "nb_heads": {name: nb.to_json() for name, nb in nb_heads.items()},
            "tree_heads": {name: t.to_json() for name, t in tree_heads.items()},
        },
        "cross_validation": cross_validation.to_dict()["dimensions"],
    }
    model = ScorerModel(
        model.embedder,
        model.vocabulary,
        model.cue_mean,
        model.cue_scale,
        model.heads,
        about,
        thresholds,
        encoder_window,
    )
    return TrainedScorer(PedagogyScorer(model, embedder), cross_validation)


@dataclass(frozen=True, slots=True)
class FitOptions:
    """How each fit is made: the heads' penalty, the vocabulary's floor and the heads mixed in."""

    c: float
    min_df: int
    nb_heads: Mapping[str, NBHead]
    tree_heads: Mapping[str, TreeHead]


@dataclass(frozen=True, slots=True)
class OutOfFold:
    """What heads fitted without a response's fold said of it.

    Per dimension, its labels (in the head's order, :func:`head_labels`) and each example's
    probability of each (a row per example, in the examples' order; zero for a label the fold's
    training responses never had).
    """

    labels: Mapping[str, tuple[str, ...]]
    probabilities: Mapping[str, NDArray[np.float64]]

    def predicted(self, dimension: str) -> list[str]:
        """Each example's likeliest label on ``dimension``."""
        labels = self.labels[dimension]
        return [labels[int(best)] for best in self.probabilities[dimension].argmax(axis=1)]

    def agreement(self, items: Sequence[Example]) -> AgreementReport:
        """Each dimension's agreement with the human labels of the responses that carry one."""
        report = {}
        for name in self.labels:
            predicted = self.predicted(name)
            labelled = [i for i, e in enumerate(items) if e.label(name) is not None]
            truth = [str(items[i].label(name)) for i in labelled]
            report[name] = agreement(truth, [predicted[i] for i in labelled])
        return AgreementReport(report)


def out_of_fold(
    items: Sequence[Example],
    sentences: NDArray[np.float32],
    embedder: Embedder,
    dimensions: Sequence[str],
    fold_of: Sequence[int],
    options: FitOptions,
) -> OutOfFold:
    """Fit on every fold but one and score the one left out, for each fold of ``fold_of``."""
    labels = {name: head_labels(name) for name in dimensions}
    probabilities = {name: np.zeros((len(items), len(labels[name]))) for name in dimensions}
    folds = max(fold_of) + 1
    for k in range(folds):
        train = [i for i in range(len(items)) if fold_of[i] != k]
        test = [i for i in range(len(items)) if fold_of[i] == k]
        model = _fit([items[i] for i in train], sentences[train], embedder, dimensions, options)
        rows = _rows(model, [items[i] for i in test], sentences[test])
        for name, head in model.heads.items():
            columns = [labels[name].index(label) for label in head.labels]
            probabilities[name][np.ix_(test, columns)] = head.probabilities(rows)
        logger.info("scorer cross-validation: fold %d of %d done", k + 1, folds)
    return OutOfFold(labels, probabilities)


def head_labels(dimension: str) -> tuple[str, ...]:
    """The labels a head of ``dimension`` can give, in its order."""
    return ("Yes", "No") if dimension == REVEALS else LABELS[dimension]


def precise_threshold(
    truth: Sequence[bool], p: Sequence[float] | NDArray[np.float64], precision: float
) -> Threshold:
    """The lowest threshold on ``p`` at which "p >= threshold" is right ``precision`` of the time.

    Of the thresholds that reach the precision, the lowest finds the most (the highest recall);
    when none does, the one with the best precision (its figures say how far it is).
    """
    truth_array = np.asarray(truth, dtype=bool)
    p_array = np.asarray(p, dtype=np.float64)
    positives = int(truth_array.sum())
    if positives == 0 or positives == len(truth_array):
        raise DatasetError("choosing a threshold needs responses labelled both ways")
    candidates = []
    for threshold in np.unique(p_array):
        flagged = p_array >= threshold
        hits = int((flagged & truth_array).sum())
        candidates.append(
            Threshold(
                "Yes",
                float(f"{threshold:.5g}"),
                hits / int(flagged.sum()),
                hits / positives,
                len(truth_array),
            )
        )
    reaching = [t for t in candidates if t.precision >= precision]
    if reaching:
        return min(reaching, key=lambda t: t.p)
    logger.warning("no threshold reaches a precision of %.2f", precision)
    return max(candidates, key=lambda t: (t.precision, t.recall))


def _folds(groups: Sequence[str], folds: int, *, shuffle: int | None = None) -> list[int]:
    # whole dialogues to folds, each to the emptiest fold: the largest first (as GroupKFold
    # balances), or in an order shuffled by the seed ``shuffle`` (another assignment, as balanced)
    sizes: dict[str, int] = {}
    for g in groups:
        sizes[g] = sizes.get(g, 0) + 1
    load = [0] * folds
    fold_of_group = {}
    order = sorted(sizes, key=lambda g: (-sizes[g], g))
    if shuffle is not None:
        order = list(sizes)
        np.random.default_rng(shuffle).shuffle(order)
    for g in order:
        k = int(np.argmin(load))
        fold_of_group[g] = k
        load[k] += sizes[g]
    return [fold_of_group[g] for g in groups]


def _fit(
    items: Sequence[Example],
    sentences: NDArray[np.float32],
    embedder: Embedder,
    dimensions: Sequence[str],
    options: FitOptions,
) -> ScorerModel:
    linear_model = _sklearn()
    tree_heads = options.tree_heads
    from ..embedders._spec import spec_of

    vocabulary = WordVocabulary.fit((e.response for e in items), min_df=options.min_df)
    cues = np.stack([cue_features(e.context, e.response) for e in items])
    mean = cues.mean(axis=0)
    spread = cues.std(axis=0)
    spread = np.where(spread > 1e-9, spread, 1.0)
    shell = ScorerModel(spec_of(embedder), vocabulary, mean, spread, {})
    rows = _rows(shell, items, sentences)
    # the sentence vector's main axes on these responses, for the trees that read it
    wanted = max((tree_heads[n].directions for n in dimensions if n in tree_heads), default=0)
    sentence = rows[:, : shell.embedder.dim or 0].astype(np.float64)
    axes = main_directions(sentence, wanted) if wanted else np.zeros((0, sentence.shape[1]))
    heads = {}
    for name in dimensions:
        labelled = [i for i, e in enumerate(items) if e.label(name) is not None]
        y = np.asarray([items[i].label(name) for i in labelled])
        allowed = head_labels(name)
        if len(set(y)) < 2:
            said = (
                f"all {len(y)} labelled responses one fit reads have the label {y[0]!r}"
                if len(y)
                else f"none of the {len(items)} responses one fit reads is labelled"
            )
            raise DatasetError(f"{name}: {said}: give more labelled dialogues (or fewer folds)")
        # the word block scaled and the cues this head does not read zeroed, in training; the
        # same folded into its weights, so scoring reads the file's rows unchanged
        emphasis = WORD_SCALE.get(name, 1.0)
        first = shell.embedder.dim or 0
        words = slice(first, first + len(vocabulary.terms))
        unread = [
            first + len(vocabulary.terms) + j
            for j, cue in enumerate(CUES)
            if cue in RESTRICTED_CUES and cue not in CUES_READ.get(name, ())
        ]
        x = rows[labelled].copy()
        x[:, words] *= emphasis
        x[:, unread] = 0.0
        classes, coef, bias = _linear_head(
            linear_model, x, y, words, options.c, options.nb_heads.get(name)
        )
        coef[:, words] *= emphasis
        coef[:, unread] = 0.0
        order = [classes.index(label) for label in allowed if label in classes]
        labels = tuple(classes[i] for i in order)
        tree_head = tree_heads.get(name)
        heads[name] = Head(
            labels,
            coef[order].astype(np.float32),
            bias[order].astype(np.float32),
            None
            if tree_head is None
            else _trees(rows[labelled], y, labels, tree_head, axes[: tree_head.directions]),
        )
    return ScorerModel(shell.embedder, vocabulary, mean, spread, heads)


def _trees(
    rows: NDArray[np.float32],
    y: NDArray[Any],
    labels: tuple[str, ...],
    spec: TreeHead,
    directions: NDArray[np.float64],
) -> TreeEnsemble:
    """Trees over the cue columns of ``rows`` (the last ones) for the head's ``labels``.

    They also read the rows' sentence vectors along ``directions``. Like the linear head, they
    learn from the rows whose label is one of the head's.
    """
    fitted = _sklearn_trees()(
        max_iter=spec.iterations,
        learning_rate=spec.learning_rate,
        max_depth=spec.depth,
        min_samples_leaf=spec.min_leaf,
        l2_regularization=1.0,
        class_weight="balanced",
        early_stopping=False,
    )
    columns = list(range(rows.shape[1] - len(CUES), rows.shape[1]))
    kept = np.isin(y, labels)
    x = rows[kept].astype(np.float64)
    fitted.fit(tree_inputs(x, columns, directions), y[kept])
    return trees_from_sklearn(
        fitted, labels, columns, directions, spec.share, width=rows.shape[1], check=x
    )


def _linear_head(
    linear_model: Any,
    x: NDArray[Any],
    y: NDArray[Any],
    words: slice,
    c: float,
    nb: NBHead | None,
) -> tuple[list[str], NDArray[np.float64], NDArray[np.float64]]:
    """Labels, one weight row and one bias per label: the multinomial head, an NB head, or a mix."""
    classes = sorted(str(label) for label in set(y.tolist()))
    coef = np.zeros((len(classes), x.shape[1]))
    bias = np.zeros(len(classes))
    share = 0.0 if nb is None else nb.share

    def fit(features: NDArray[Any], target: NDArray[Any]) -> Any:
        return linear_model.LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(
            features, target
        )

    if share < 1.0:
        fitted = fit(x, y)
        rows = np.asarray(fitted.coef_, dtype=np.float64)
        intercepts = np.asarray(fitted.intercept_, dtype=np.float64)
        if len(classes) == 2:  # one logit for the second class: softmax([0, z]) is sigmoid(z)
            rows = np.vstack([np.zeros_like(rows), rows])
            intercepts = np.concatenate([np.zeros(1), intercepts])
        coef += (1.0 - share) * rows
        bias += (1.0 - share) * intercepts
    if nb is not None:
        present = x[:, words] > 0
        scaled = x.copy()  # one copy of the rows; each label rewrites only its word block
        # two labels: one binary head, for the second (the first keeps a zero logit)
        for row, label in enumerate(classes):
            if len(classes) == 2 and row == 0:
                continue
            positive = y == label
            ratio = nb_ratio(present, positive, nb.power)
            scaled[:, words] = x[:, words] * ratio
            fitted = fit(scaled, positive)
            weights = np.asarray(fitted.coef_[0], dtype=np.float64).copy()
            weights[words] *= ratio  # the ratio folded into the weights: scoring reads x itself
            coef[row] += share * weights
            bias[row] += share * float(fitted.intercept_[0])
    return classes, coef, bias


def nb_ratio(
    present: NDArray[np.bool_], positive: NDArray[np.bool_], power: float
) -> NDArray[np.float64]:
    """Each word's log-count ratio for the ``positive`` rows against the rest, ``power``-ed.

    >>> present = np.array([[True, False], [True, True], [False, True]])
    >>> nb_ratio(present, np.array([True, True, False]), 1.0).round(3).tolist()
    [0.588, -0.511]
    """
    with_label = 1.0 + present[positive].sum(axis=0)
    without = 1.0 + present[~positive].sum(axis=0)
    ratio = np.log((with_label / with_label.sum()) / (without / without.sum()))
    return np.asarray(np.sign(ratio) * np.abs(ratio) ** power, dtype=np.float64)


def _check_mixed(option: str, heads: Mapping[str, Any], kind: type, called: str) -> None:
    """What both options of heads mixed in hold: known dimensions, each ``kind``, a share."""
    if not isinstance(heads, Mapping):
        raise ConfigError(f"{option} must map dimensions to {kind.__name__}, got {heads!r}")
    for name, spec in heads.items():
        if name not in DIMENSIONS:
            raise ConfigError(
                f"{option}: unknown dimension {name!r}: choose among {', '.join(DIMENSIONS)}"
            )
        if not isinstance(spec, kind):
            raise ConfigError(f"{option}[{name!r}] must be {called}, got {spec!r}")
        share = getattr(spec, "share", None)
        if not (is_number(share) and 0.0 < share <= 1.0):
            raise ConfigError(f"{option}[{name!r}].share must lie in (0, 1]")


def _check_nb_heads(nb_heads: Mapping[str, NBHead]) -> None:
    _check_mixed("nb_heads", nb_heads, NBHead, "an NBHead")
    for name, nb in nb_heads.items():
        if not (is_number(nb.power) and nb.power > 0):
            raise ConfigError(f"nb_heads[{name!r}].power must be a positive number")


def _check_tree_heads(tree_heads: Mapping[str, TreeHead]) -> None:
    _check_mixed("tree_heads", tree_heads, TreeHead, "a TreeHead")
    for name, spec in tree_heads.items():
        if not (is_number(spec.learning_rate) and spec.learning_rate > 0):
            raise ConfigError(f"tree_heads[{name!r}].learning_rate must be a positive number")
        check_int(f"tree_heads[{name!r}].directions", spec.directions, low=0)
        check_int(f"tree_heads[{name!r}].iterations", spec.iterations, low=1)
        check_int(f"tree_heads[{name!r}].depth", spec.depth, low=1, high=MAX_DEPTH)
        check_int(f"tree_heads[{name!r}].min_leaf", spec.min_leaf, low=1)


def _rows(model: ScorerModel, items: Sequence[Example], sentences: NDArray[Any]) -> Any:
    return rows(model, sentences, [(e.context, e.response) for e in items])


def _sklearn() -> Any:
    try:
        from sklearn import linear_model  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise ConfigError(
            "training a scorer needs scikit-learn: pip install 'neulora[eval]'"
        ) from exc
    return linear_model


def _sklearn_trees() -> Any:
    _sklearn()  # the same missing extra, the same message
    from sklearn.ensemble import (  # type: ignore[import-untyped,unused-ignore]
        HistGradientBoostingClassifier,
    )

    return HistGradientBoostingClassifier
