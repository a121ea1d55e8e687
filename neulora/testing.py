"""Fakes for tests of code that uses neulora: they script their output and record their calls.

>>> from neulora.testing import CountingEmbedder
>>> from neulora.embeddings import HashingEmbedder
>>> counting = CountingEmbedder(HashingEmbedder(dim=32))
>>> _ = counting.embed(["a", "b"])
>>> counting.calls, counting.texts
(1, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from .embeddings import Embedder

__all__ = ["CountingEmbedder"]


class CountingEmbedder:
    """Wraps an embedder and counts calls and texts (to prove what was, or was not, embedded)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.calls = 0
        self.texts = 0
        self.history: list[list[str]] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        items = list(texts)
        self.calls += 1
        self.texts += len(items)
        self.history.append(items)
        return self.inner.embed(items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
