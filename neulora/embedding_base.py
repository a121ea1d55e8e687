"""What every embedder shares: the :class:`Embedder` protocol, unit-norm output, and :class:`EmbedderSpec`.

The implementations live in :mod:`neulora.embeddings` (hashing, transformers), :mod:`neulora.embeddings_api`
(the Inference API) and :mod:`neulora.embeddings_use` (the Universal Sentence Encoder); this module imports none
of them, so each can import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from .errors import ConfigError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["BACKENDS", "POOLINGS", "USE_MODEL", "Embedder", "EmbedderSpec", "check_texts", "l2_normalize", "spec_of"]


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


def check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of str, not a single str: wrap it in a list")
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"embed() item {i} is {type(text).__name__}, not str")
    return items


BACKENDS = {"hash": "hash", "transformers": "transformers", "bge": "transformers", "local": "transformers",
             "hf-api": "hf-api", "api": "hf-api", "hf-inference": "hf-api",
             "use": "use", "usem3": "use", "universal-sentence-encoder": "use"}
POOLINGS = ("cls", "mean")
USE_MODEL = "google/universal-sentence-encoder-multilingual-3"
_DEFAULT_MODELS = {"hash": "hash-v1", "use": USE_MODEL}
_UNPOOLED = ("hash", "use")  # backends whose vectors have no pooling to choose


@dataclass(frozen=True)
class EmbedderSpec:
    """What an embedder is, in a form a router file can store: how to build it and which vectors it makes.

    ``backend`` is ``hash``, ``transformers``, ``hf-api`` (older files say ``bge``, ``local``, ``api``) or
    ``use`` (the Universal Sentence Encoder, also ``usem3``); ``model`` the model id; ``pooling`` and ``dim``
    when they matter. Two embedders make comparable vectors when their :attr:`name` (the vector space: model
    and pooling, or the hashing parameters) is equal, whatever the backend: bge-m3 run locally and through the
    Inference API share a space.

    >>> from neulora.embeddings import HashingEmbedder
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
        if self.backend == "use":
            return self.model
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
        backend = BACKENDS.get(raw["backend"].lower())
        if backend is None:
            raise ConfigError(f"unknown embedder backend {raw['backend']!r}: expected one of {sorted(BACKENDS)}")
        size = raw.get("dim", dim)
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 2):
            raise ConfigError(f"embedder 'dim' must be an int >= 2, got {size!r}")
        if dim is not None and size != dim:
            raise ConfigError(f"embedder 'dim' {size} does not match the centroids' dimension {dim}")
        pooling = raw.get("pooling", None if backend in _UNPOOLED else "cls")
        if pooling is not None and pooling not in POOLINGS:
            raise ConfigError(f"embedder 'pooling' must be 'cls' or 'mean', got {pooling!r}")
        model = raw.get("model_name") or _DEFAULT_MODELS.get(backend, "BAAI/bge-m3")
        options = {k: v for k, v in raw.items() if k in ("ngrams", "seed")}
        return cls(backend, str(model), size, pooling, options)


def spec_of(embedder: Embedder) -> EmbedderSpec:
    """The spec an embedder gives of itself; an embedder without ``spec()`` is described by name and dim."""
    describe = getattr(embedder, "spec", None)
    if callable(describe):
        spec = describe()
        if isinstance(spec, EmbedderSpec):
            return spec
    return EmbedderSpec("custom", embedder.name, embedder.dim)
