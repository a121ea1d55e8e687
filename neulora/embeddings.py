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
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from .errors import ConfigError, EmbeddingError
from .hf import HFAuth, call_with_retry, inference_client
from .retry import RetryPolicy

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "Embedder",
    "HFInferenceEmbedder",
    "HashingEmbedder",
    "TransformersEmbedder",
    "EmbedderSpec",
    "embedder_from_spec",
    "l2_normalize",
    "spec_of",
]

logger = logging.getLogger(__name__)

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-norm float32 vectors."""

    @property
    def name(self) -> str:
        """A stable identifier of the model (recorded next to the vectors it made)."""
        ...

    @property
    def dim(self) -> int:
        """The vector dimension."""
        ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Return an ``(len(texts), dim)`` float32 array of unit-norm rows."""
        ...


def l2_normalize(matrix: NDArray[Any]) -> NDArray[np.float32]:
    """Return ``matrix`` as float32 with unit-norm rows; all-zero rows stay zero."""
    out = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def _texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of str, not a single str: wrap it in a list")
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"embed() item {i} is {type(text).__name__}, not str")
    return items


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
        items = _texts(texts)
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
        items = _texts(texts)
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


class HFInferenceEmbedder:
    """The same vectors through the Hugging Face Inference API (``feature_extraction``), one request per batch.

    >>> emb = HFInferenceEmbedder(token="hf_...")  # doctest: +SKIP
    >>> emb.embed(["수열의 합"]).shape  # doctest: +SKIP
    (1, 1024)
    """

    def __init__(self, model: str = "BAAI/bge-m3", *, token: str | None = None, provider: str | None = None,
                 base_url: str | None = None, batch_size: int = 32, dim: int = 1024, timeout: float = 60.0,
                 retry: RetryPolicy | None = None) -> None:
        if batch_size < 1 or dim < 1:
            raise ConfigError("batch_size and dim must be positive")
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise ConfigError("token must be a non-empty str")
        self.model = model
        self.provider = provider
        self.base_url = base_url
        self.batch_size = batch_size
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._dim = dim
        self._token_arg = token
        self._client: Any = None
        self._auth: HFAuth | None = None

    @property
    def name(self) -> str:
        return f"{self.model}:cls"

    def spec(self) -> EmbedderSpec:
        """How to build this embedder again (stored in router files)."""
        return EmbedderSpec("hf-api", self.model, self._dim, "cls")

    @property
    def dim(self) -> int:
        return self._dim

    def __repr__(self) -> str:
        where = self.base_url or self.provider or "hf-inference"
        return f"HFInferenceEmbedder(model={self.model!r}, via={where!r})"

    def _connect(self) -> tuple[Any, HFAuth]:
        if self._client is None or self._auth is None:
            self._auth = HFAuth.resolve(self._token_arg)
            self._client = inference_client(self._auth, url=self.base_url, provider=self.provider,
                                            timeout=self.timeout, headers=self.retry.headers())
        return self._client, self._auth

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        items = _texts(texts)
        out = np.zeros((len(items), self._dim), dtype=np.float32)
        client, auth = self._connect()
        model = None if self.base_url else self.model
        for start in range(0, len(items), self.batch_size):
            batch = items[start : start + self.batch_size]
            logger.info("feature_extraction %s: %d texts", self.model, len(batch))
            arr = call_with_retry(partial(client.feature_extraction, batch, model=model), policy=self.retry,
                                  auth=auth, where=f"feature extraction with {self.model!r}", base=EmbeddingError,
                                  url=self.base_url)
            arr = np.asarray(arr, dtype=np.float32)
            if arr.ndim == 3:  # token-level output: take the CLS token, as bge-m3's dense vectors do
                arr = arr[:, 0, :]
            if arr.shape != (len(batch), self._dim):
                raise EmbeddingError(f"{self.model!r} returned shape {arr.shape}, expected ({len(batch)}, {self._dim})")
            out[start : start + len(batch)] = arr
        return l2_normalize(out)


_BACKENDS = {"hash": "hash", "transformers": "transformers", "bge": "transformers", "local": "transformers",
             "hf-api": "hf-api", "api": "hf-api", "hf-inference": "hf-api"}


