"""A dependency-free embedder for tests and offline demos: hashed character n-grams."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from ._base import check_texts, l2_normalize
from ._spec import EmbedderSpec

if TYPE_CHECKING:
    from numpy.typing import NDArray
from ._transformers import _MASK64


def _splitmix64(h: NDArray[np.uint64]) -> NDArray[np.uint64]:
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


class HashingEmbedder:
    """Feature hashing of character n-grams: no model, no network, identical on every machine.

    Text is NFKC-normalised, lower-cased and whitespace-folded; each character n-gram (``ngrams``,
    default 2 and 3, Hangul and Latin alike) is hashed with a fixed 64-bit mix to a signed bucket.
    Good enough to retrieve by shared words; not a semantic model.

    >>> e = HashingEmbedder(dim=256)
    >>> bool((e.embed(["수열의 합"]) == e.embed(["수열의 합"])).all())
    True
    """

    def __init__(self, dim: int = 1024, *, ngrams: Sequence[int] = (2, 3), seed: int = 0) -> None:
        if not isinstance(dim, int) or dim < 2:
            raise ConfigError(f"HashingEmbedder dim must be an int >= 2, got {dim!r}")
        if not ngrams or any(not isinstance(n, int) or n < 1 for n in ngrams):
            raise ConfigError(f"HashingEmbedder ngrams must be positive ints, got {ngrams!r}")
        self._dim = dim
        self._ngrams = tuple(sorted(set(ngrams)))
        self._seed = seed

    @property
    def name(self) -> str:
        return self.spec().name

    def spec(self) -> EmbedderSpec:
        """How to build this embedder again (stored in router files)."""
        return EmbedderSpec(
            "hash", "hash-v1", self._dim, None, {"ngrams": self._ngrams, "seed": self._seed}
        )

    @property
    def dim(self) -> int:
        return self._dim

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self._dim}, ngrams={self._ngrams})"

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        items = check_texts(texts)
        out = np.zeros((len(items), self._dim), dtype=np.float32)
        for row, text in enumerate(items):
            out[row] = self._vector(text)
        return l2_normalize(out)

    def _vector(self, text: str) -> NDArray[np.float64]:
        folded = " " + " ".join(unicodedata.normalize("NFKC", text).lower().split()) + " "
        codes = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(
            np.uint64
        )
        dim = np.uint64(self._dim)
        vec = np.zeros(self._dim, dtype=np.float64)
        for n in self._ngrams:
            count = codes.size - n + 1
            if count <= 0:
                continue
            h = np.full(
                count, np.uint64(self._seed * 0x9E3779B97F4A7C15 + n) & _MASK64, dtype=np.uint64
            )
            for j in range(n):
                h = h * np.uint64(1099511628211) + codes[j : j + count]
            h = _splitmix64(h)
            signs = np.where((h >> np.uint64(63)) == 1, -1.0, 1.0)
            vec += np.bincount((h % dim).astype(np.int64), weights=signs, minlength=self._dim)
        return vec
