"""Embedders: one protocol, four implementations (hashing, transformers, the Inference API, USE).

Every embedder returns float32 arrays of shape ``(n, dim)`` whose rows have unit L2 norm, so that a
dot product is a cosine similarity. Empty input gives a ``(0, dim)`` array.

>>> HashingEmbedder(dim=64).embed(["로그함수의 성질", "log rules"]).shape
(2, 64)
"""

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
