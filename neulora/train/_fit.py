"""Fitting and evaluating routers: centroids, a linear head, thresholds, reports against baselines.

Routing stays in :mod:`neulora.router`; this module makes and measures routers (as model2vec keeps
``StaticModel`` to inference and training in ``model2vec.train``). Two heads score the styles:

- nearest centroid (``head=None``): each style is the mean of its unit-norm example embeddings;
- :class:`LinearHead`: multinomial logistic regression on the unit-norm embeddings, class-balanced
  and deterministic; the router's scores are then its softmax probabilities, saved in the router
  file.

>>> from neulora.embedders import HashingEmbedder
>>> from neulora.train import LinearHead, evaluate, fit
>>> texts = ["what is a log", "define a logarithm", "why does it work", "why is that so"]
>>> labels = ["direct", "direct", "socratic", "socratic"]
>>> router = fit(texts, labels, HashingEmbedder(dim=256), head=LinearHead())
>>> router.route("why is it so").style, evaluate(router, texts, labels).accuracy
('socratic', 1.0)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import check_int, check_number
from .._styles import DEFAULT_STYLES
from ..embedders._base import Embedder
from ..embedders._spec import spec_of
from ..errors import ConfigError, InvalidInputError
from ..routing._centroid import CentroidRouter, format_router_inputs
from ..routing._decision import FallbackRule, RouteBatch
from ..routing._file import Linear, RouterSpec
from ..routing._state import DialogueState, StateFeatures
from ._metrics import RouterReport, report_from_predictions

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

_History = Sequence[Any] | None


@dataclass(frozen=True, slots=True)
class LinearHead:
    """Multinomial logistic regression trained by full-batch gradient descent.

    Same data, same weights.

    The loss is the cross-entropy, each example weighted by ``n / (n_styles * count of its style)``
    when ``balanced`` (so every style weighs the same in total, however rare), plus ``l2 / 2 *
    |weight|^2`` (the bias is not penalised). Training starts from zeros and takes ``steps``
    Nesterov-accelerated gradient steps of size ``1 / L``, ``L`` the loss's smoothness bound: no
    randomness, no tolerance-dependent stopping.

    >>> import numpy as np
    >>> x = np.array([[1.0, 0.1], [0.9, -0.1], [0.1, 1.0], [-0.1, 0.9]])
    >>> unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    >>> layer = LinearHead(l2=1e-3).train(unit, np.array([0, 0, 1, 1]), 2)
    >>> layer.weight.shape, layer.bias.shape, bool(layer.weight[0, 0] > layer.weight[1, 0])
    ((2, 2), (2,), True)
    """

    l2: float = 1e-3
    steps: int = 500
    balanced: bool = True

    def __post_init__(self) -> None:
        check_number("LinearHead l2", self.l2, above=0)
        check_int("LinearHead steps", self.steps)

    def train(self, x: NDArray[np.float64], y: NDArray[np.int64], n_styles: int) -> Linear:
        """Fit ``(n_styles, dim)`` weights and ``(n_styles,)`` biases to unit rows ``x``, ``y``."""
        n, dim = x.shape
        counts = np.bincount(y, minlength=n_styles).astype(np.float64)
        per_style = n / (n_styles * np.maximum(counts, 1.0)) if self.balanced else np.ones(n_styles)
        w = per_style[y]
        w /= w.sum()
        xb = np.hstack([x, np.ones((n, 1))])  # the bias is the last column's weight
        onehot = np.eye(n_styles)[y]
        # Softmax cross-entropy has Hessian <= 1/2 in the logits, so L = 1/2 |sqrt(w) xb|_2^2 + l2
        # bounds it.
        smooth = 0.5 * float(np.linalg.norm(np.sqrt(w)[:, None] * xb, 2)) ** 2 + self.l2
        penalty = np.ones(dim + 1)
        penalty[-1] = 0.0
        theta = np.zeros((dim + 1, n_styles))
        ahead = theta
        t = 1.0
        for _ in range(self.steps):
            logits = xb @ ahead
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            grad = xb.T @ (w[:, None] * (p - onehot)) + self.l2 * penalty[:, None] * ahead
            step = ahead - grad / smooth
            t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
            ahead = step + ((t - 1.0) / t_next) * (step - theta)
            theta = step
            t = t_next
        logger.debug(
            "linear head: %d examples, dim %d, %d steps, L=%.4g", n, dim, self.steps, smooth
        )
        return Linear(np.ascontiguousarray(theta[:-1].T), theta[-1].copy())


def fit_vectors(
    vectors: NDArray[Any],
    labels: Sequence[str],
    embedder: Embedder,
    *,
    head: LinearHead | None = None,
    styles: Sequence[str] | None = None,
    states: Sequence[DialogueState | None] | None = None,
    unknown_share: float = 0.15,
    **options: Any,
) -> CentroidRouter:
    """A router trained on embeddings the caller already has.

    ``embedder`` made them and will route with them.

    Centroids are the means of the unit-norm vectors of each style (the router file always carries
    them); with ``head`` the router scores with that trained classifier instead. With ``states``
    (each row's :class:`~neulora.routing.DialogueState`, the style of the tutor message the learner
    answered) the head is a state head: it reads each row's state beside its vector. A session's
    first turn, or a turn that brings its own history, has no known previous style: so that the
    head learns what to do then, ``unknown_share`` of the rows (every row at a fixed stride) are
    also trained once more with no previous style. ``options`` go to :class:`CentroidRouter`.
    """
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(labels) or not len(labels):
        raise ConfigError(
            f"fit needs as many labels as vectors, and at least one ({x.shape} vs {len(labels)})"
        )
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if not np.all(np.isfinite(x)) or not np.all(norms > 0):
        raise ConfigError("training vectors must be finite and non-zero")
    names = _styles_for(labels, styles)
    y = np.array([names.index(lab) for lab in labels], dtype=np.int64)
    counts = np.bincount(y, minlength=len(names))
    empty = [s for s, c in zip(names, counts, strict=True) if c == 0]
    if empty:
        raise ConfigError(f"no training examples for style(s) {empty}")
    unit = x / norms
    centroids = np.stack([unit[y == i].mean(axis=0) for i in range(len(names))])
    classifier = None
    if states is not None:
        if head is None:
            raise ConfigError("a router that reads the dialogue's state needs a head: LinearHead()")
        if len(states) != len(labels):
            raise ConfigError(f"{len(labels)} labels but {len(states)} dialogue states")
        check_number("unknown_share", unknown_share, low=0.0, high=1.0)
        features = StateFeatures(names)
        x_state = np.hstack([unit, features.encode(states)])
        again = _every(len(states), unknown_share)
        unknown = [DialogueState(None, (states[i] or DialogueState()).turn) for i in again]
        x_unknown = np.hstack([unit[again], features.encode(unknown)])
        layer = head.train(
            np.vstack([x_state, x_unknown]), np.concatenate([y, y[again]]), len(names)
        )
        classifier = Linear(layer.weight, layer.bias, features)
    elif head is not None:
        classifier = head.train(unit, y, len(names))
    spec = RouterSpec(
        names,
        centroids,
        spec_of(embedder).to_json(),
        {s: int(c) for s, c in zip(names, counts, strict=True)},
        classifier=classifier,
    )
    logger.info(
        "trained a %s router on %d examples, %d styles, dim %d",
        spec.head,
        len(y),
        len(names),
        spec.dim,
    )
    return CentroidRouter.from_spec(spec, embedder, **options)


def _every(n: int, share: float) -> NDArray[np.int64]:
    """``share`` of ``range(n)``, spread evenly (no randomness: same data, same router)."""
    count = round(n * share)
    if not count:
        return np.zeros(0, np.int64)
    return np.unique(np.linspace(0, n - 1, count).round().astype(np.int64))


def fit(
    texts: Sequence[str],
    labels: Sequence[str],
    embedder: Embedder,
    *,
    head: LinearHead | None = None,
    styles: Sequence[str] | None = None,
    histories: Sequence[_History] | None = None,
    **options: Any,
) -> CentroidRouter:
    """Embed ``texts`` (with ``histories``, as the router will) and train a router on them.

    See :func:`fit_vectors`.

    ``styles`` fixes the order (default: the four known styles first, then the others sorted).
    """
    if len(texts) != len(labels) or not texts:
        raise ConfigError(
            f"fit needs as many labels as texts, and at least one ({len(texts)} vs {len(labels)})"
        )
    _styles_for(labels, styles)  # refuse bad labels before the (possibly slow) embedding
    inputs = format_router_inputs(
        texts,
        histories,
        turns=options.get("history_turns", 6),
        max_chars=options.get("max_chars", 8192),
    )
    return fit_vectors(
        embedder.embed(inputs), labels, embedder, head=head, styles=styles, **options
    )


def from_examples(
    examples: Mapping[str, Sequence[str]],
    embedder: Embedder,
    *,
    head: LinearHead | None = None,
    **options: Any,
) -> CentroidRouter:
    """Train from ``{style: [example utterances]}``; the mapping's order is the styles' order."""
    texts = [t for ex in examples.values() for t in ex]
    labels = [s for s, ex in examples.items() for _ in ex]
    return fit(texts, labels, embedder, head=head, styles=list(examples), **options)


def evaluate(
    router: CentroidRouter,
    texts: Sequence[str],
    labels: Sequence[str],
    histories: Sequence[_History] | None = None,
) -> RouterReport:
    """Accuracy, macro-F1, per-style scores, confusion, fallbacks, baselines on labelled texts."""
    truth = _truth(router, labels, len(texts))
    return _report(router, router.route_many(texts, histories), truth)


def evaluate_vectors(
    router: CentroidRouter,
    vectors: NDArray[Any],
    labels: Sequence[str],
    *,
    previous: Sequence[str | None] | None = None,
    states: Sequence[DialogueState | None] | None = None,
) -> RouterReport:
    """:func:`evaluate` on embeddings the caller already has.

    ``previous``: each row's style of the tutor's previous move (None: none), for the previous-style
    baseline; ``states``: each row's dialogue state, for a router that reads it.
    """
    truth = _truth(router, labels, len(vectors))
    before = None
    if previous is not None:
        known = [p for p in previous if p is not None]
        _truth(router, known, len(known))  # the same check of style names as the labels get
        if len(previous) != len(labels):
            raise InvalidInputError(f"{len(labels)} labels but {len(previous)} previous styles")
        before = [None if p is None else router.styles.index(p) for p in previous]
    batch = router.route_vectors(vectors, states=states)
    return report_from_predictions(
        router.styles,
        truth,
        batch.chosen,
        batch.fallback,
        router=router.to_spec().head,
        embedder=router.embedder.name,
        previous=before,
        scores=batch.scores,
        probabilities=router.to_spec().head != "centroid",
    )


def fit_threshold(
    router: CentroidRouter,
    texts: Sequence[str],
    labels: Sequence[str],
    histories: Sequence[_History] | None = None,
    *,
    steps: int = 20,
) -> CentroidRouter:
    """A copy of ``router`` with the ``threshold``/``min_margin`` pair that maximises accuracy.

    Grid search.

    Candidates are the quantiles 0, 1/steps, ... 0.5 of the top scores and margins, plus "off"; ties
    keep the earlier (less fallback) candidate. Each candidate is a :class:`FallbackRule` applied as
    routing applies it.
    """
    truth = np.asarray(_truth(router, labels, len(texts)))
    base = router.with_options(threshold=None, min_margin=None).route_many(texts, histories)
    top = base.scores.max(axis=1)
    qs = np.linspace(0.0, 0.5, steps // 2 + 1)
    fallback = router.rule.fallback_style
    best = (float(np.mean(base.best == truth)), None, None)
    for t in [None, *np.unique(np.quantile(top, qs)).tolist()]:
        for m in [None, *np.unique(np.quantile(base.margins, qs)).tolist()]:
            rule = FallbackRule(threshold=t, min_margin=m, fallback_style=fallback)
            acc = float(np.mean(RouteBatch(router.styles, base.scores, rule).chosen == truth))
            if acc > best[0] + 1e-12:
                best = (acc, t, m)
    logger.debug("fit_threshold: accuracy %.4f at threshold=%s min_margin=%s", *best)
    return router.with_options(threshold=best[1], min_margin=best[2])


def _styles_for(labels: Sequence[str], styles: Sequence[str] | None) -> tuple[str, ...]:
    if styles is None:
        seen = set(labels)
        styles = [s for s in DEFAULT_STYLES if s in seen] + sorted(seen - set(DEFAULT_STYLES))
    names = tuple(styles)
    unknown = sorted(set(labels) - set(names))
    if unknown:
        raise ConfigError(f"labels not among the styles {list(names)}: {unknown}")
    return names


def _truth(router: CentroidRouter, labels: Sequence[str], n: int) -> list[int]:
    if len(labels) != n:
        raise InvalidInputError(f"{n} examples but {len(labels)} labels")
    unknown = sorted(set(labels) - set(router.styles))
    if unknown:
        raise InvalidInputError(f"labels not among the styles {list(router.styles)}: {unknown}")
    return [router.styles.index(lab) for lab in labels]


def _report(router: CentroidRouter, batch: RouteBatch, truth: list[int]) -> RouterReport:
    return report_from_predictions(
        router.styles,
        truth,
        batch.chosen,
        batch.fallback,
        router=router.to_spec().head,
        embedder=router.embedder.name,
    )
