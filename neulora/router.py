"""Style routing: the learner's question goes to the nearest of four per-style centroids.

>>> from neulora import CentroidRouter
>>> from neulora.embeddings import HashingEmbedder
>>> router = CentroidRouter.from_examples(
...     {"direct": ["what is a logarithm"], "socratic": ["why does this work"]}, HashingEmbedder(dim=256))
>>> router.route("what is a logarithm?").style
'direct'
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from .embeddings import Embedder, embedder_from_spec
from .errors import ConfigError, InvalidInputError, RouterFileError
from .metrics import RouterReport, report_from_predictions
from .routerfile import RouterSpec, dump_spec, load_spec
from .styles import DEFAULT_STYLES
from .text import check_text, truncate

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["DEFAULT_STYLES", "CentroidRouter", "RouteBatch", "RouteDecision", "format_router_input"]

logger = logging.getLogger(__name__)

_USER_ROLES = {"user", "student", "human", "learner"}


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Which style was chosen, why, and every style's score.

    >>> d = RouteDecision("socratic", {"direct": 0.31, "socratic": 0.52}, margin=0.21, reason="nearest centroid")
    >>> d
    RouteDecision(style='socratic', top=0.520, margin=0.210)
    >>> RouteDecision.forced_to("direct").forced
    True
    """

    style: str
    scores: dict[str, float]
    margin: float
    fallback: bool = False
    reason: str = ""
    forced: bool = False

    def __repr__(self) -> str:
        flag = " fallback" if self.fallback else " forced" if self.forced else ""
        top = max(self.scores.values()) if self.scores else float("nan")
        return f"RouteDecision(style={self.style!r}{flag}, top={top:.3f}, margin={self.margin:.3f})"

    @classmethod
    def forced_to(cls, style: str) -> RouteDecision:
        """A decision made by the caller, not by the router."""
        return cls(style=style, scores={}, margin=0.0, fallback=False, reason="style forced by the caller", forced=True)


class RouteBatch(Sequence[RouteDecision]):
    """Decisions for many inputs, kept as arrays; indexing builds one :class:`RouteDecision`.

    >>> import numpy as np
    >>> from neulora.embeddings import HashingEmbedder
    >>> router = CentroidRouter(["direct", "socratic"], np.eye(2, 8), HashingEmbedder(dim=8))
    >>> batch = router.route_vectors(np.array([[1.0, 0.1, 0, 0, 0, 0, 0, 0], [0.2, 1.0, 0, 0, 0, 0, 0, 0]]))
    >>> batch.style_names(), batch.scores.shape
    (['direct', 'socratic'], (2, 2))
    """

    def __init__(self, router: CentroidRouter, scores: NDArray[Any]) -> None:
        self.styles = router.styles
        self.scores = scores
        order = np.argsort(scores, axis=1)
        self.best = order[:, -1]
        rows = np.arange(scores.shape[0])
        top1 = scores[rows, self.best]
        self.margins = top1 - scores[rows, order[:, -2]]
        fallback = np.zeros(scores.shape[0], dtype=bool)
        if router.threshold is not None:
            fallback |= top1 < router.threshold
        if router.min_margin is not None:
            fallback |= self.margins < router.min_margin
        self.fallback = fallback
        self.chosen = np.where(fallback, router.styles.index(router.fallback_style), self.best)
        self._router = router

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @overload
    def __getitem__(self, i: int) -> RouteDecision: ...
    @overload
    def __getitem__(self, i: slice) -> list[RouteDecision]: ...
    def __getitem__(self, i: int | slice) -> RouteDecision | list[RouteDecision]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self._router.decide(self.scores[i].tolist())

    def __iter__(self) -> Iterator[RouteDecision]:
        return (self[i] for i in range(len(self)))

    def style_names(self) -> list[str]:
        """The chosen style of every input."""
        return [self.styles[int(i)] for i in self.chosen]


