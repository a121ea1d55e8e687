"""An embedder from its spec: the one place that knows every implementation."""

from __future__ import annotations

from typing import Any

from ._api import HFInferenceEmbedder
from ._base import Embedder
from ._hashing import HashingEmbedder
from ._spec import EmbedderSpec
from ._transformers import TransformersEmbedder
from ._use import UniversalSentenceEncoder


def embedder_from_spec(spec: dict[str, Any], *, dim: int | None = None) -> Embedder:
    """Build the embedder a router file names (see :class:`EmbedderSpec`)."""
    return build_embedder(EmbedderSpec.from_json(spec, dim=dim))


def build_embedder(spec: EmbedderSpec) -> Embedder:
    """A new embedder as ``spec`` describes it (nothing is loaded or contacted yet)."""
    if spec.backend == "hash":
        return HashingEmbedder(
            dim=spec.dim or 1024,
            ngrams=tuple(spec.options.get("ngrams", (2, 3))),
            seed=int(spec.options.get("seed", 0)),
        )
    if spec.backend == "transformers":
        return TransformersEmbedder(spec.model, pooling=spec.pooling or "cls")
    if spec.backend == "use":
        return UniversalSentenceEncoder()
    return HFInferenceEmbedder(spec.model, dim=spec.dim or 1024)
