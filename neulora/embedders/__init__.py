"""Embedders: one protocol, four implementations (hashing, transformers, the Inference API, USE)."""

from __future__ import annotations

from ._api import HFInferenceEmbedder
from ._base import Embedder, l2_normalize
from ._build import embedder_from_spec
from ._hashing import HashingEmbedder
from ._spec import EmbedderSpec, spec_of
from ._transformers import TransformersEmbedder
from ._use import UniversalSentenceEncoder

__all__ = [
    "Embedder",
    "EmbedderSpec",
    "HFInferenceEmbedder",
    "HashingEmbedder",
    "TransformersEmbedder",
    "UniversalSentenceEncoder",
    "embedder_from_spec",
    "l2_normalize",
    "spec_of",
]
