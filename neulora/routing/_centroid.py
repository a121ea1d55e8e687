"""The router: a question goes to the best-scoring style (centroids, or a linear or MLP head).

Training (centroids, the linear head, thresholds) and evaluation live in :mod:`neulora.train`, which
imports this module and never the reverse.

>>> from neulora.embedders import HashingEmbedder
>>> from neulora.train import from_examples
>>> router = from_examples({"direct": ["what is a logarithm"], "socratic": ["why does this work"]},
...                        HashingEmbedder(dim=256))
>>> router.route("what is a logarithm?").style
'direct'
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import check_text, truncate
from ..embedders._base import Embedder
from ..embedders._build import build_embedder
from ..embedders._spec import EmbedderSpec, spec_of
from ..errors import ConfigError, InvalidInputError, RouterFileError
from ._checks import (
    as_history,
    as_texts,
    as_vectors,
    centroid_matrix,
    check_count,
    check_embedder,
    row_norms,
    safe_norm_floor,
    unit_rows,
)
from ._file import RouterSpec, check_label_counts, check_styles, dump_spec, load_spec
from ._state import DialogueState

if TYPE_CHECKING:
    from numpy.typing import NDArray
from ._decision import FallbackRule, RouteBatch, RouteDecision, decide

logger = logging.getLogger(__name__)

_USER_ROLES = {"user", "student", "human", "learner"}


_METHODS = {
    "centroid": "nearest centroid",
    "linear": "linear classifier",
    "mlp2": "mlp2 classifier",
}


def format_router_input(query: str, history: Sequence[Any] | None, *, turns: int = 6) -> str:
    """The router's input: the bare query, or the original's format when history is given."""
    pairs = as_history(history) if history is not None else []
    if not pairs:
        return query
    lines = [
        f"{'User' if role.lower() in _USER_ROLES else 'Assistant'}: {content}"
        for role, content in pairs[-turns:]
    ]
    return "History:\n" + "\n".join(lines) + "\n\nCurrent user query:\n" + query


def format_router_inputs(
    texts: Sequence[str],
    histories: Sequence[Sequence[Any] | None] | None = None,
    *,
    turns: int = 6,
    max_chars: int = 8192,
) -> list[str]:
    """The texts a router embeds for ``texts`` (and ``histories``), truncated to ``max_chars``."""
    if histories is None:
        return [truncate(t, max_chars) for t in texts]
    if len(histories) != len(texts):
        raise InvalidInputError(f"{len(texts)} texts but {len(histories)} histories")
    return [
        truncate(format_router_input(t, h, turns=turns), max_chars)
        for t, h in zip(texts, histories, strict=True)
    ]


class CentroidRouter:
    """Routes text (or an embedding) to the style whose centroid is most similar by cosine.

    When the file carries a classifier (``linear`` or ``mlp2``) its softmax probabilities are the
    scores instead. The :class:`FallbackRule` built from ``threshold``, ``min_margin`` and
    ``fallback_style`` (default ``direct``) decides when to distrust the best style. Inputs longer
    than ``max_chars`` are truncated before embedding.

    >>> import numpy as np
    >>> from neulora.embedders import HashingEmbedder
    >>> embedder = HashingEmbedder(dim=8)
    >>> router = CentroidRouter(["direct", "socratic"], np.eye(2, 8), embedder, threshold=0.5)
    >>> router.route_vector(np.array([0.3, 0.2, 1, 0, 0, 0, 0, 0])).fallback
    True
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
        # Every option is checked here, as the file's values are, so that nothing fails first at
        # route time.
        self.styles = check_styles(styles, ConfigError)
        matrix = centroid_matrix(centroids, self.styles)
        fallback = _default_fallback(self.styles) if fallback_style is None else fallback_style
        self._rule = FallbackRule(
            threshold=threshold, min_margin=min_margin, fallback_style=fallback
        )
        if self._rule.fallback_style not in self.styles:
            raise ConfigError(
                f"fallback_style {self._rule.fallback_style!r} is not among {list(self.styles)}"
            )
        if not callable(getattr(embedder, "embed", None)):
            raise ConfigError(
                "embedder must have an embed(texts) method (see neulora.embedders), got "
                f"{embedder!r}"
            )
        self.embedder = embedder
        self.history_turns = check_count(history_turns, "history_turns")
        self.max_chars = check_count(max_chars, "max_chars")
        self._spec = spec or RouterSpec(
            self.styles,
            matrix,
            spec_of(embedder).to_json(),
            check_label_counts(label_counts, self.styles, ConfigError),
        )
        self._method = _METHODS[self._spec.head]
        if self.uses_state:
            self._method += " with dialogue state"
        self._unit64: NDArray[np.float64] = unit_rows(matrix)
        self._unit32 = self._unit64.astype(np.float32)

    @classmethod
    def from_spec(
        cls,
        spec: RouterSpec,
        embedder: Embedder | None = None,
        *,
        allow_mismatch: bool = False,
        **options: Any,
    ) -> CentroidRouter:
        """Build from a validated :class:`RouterSpec`; without ``embedder``, the one the spec names.

        An ``embedder`` of another vector space than the spec names is refused
        (:class:`EmbedderMismatchError`) unless ``allow_mismatch=True``, which logs a warning and
        routes anyway.
        """
        where = f"router file {spec.source}" if spec.source else "router spec"
        if embedder is None:
            if spec.embedder is None:
                raise RouterFileError(
                    f"{where} names no embedder and none was given: pass embedder="
                )
            try:
                embedder = build_embedder(EmbedderSpec.from_json(spec.embedder, dim=spec.dim))
            except (ConfigError, TypeError, ValueError) as exc:
                raise RouterFileError(
                    f"{where}: cannot build the embedder it names ({exc}): pass embedder="
                ) from exc
        else:
            check_embedder(spec, embedder, where, allow_mismatch)
        for key in ("threshold", "min_margin", "fallback_style"):
            options.setdefault(key, getattr(spec, key))
        return cls(spec.styles, spec.centroids, embedder, spec=spec, **options)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        embedder: Embedder | None = None,
        *,
        allow_mismatch: bool = False,
        **options: Any,
    ) -> CentroidRouter:
        """Load and validate ``router_model.json``.

        ``embedder`` must make the vectors the file names.

        A different dimension is a :class:`RouterFileError`; another vector space an
        :class:`EmbedderMismatchError`, unless ``allow_mismatch=True`` (a warning is logged).
        """
        spec = load_spec(path)
        logger.info(
            "loaded router %s: %d styles, dim %d, %s head",
            path,
            len(spec.styles),
            spec.dim,
            spec.head,
        )
        return cls.from_spec(spec, embedder, allow_mismatch=allow_mismatch, **options)

    @classmethod
    def from_hub(
        cls,
        repo_id: str = "marimmo/multi-lora",
        filename: str = "router/router_model.json",
        *,
        embedder: Embedder | None = None,
        revision: str | None = None,
        token: str | None = None,
        allow_mismatch: bool = False,
        **options: Any,
    ) -> CentroidRouter:
        """Download the router file from the Hub (cached, through :mod:`neulora.hf`) and load it.

        See from_file.
        """
        from ..hf._auth import HFAuth
        from ..hf._download import download

        path = download(
            repo_id, filename, revision=revision, auth=HFAuth.resolve(token), error=RouterFileError
        )
        return cls.from_file(path, embedder, allow_mismatch=allow_mismatch, **options)

    @property
    def uses_state(self) -> bool:
        """Whether this router's head reads the dialogue's state (see :class:`DialogueState`)."""
        return getattr(self._spec.classifier, "state", None) is not None

    def route(
        self,
        text: str,
        history: Sequence[Any] | None = None,
        *,
        state: DialogueState | None = None,
    ) -> RouteDecision:
        """Embed ``text`` (with ``history`` if given) and route it.

        ``state``: the dialogue's state, read by a state head (others ignore it; a state head
        without it routes as at the start of a dialogue).
        """
        query = check_text(text, what="question")
        inputs = format_router_inputs(
            [query],
            None if history is None else [history],
            turns=self.history_turns,
            max_chars=self.max_chars,
        )
        return self.route_vector(self.embedder.embed(inputs)[0], state=state)

    def route_many(
        self,
        texts: Iterable[str],
        histories: Sequence[Sequence[Any] | None] | None = None,
        *,
        states: Sequence[DialogueState | None] | None = None,
    ) -> RouteBatch:
        """Route many texts (a list or tuple of str): one embedding call, one matrix product."""
        texts = as_texts(texts)
        inputs = format_router_inputs(
            texts, histories, turns=self.history_turns, max_chars=self.max_chars
        )
        return self.route_vectors(self.embedder.embed(inputs), normalized=True, states=states)

    def route_vector(
        self, vector: NDArray[Any], *, state: DialogueState | None = None
    ) -> RouteDecision:
        """Route one embedding the caller already has (a fast path: one matrix-vector product)."""
        v = as_vectors(vector)
        if v.ndim != 1 or v.shape[0] != self.dim:
            raise InvalidInputError(
                f"route_vector takes a 1-d vector of {self.dim} values, got shape {v.shape}"
            )
        norm = math.sqrt(float(np.vdot(v, v)))  # vdot, unlike @, raises no floating-point warnings
        if self._spec.classifier is not None or not safe_norm_floor(v.dtype) <= norm < math.inf:
            # badly scaled, NaN or zero: the careful path decides
            return self.route_vectors(v[None, :], states=[state])[0]
        # A finite norm bounds every dot product with a unit centroid: the scores are finite.
        raw = ((self._unit32 if v.dtype == np.float32 else self._unit64) @ v).tolist()
        return decide(self.styles, [s / norm for s in raw], self._rule, self._method)

    def route_vectors(
        self,
        matrix: NDArray[Any],
        *,
        normalized: bool = False,
        states: Sequence[DialogueState | None] | None = None,
    ) -> RouteBatch:
        """Route ``(n, dim)`` embeddings (``n`` may be 0).

        ``normalized=True`` promises unit rows, skipping a pass; ``states``: each row's dialogue
        state, for a state head (None: every row at the start of a dialogue).
        """
        x = as_vectors(matrix)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise InvalidInputError(f"expected vectors of shape (n, {self.dim}), got {x.shape}")
        if states is not None and len(states) != x.shape[0]:
            raise InvalidInputError(f"{x.shape[0]} vectors but {len(states)} dialogue states")
        scores = self._scores(x, normalized, states)
        if not np.all(np.isfinite(scores)):
            raise InvalidInputError("vectors contain NaN or infinity, or a zero vector")
        return RouteBatch(self.styles, scores, self._rule, method=self._method)

    def _scores(
        self, x: NDArray[Any], normalized: bool, states: Sequence[DialogueState | None] | None
    ) -> NDArray[Any]:
        classifier = self._spec.classifier
        if classifier is not None:
            inputs = x if normalized else unit_rows(x)
            features = getattr(classifier, "state", None)
            if features is not None:
                extra = features.encode(states if states is not None else [None] * len(inputs))
                inputs = np.hstack([inputs, extra.astype(inputs.dtype)])
            logits = classifier.logits(inputs)
            logits = logits - logits.max(axis=1, keepdims=True)
            e = np.exp(logits)
            out: NDArray[Any] = e / e.sum(axis=1, keepdims=True)
            return out
        unit = self._unit32 if x.dtype == np.float32 else self._unit64
        if normalized:
            cosines: NDArray[Any] = x @ unit.T
            return cosines
        scaled = row_norms(x)  # rescales rows whose squares would overflow or underflow
        # zero, NaN or infinite rows give NaN, which the caller refuses
        with np.errstate(all="ignore"):
            scores: NDArray[Any] = scaled.rows @ unit.T
            scores /= scaled.norms[:, None]
        return scores

    @property
    def rule(self) -> FallbackRule:
        """When a decision falls back, and to which style."""
        return self._rule

    @property
    def dim(self) -> int:
        """The embedding dimension the router reads."""
        return int(self._unit64.shape[1])

    def with_options(self, **options: Any) -> CentroidRouter:
        """A copy with some constructor options changed.

        ``threshold``, ``min_margin``, ``embedder``, ....
        """
        kwargs: dict[str, Any] = {
            "threshold": self._rule.threshold,
            "min_margin": self._rule.min_margin,
            "fallback_style": self._rule.fallback_style,
            "history_turns": self.history_turns,
            "max_chars": self.max_chars,
        }
        kwargs.update(options)
        embedder = kwargs.pop("embedder", self.embedder)
        return CentroidRouter(
            self.styles, self._spec.centroids, embedder, spec=self._spec, **kwargs
        )

    def to_spec(self) -> RouterSpec:
        """The router as a :class:`RouterSpec` (what :meth:`save` writes).

        Centroids as stored, label counts, head.
        """
        rule = self._rule
        explicit = (
            self._spec.fallback_style is not None
            or rule.fallback_style != _default_fallback(self.styles)
        )
        return replace(
            self._spec,
            threshold=rule.threshold,
            min_margin=rule.min_margin,
            fallback_style=rule.fallback_style if explicit else None,
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the router file format (atomically); ``from_file`` reads back the same router."""
        target = Path(path)
        # as the original files
        payload = json.dumps(dump_spec(self.to_spec()), ensure_ascii=False, indent=2)
        try:
            with tempfile.NamedTemporaryFile(
                "w",
                encoding="utf-8",
                dir=target.parent if str(target.parent) else ".",
                suffix=".tmp",
                delete=False,
            ) as fh:
                fh.write(payload)
            os.replace(fh.name, target)
        except OSError as exc:
            raise RouterFileError(
                f"cannot write router file {target}: {exc.strerror or exc}"
            ) from exc

    def __repr__(self) -> str:
        rule = self._rule
        return (
            f"CentroidRouter(styles={list(self.styles)}, dim={self.dim}, head={self._spec.head!r}, "
            f"embedder={self.embedder.name!r}, threshold={rule.threshold}, "
            f"min_margin={rule.min_margin})"
        )


def _default_fallback(styles: Sequence[str]) -> str:
    return "direct" if "direct" in styles else styles[0]