def format_router_input(query: str, history: Sequence[Any] | None, *, turns: int = 6) -> str:
    """The router's input: the bare query, or the original evaluation's history format when history is given."""
    if not history:
        return query
    lines = []
    for turn in list(history)[-turns:]:
        role, content = (turn.get("role"), turn.get("content")) if isinstance(turn, Mapping) else turn
        label = "User" if str(role).lower() in _USER_ROLES else "Assistant"
        lines.append(f"{label}: {content}")
    return "History:\n" + "\n".join(lines) + "\n\nCurrent user query:\n" + query


class CentroidRouter:
    """Routes text (or an embedding) to the style whose centroid is most similar by cosine.

    When the file carries an ``mlp2`` classifier its softmax probabilities are the scores instead. Below
    ``threshold`` (top score) or ``min_margin`` (top1 - top2) the decision is ``fallback_style``, flagged
    as a fallback. Inputs longer than ``max_chars`` are truncated before embedding.
    """

    def __init__(
        self,
        styles: Sequence[str],
        centroids: NDArray[Any],
        embedder: Embedder,
        *,
        threshold: float | None = None,
        min_margin: float | None = None,
        fallback_style: str | None = None,
        label_counts: Mapping[str, int] | None = None,
        spec: RouterSpec | None = None,
        history_turns: int = 6,
        max_chars: int = 8192,
    ) -> None:
        matrix = np.asarray(centroids, dtype=np.float64)
        self.styles = tuple(styles)
        if matrix.ndim != 2 or matrix.shape[0] != len(self.styles):
            raise ConfigError(f"centroids must be ({len(self.styles)}, dim), got {matrix.shape}")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        if not np.all(np.isfinite(matrix)) or not np.all(norms > 0):
            raise ConfigError("centroids must be finite and non-zero")
        fallback_style = fallback_style or _default_fallback(self.styles)
        if fallback_style not in self.styles:
            raise ConfigError(f"fallback_style {fallback_style!r} is not among {list(self.styles)}")
        self.embedder = embedder
        self.threshold = threshold
        self.min_margin = min_margin
        self.fallback_style = fallback_style
        self.history_turns = history_turns
        self.max_chars = max_chars
        self._spec = spec or RouterSpec(
            self.styles, matrix, {"backend": "custom", "model_name": embedder.name},
            dict(label_counts) if label_counts is not None else None,
        )
        self._unit64: NDArray[np.float64] = matrix / norms
        self._unit32 = self._unit64.astype(np.float32)

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: RouterSpec, embedder: Embedder | None = None, **options: Any) -> CentroidRouter:
        """Build from a validated :class:`RouterSpec`; without ``embedder``, the one the spec names."""
        if embedder is None:
            if spec.embedder is None:
                raise RouterFileError("router file names no embedder and none was given")
            embedder = embedder_from_spec(spec.embedder, dim=spec.dim)
        options.setdefault("threshold", spec.threshold)
        options.setdefault("fallback_style", spec.fallback_style)
        return cls(spec.styles, spec.centroids, embedder, spec=spec, **options)

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], embedder: Embedder | None = None, **options: Any
    ) -> CentroidRouter:
        """Load and validate ``router_model.json``; the embedder's dimension must match the centroids'."""
        spec = load_spec(path)
        if embedder is not None and embedder.dim != spec.dim:
            raise RouterFileError(
                f"router file {path}: centroid dimension {spec.dim} does not match embedder "
                f"{embedder.name!r} of dimension {embedder.dim}"
            )
        logger.info("loaded router %s: %d styles, dim %d", path, len(spec.styles), spec.dim)
        return cls.from_spec(spec, embedder, **options)

    @classmethod
    def from_hub(
        cls,
        repo_id: str = "marimmo/multi-lora",
        filename: str = "router/router_model.json",
        *,
        embedder: Embedder | None = None,
        revision: str | None = None,
        token: str | None = None,
        **options: Any,
    ) -> CentroidRouter:
        """Download the router file with ``hf_hub_download`` (cached) and load it."""
        import httpx2
        from huggingface_hub import hf_hub_download

        logger.info("downloading %s from %s", filename, repo_id)
        try:
            path = hf_hub_download(repo_id, filename, revision=revision, token=token)
        except (httpx2.HTTPError, OSError, ValueError) as exc:
            raise RouterFileError(f"cannot download {filename} from {repo_id}: {type(exc).__name__}: {exc}") from exc
        return cls.from_file(path, embedder, **options)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        embedder: Embedder,
        *,
        styles: Sequence[str] | None = None,
        histories: Sequence[Sequence[Any] | None] | None = None,
        **options: Any,
    ) -> CentroidRouter:
        """Train centroids: the mean of the normalised embeddings of each style's examples."""
        if len(texts) != len(labels) or not texts:
            raise ConfigError(f"fit needs as many labels as texts, and at least one ({len(texts)} vs {len(labels)})")
        if styles is None:
            seen = set(labels)
            styles = [s for s in DEFAULT_STYLES if s in seen] + sorted(seen - set(DEFAULT_STYLES))
        styles = tuple(styles)
        unknown = sorted(set(labels) - set(styles))
        if unknown:
            raise ConfigError(f"labels not among the styles {list(styles)}: {unknown}")
        vectors = embedder.embed(_inputs(texts, histories, options.get("history_turns", 6)))
        idx = np.array([styles.index(lab) for lab in labels])
        counts = {s: int((idx == i).sum()) for i, s in enumerate(styles)}
        empty = [s for s, c in counts.items() if c == 0]
        if empty:
            raise ConfigError(f"no training examples for style(s) {empty}")
        centroids = np.stack([vectors[idx == i].astype(np.float64).mean(axis=0) for i in range(len(styles))])
        spec = RouterSpec(styles, centroids, {"backend": _backend_of(embedder), "model_name": embedder.name}, counts)
        return cls.from_spec(spec, embedder, **options)

    @classmethod
    def from_examples(cls, examples: Mapping[str, Sequence[str]], embedder: Embedder, **options: Any) -> CentroidRouter:
        """Train from ``{style: [example utterances]}``."""
        texts = [t for ex in examples.values() for t in ex]
        labels = [s for s, ex in examples.items() for _ in ex]
        return cls.fit(texts, labels, embedder, styles=list(examples), **options)

    # -- routing ------------------------------------------------------------------------------------
    def route(self, text: str, history: Sequence[Any] | None = None) -> RouteDecision:
        """Embed ``text`` (with ``history`` if given) and route it."""
        query = check_text(text, what="question")
        vector = self.embedder.embed([self.router_input(query, history)])
        return self.route_vector(vector[0])

    def route_many(self, texts: Sequence[str], histories: Sequence[Sequence[Any] | None] | None = None) -> RouteBatch:
        """Route many texts with one embedding call and one matrix product."""
        for i, t in enumerate(texts):
            check_text(t, what=f"text {i}")
        return self.route_vectors(self.embedder.embed(_inputs(texts, histories, self.history_turns, self.max_chars)),
                                  normalized=True)

    def route_vector(self, vector: NDArray[Any]) -> RouteDecision:
        """Route one embedding the caller already has (a fast path: one matrix-vector product)."""
        v = np.asarray(vector)
        if v.ndim != 1:
            raise InvalidInputError(f"route_vector takes a 1-d vector, got shape {v.shape}")
        if self._spec.classifier is not None or v.dtype not in (np.float32, np.float64) or v.shape[0] != self.dim:
            return self.route_vectors(v[None, :])[0]
        raw = ((self._unit32 if v.dtype == np.float32 else self._unit64) @ v).tolist()
        norm = math.sqrt(float(v @ v))
        scores = [s / norm for s in raw] if norm > 0 else [math.nan]
        if not all(math.isfinite(s) for s in scores):
            raise InvalidInputError("vectors contain NaN or infinity, or a zero vector")
        return self.decide(scores)

    def decide(self, scores: Sequence[float]) -> RouteDecision:
        """The decision for one row of scores (one per style, in ``styles`` order)."""
        order = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)
        top, best = scores[order[0]], self.styles[order[0]]
        margin = top - scores[order[1]]
        fallback = (self.threshold is not None and top < self.threshold) or (
            self.min_margin is not None and margin < self.min_margin)
        return RouteDecision(
            style=self.fallback_style if fallback else best,
            scores=dict(zip(self.styles, (float(s) for s in scores), strict=True)),
            margin=float(margin),
            fallback=fallback,
            reason=self.explain(best, float(top), float(margin), fallback),
        )

    def route_vectors(self, matrix: NDArray[Any], *, normalized: bool = False) -> RouteBatch:
        """Route ``(n, dim)`` embeddings; ``normalized=True`` promises unit rows and skips one pass."""
        x = np.asarray(matrix)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise InvalidInputError(f"expected vectors of shape (n, {self.dim}), got {x.shape}")
        if x.dtype not in (np.float32, np.float64):
            if not np.issubdtype(x.dtype, np.number):
                raise InvalidInputError(f"vectors must be numeric, got dtype {x.dtype}")
            x = x.astype(np.float64)
        scores = self._scores(x, normalized)
        if not np.all(np.isfinite(scores)):
            raise InvalidInputError("vectors contain NaN or infinity, or a zero vector")
        return RouteBatch(self, scores)

    def _scores(self, x: NDArray[Any], normalized: bool) -> NDArray[Any]:
        if self._spec.classifier is not None:
            logits = self._spec.classifier.logits(x if normalized else _unit_rows(x))
            logits = logits - logits.max(axis=1, keepdims=True)
            e = np.exp(logits)
            out: NDArray[Any] = e / e.sum(axis=1, keepdims=True)
            return out
        scores: NDArray[Any] = x @ (self._unit32 if x.dtype == np.float32 else self._unit64).T
        if not normalized:
            norms = np.sqrt(np.einsum("ij,ij->i", x, x))
            with np.errstate(divide="ignore", invalid="ignore"):
                scores /= norms[:, None]
        return scores

    def router_input(self, query: str, history: Sequence[Any] | None = None) -> str:
        """The exact text the router embeds for ``query`` and ``history``."""
        return truncate(format_router_input(query, history, turns=self.history_turns), self.max_chars)

    def explain(self, best: str, top: float, margin: float, fallback: bool) -> str:
        """The human-readable reason behind a decision."""
        method = "classifier" if self._spec.classifier is not None else "nearest centroid"
        if not fallback:
            return f"{method}: {best!r} scored {top:.3f}, margin {margin:.3f}"
        why = []
        if self.threshold is not None and top < self.threshold:
            why.append(f"top score {top:.3f} < threshold {self.threshold:.3f}")
        if self.min_margin is not None and margin < self.min_margin:
            why.append(f"margin {margin:.3f} < min_margin {self.min_margin:.3f}")
        return f"{method}: {best!r} not confident ({'; '.join(why)}): fallback to {self.fallback_style!r}"

    # -- evaluation and persistence -----------------------------------------------------------------
    def evaluate(
        self, texts: Sequence[str], labels: Sequence[str], histories: Sequence[Sequence[Any] | None] | None = None
    ) -> RouterReport:
        """Accuracy, macro-F1, per-style scores, confusion matrix and fallback share on labelled data."""
        truth = self._label_indices(labels, len(texts))
        batch = self.route_many(texts, histories)
        return report_from_predictions(self.styles, truth, batch.chosen, batch.fallback)

    def fit_threshold(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        histories: Sequence[Sequence[Any] | None] | None = None,
        *,
        steps: int = 20,
    ) -> CentroidRouter:
        """A copy with the ``threshold``/``min_margin`` pair that maximises accuracy (deterministic grid search).

        Candidates are the quantiles 0, 1/steps, ... 0.5 of the top scores and margins, plus "off"; ties keep
        the earlier (less fallback) candidate.
        """
        truth = np.asarray(self._label_indices(labels, len(texts)))
        base = self.with_options(threshold=None, min_margin=None).route_many(texts, histories)
        top = base.scores.max(axis=1)
        qs = np.linspace(0.0, 0.5, steps // 2 + 1)
        fb = self.styles.index(self.fallback_style)
        best = (float(np.mean(base.best == truth)), None, None)
        for t in [None, *np.unique(np.quantile(top, qs)).tolist()]:
            for m in [None, *np.unique(np.quantile(base.margins, qs)).tolist()]:
                mask = np.zeros(len(truth), dtype=bool)
                if t is not None:
                    mask |= top < t
                if m is not None:
                    mask |= base.margins < m
                acc = float(np.mean(np.where(mask, fb, base.best) == truth))
                if acc > best[0] + 1e-12:
                    best = (acc, t, m)
        logger.debug("fit_threshold: accuracy %.4f at threshold=%s min_margin=%s", *best)
        return self.with_options(threshold=best[1], min_margin=best[2])

    def to_spec(self) -> RouterSpec:
        """The router as a :class:`RouterSpec` (what :meth:`save` writes)."""
        explicit = self._spec.fallback_style is not None or self.fallback_style != _default_fallback(self.styles)
        return replace(self._spec, threshold=self.threshold, fallback_style=self.fallback_style if explicit else None)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the router file format (atomically); ``from_file`` reads back the same router."""
        target = Path(path)
        payload = json.dumps(dump_spec(self.to_spec()), ensure_ascii=False)
        fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(payload)
        os.replace(tmp, target)

    @property
    def dim(self) -> int:
        return int(self._unit64.shape[1])

    @property
    def label_counts(self) -> dict[str, int] | None:
        return self._spec.label_counts

    @property
    def centroids(self) -> NDArray[np.float64]:
        """The unit-norm centroid matrix, one row per style."""
        return self._unit64

    def __repr__(self) -> str:
        return (f"CentroidRouter(styles={list(self.styles)}, dim={self.dim}, embedder={self.embedder.name!r}, "
                f"threshold={self.threshold}, min_margin={self.min_margin})")

    def with_options(self, **options: Any) -> CentroidRouter:
        """A copy with some constructor options changed (``threshold``, ``min_margin``, ...)."""
        kwargs: dict[str, Any] = {
            "threshold": self.threshold, "min_margin": self.min_margin, "fallback_style": self.fallback_style,
            "history_turns": self.history_turns, "max_chars": self.max_chars,
        }
        kwargs.update(options)
        return CentroidRouter(self.styles, self._spec.centroids, self.embedder, spec=self._spec, **kwargs)

    def _label_indices(self, labels: Sequence[str], n: int) -> list[int]:
        if len(labels) != n:
            raise InvalidInputError(f"{n} texts but {len(labels)} labels")
        unknown = sorted(set(labels) - set(self.styles))
        if unknown:
            raise InvalidInputError(f"labels not among the styles {list(self.styles)}: {unknown}")
        return [self.styles.index(lab) for lab in labels]


def _default_fallback(styles: Sequence[str]) -> str:
    return "direct" if "direct" in styles else styles[0]


def _unit_rows(x: NDArray[Any]) -> NDArray[Any]:
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        out: NDArray[Any] = x / norms
    return out


def _inputs(
    texts: Sequence[str], histories: Sequence[Sequence[Any] | None] | None, turns: int, max_chars: int = 8192
) -> list[str]:
    if histories is None:
        return [truncate(t, max_chars) for t in texts]
    if len(histories) != len(texts):
        raise InvalidInputError(f"{len(texts)} texts but {len(histories)} histories")
    return [truncate(format_router_input(t, h, turns=turns), max_chars) for t, h in zip(texts, histories, strict=True)]


def _backend_of(embedder: Embedder) -> str:
    kind = type(embedder).__name__
    return {"HashingEmbedder": "hash", "TransformersEmbedder": "bge", "HFInferenceEmbedder": "hf-api"}.get(kind, kind)
