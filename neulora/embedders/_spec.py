"""What an embedder is, as data: :class:`EmbedderSpec`, as router files record it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._checks import is_int
from ..errors import ConfigError
from ._base import Embedder

BACKENDS = {
    "hash": "hash",
    "transformers": "transformers",
    "bge": "transformers",
    "local": "transformers",
    "hf-api": "hf-api",
    "api": "hf-api",
    "hf-inference": "hf-api",
    "use": "use",
    "usem3": "use",
    "universal-sentence-encoder": "use",
}


POOLINGS = ("cls", "mean")


USE_MODEL = "google/universal-sentence-encoder-multilingual-3"


_DEFAULT_MODELS = {"hash": "hash-v1", "use": USE_MODEL}


_UNPOOLED = ("hash", "use")  # backends whose vectors have no pooling to choose


@dataclass(frozen=True)
class EmbedderSpec:
    """What an embedder is, in a form a router file can store.

    How to build it and which vectors it makes.

    ``backend`` is ``hash``, ``transformers``, ``hf-api`` (older files say ``bge``, ``local``,
    ``api``) or ``use`` (the Universal Sentence Encoder, also ``usem3``); ``model`` the model id;
    ``pooling`` and ``dim`` when they matter. Two embedders make comparable vectors when their
    :attr:`name` (the vector space: model and pooling, or the hashing parameters) is equal, whatever
    the backend: bge-m3 run locally and through the Inference API share a space.

    >>> from neulora.embedders import HashingEmbedder
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
        """Read a router file's ``embedder`` object.

        ``dim`` (the centroids') fills a missing dimension.
        """
        if not isinstance(raw, dict) or not isinstance(raw.get("backend"), str):
            raise ConfigError("an embedder spec is an object with a str 'backend'")
        backend = BACKENDS.get(raw["backend"].lower())
        if backend is None:
            raise ConfigError(
                f"unknown embedder backend {raw['backend']!r}: expected one of {sorted(BACKENDS)}"
            )
        size = raw.get("dim", dim)
        if size is not None and (not is_int(size) or size < 2):
            raise ConfigError(f"embedder 'dim' must be an int >= 2, got {size!r}")
        if dim is not None and size != dim:
            raise ConfigError(
                f"embedder 'dim' {size} does not match the centroids' dimension {dim}"
            )
        pooling = raw.get("pooling", None if backend in _UNPOOLED else "cls")
        if pooling is not None and pooling not in POOLINGS:
            raise ConfigError(f"embedder 'pooling' must be 'cls' or 'mean', got {pooling!r}")
        model = raw.get("model_name") or _DEFAULT_MODELS.get(backend, "BAAI/bge-m3")
        options = {k: v for k, v in raw.items() if k in ("ngrams", "seed")}
        return cls(backend, str(model), size, pooling, options)


def spec_of(embedder: Embedder) -> EmbedderSpec:
    """The spec an embedder gives of itself.

    An embedder without ``spec()`` is described by name and dim.
    """
    describe = getattr(embedder, "spec", None)
    if callable(describe):
        spec = describe()
        if isinstance(spec, EmbedderSpec):
            return spec
    return EmbedderSpec("custom", embedder.name, embedder.dim)