@dataclass(frozen=True)
class EmbedderSpec:
    """What an embedder is, in a form a router file can store: how to build it and which vectors it makes.

    ``backend`` is ``hash``, ``transformers`` or ``hf-api`` (older files say ``bge``, ``local``, ``api``);
    ``model`` the model id; ``pooling`` and ``dim`` when they matter. Two embedders make comparable vectors
    when their :attr:`name` (the vector space: model and pooling, or the hashing parameters) is equal,
    whatever the backend: bge-m3 run locally and through the Inference API share a space.

    >>> HashingEmbedder(dim=64).spec().to_json()
    {'backend': 'hash', 'model_name': 'hash-v1', 'dim': 64, 'ngrams': [2, 3], 'seed': 0}
    >>> EmbedderSpec.from_json({"backend": "bge", "model_name": "BAAI/bge-m3"}).name
    'BAAI/bge-m3:cls'
    """

    backend: str
    model: str
    dim: int | None = None
    pooling: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The vector space these settings make (what collections and router files record)."""
        if self.backend == "hash":
            grams = "".join(str(n) for n in self.options.get("ngrams", (2, 3)))
            return f"hash-v1-d{self.dim or 1024}-n{grams}-s{self.options.get('seed', 0)}"
        return f"{self.model}:{self.pooling or 'cls'}"

    def to_json(self) -> dict[str, Any]:
        """The router file's ``embedder`` object."""
        out: dict[str, Any] = {"backend": self.backend, "model_name": self.model}
        if self.dim is not None:
            out["dim"] = self.dim
        if self.pooling is not None:
            out["pooling"] = self.pooling
        return out | {k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()}

    @classmethod
    def from_json(cls, raw: Any, *, dim: int | None = None) -> EmbedderSpec:
        """Read a router file's ``embedder`` object; ``dim`` (the centroids') fills a missing dimension."""
        if not isinstance(raw, dict) or not isinstance(raw.get("backend"), str):
            raise ConfigError("an embedder spec is an object with a str 'backend'")
        backend = _BACKENDS.get(raw["backend"].lower())
        if backend is None:
            raise ConfigError(f"unknown embedder backend {raw['backend']!r}: expected one of {sorted(_BACKENDS)}")
        size = raw.get("dim", dim)
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 2):
            raise ConfigError(f"embedder 'dim' must be an int >= 2, got {size!r}")
        if dim is not None and size != dim:
            raise ConfigError(f"embedder 'dim' {size} does not match the centroids' dimension {dim}")
        pooling = raw.get("pooling", None if backend == "hash" else "cls")
        if pooling not in (None, "cls", "mean"):
            raise ConfigError(f"embedder 'pooling' must be 'cls' or 'mean', got {pooling!r}")
        model = raw.get("model_name") or ("hash-v1" if backend == "hash" else "BAAI/bge-m3")
        options = {k: v for k, v in raw.items() if k in ("ngrams", "seed")}
        return cls(backend, str(model), size, pooling, options)

    def build(self) -> Embedder:
        """A new embedder with these settings (nothing is loaded or contacted yet)."""
        if self.backend == "hash":
            return HashingEmbedder(dim=self.dim or 1024, ngrams=tuple(self.options.get("ngrams", (2, 3))),
                                   seed=int(self.options.get("seed", 0)))
        if self.backend == "transformers":
            return TransformersEmbedder(self.model, pooling=self.pooling or "cls")
        return HFInferenceEmbedder(self.model, dim=self.dim or 1024)


def spec_of(embedder: Embedder) -> EmbedderSpec:
    """The spec an embedder gives of itself; an embedder without ``spec()`` is described by name and dim."""
    describe = getattr(embedder, "spec", None)
    if callable(describe):
        spec = describe()
        if isinstance(spec, EmbedderSpec):
            return spec
    return EmbedderSpec("custom", embedder.name, embedder.dim)


def embedder_from_spec(spec: dict[str, Any], *, dim: int | None = None) -> Embedder:
    """Build the embedder a router file names (see :class:`EmbedderSpec`)."""
    return EmbedderSpec.from_json(spec, dim=dim).build()
