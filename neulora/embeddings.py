"""Embedders: one protocol, three implementations.

Every embedder returns float32 arrays of shape ``(n, dim)`` whose rows have unit L2 norm, so that a dot
product is a cosine similarity. Empty input gives a ``(0, dim)`` array.

>>> from neulora.embeddings import HashingEmbedder
>>> HashingEmbedder(dim=64).embed(["로그함수의 성질", "log rules"]).shape
(2, 64)
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .embedding_base import Embedder, EmbedderSpec, check_texts, l2_normalize, spec_of
from .embeddings_api import HFInferenceEmbedder
from .errors import ConfigError, EmbeddingError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "Embedder",
    "EmbedderSpec",
    "HFInferenceEmbedder",
    "HashingEmbedder",
    "TransformersEmbedder",
    "build_embedder",
    "embedder_from_spec",
    "l2_normalize",
    "spec_of",
]

logger = logging.getLogger(__name__)

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(h: NDArray[np.uint64]) -> NDArray[np.uint64]:
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


class HashingEmbedder:
    """Feature hashing of character n-grams: no model, no network, identical on every machine.

    Text is NFKC-normalised, lower-cased and whitespace-folded; each character n-gram (``ngrams``, default
    2 and 3, Hangul and Latin alike) is hashed with a fixed 64-bit mix to a signed bucket. Good enough to
    retrieve by shared words; not a semantic model.

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
        return EmbedderSpec("hash", "hash-v1", self._dim, None, {"ngrams": self._ngrams, "seed": self._seed})

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
        codes = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
        dim = np.uint64(self._dim)
        vec = np.zeros(self._dim, dtype=np.float64)
        for n in self._ngrams:
            count = codes.size - n + 1
            if count <= 0:
                continue
            h = np.full(count, np.uint64(self._seed * 0x9E3779B97F4A7C15 + n) & _MASK64, dtype=np.uint64)
            for j in range(n):
                h = h * np.uint64(1099511628211) + codes[j : j + count]
            h = _splitmix64(h)
            signs = np.where((h >> np.uint64(63)) == 1, -1.0, 1.0)
            vec += np.bincount((h % dim).astype(np.int64), weights=signs, minlength=self._dim)
        return vec


class TransformersEmbedder:
    """Local embeddings with transformers: CLS (bge-m3's dense vectors) or mean pooling, then L2 norm.

    Nothing is loaded until the first :meth:`embed` (or :attr:`dim`); ``model`` is a Hub id or a local
    directory. torch and transformers are imported then, not before.

    >>> emb = TransformersEmbedder("BAAI/bge-m3")  # doctest: +SKIP
    >>> emb.embed(["로그함수의 밑변환 공식"]).shape  # doctest: +SKIP
    (1, 1024)
    """

    def __init__(self, model: str = "BAAI/bge-m3", *, pooling: str = "cls", max_length: int = 512,
                 batch_size: int = 16, device: str | None = None, local_files_only: bool = False) -> None:
        if pooling not in ("cls", "mean"):
            raise ConfigError(f"pooling must be 'cls' or 'mean', got {pooling!r}")
        if max_length < 1 or batch_size < 1:
            raise ConfigError("max_length and batch_size must be positive")
        self.model = str(model)
        self.pooling = pooling
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.local_files_only = local_files_only
        self._loaded: tuple[Any, Any] | None = None

    @property
    def name(self) -> str:
        base = os.path.basename(self.model.rstrip("/")) if os.path.isdir(self.model) else self.model
        return f"{base}:{self.pooling}"

    def spec(self) -> EmbedderSpec:
        """How to build this embedder again (stored in router files); the dimension is known once loaded."""
        dim = int(self._loaded[1].config.hidden_size) if self._loaded is not None else None
        return EmbedderSpec("transformers", self.model, dim, self.pooling)

    @property
    def dim(self) -> int:
        _, model = self._load()
        return int(model.config.hidden_size)

    def __repr__(self) -> str:
        return f"TransformersEmbedder(model={self.model!r}, pooling={self.pooling!r})"

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            try:
                import torch  # noqa: F401  (fail early with a clear message if missing)
                from transformers import AutoModel, AutoTokenizer
            except ImportError as exc:
                raise EmbeddingError(
                    "TransformersEmbedder needs torch and transformers: pip install 'neulora[local]'"
                ) from exc
            logger.info("loading embedding model %s", self.model)
            try:
                tokenizer = AutoTokenizer.from_pretrained(self.model, local_files_only=self.local_files_only)
                model = AutoModel.from_pretrained(self.model, local_files_only=self.local_files_only)
            except (OSError, ValueError) as exc:
                raise EmbeddingError(
                    f"cannot load embedding model {self.model!r}: {exc}. Pass a local directory or check the network"
                ) from exc
            model.eval()
            if self.device:
                model.to(self.device)
            self._loaded = (tokenizer, model)
        return self._loaded

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        items = check_texts(texts)
        tokenizer, model = self._load()
        import torch

        out = np.zeros((len(items), int(model.config.hidden_size)), dtype=np.float32)
        # Sorting by length keeps padding small inside each batch.
        order = sorted(range(len(items)), key=lambda i: len(items[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = tokenizer(
                [items[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(model.device)
            with torch.inference_mode():
                hidden = model(**batch).last_hidden_state
            if self.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            out[idx] = pooled.float().cpu().numpy()
        return l2_normalize(out)


def embedder_from_spec(spec: dict[str, Any], *, dim: int | None = None) -> Embedder:
    """Build the embedder a router file names (see :class:`EmbedderSpec`)."""
    return build_embedder(EmbedderSpec.from_json(spec, dim=dim))


def build_embedder(spec: EmbedderSpec) -> Embedder:
    """A new embedder as ``spec`` describes it (nothing is loaded or contacted yet)."""
    if spec.backend == "hash":
        return HashingEmbedder(dim=spec.dim or 1024, ngrams=tuple(spec.options.get("ngrams", (2, 3))),
                               seed=int(spec.options.get("seed", 0)))
    if spec.backend == "transformers":
        return TransformersEmbedder(spec.model, pooling=spec.pooling or "cls")
    return HFInferenceEmbedder(spec.model, dim=spec.dim or 1024)
