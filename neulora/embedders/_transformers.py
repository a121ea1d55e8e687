"""Local embeddings with transformers, pooled as the model declares (bge-m3: CLS, MiniLM: mean).

Like every embedder, it returns float32 arrays of shape ``(n, dim)`` whose rows have unit L2 norm,
so that a dot product is a cosine similarity. Empty input gives a ``(0, dim)`` array.

>>> from neulora.embedders import HashingEmbedder
>>> HashingEmbedder(dim=64).embed(["로그함수의 성질", "log rules"]).shape
(2, 64)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import is_int
from ..errors import ConfigError, EmbeddingError
from ._base import check_texts, l2_normalize
from ._spec import POOLINGS, EmbedderSpec

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


class TransformersEmbedder:
    """Local embeddings with transformers, pooled as the model declares, L2-normed.

    ``model`` is a Hub id or a local directory. A sentence-transformers model declares its pooling
    in ``modules.json`` (its ``Pooling`` module's ``config.json``) and its ``max_seq_length`` and
    casing in ``sentence_bert_config.json``: they are read and followed, so the vectors are the
    model's own sentence embeddings (rows are always L2-normed, as a ``Normalize`` module would). An
    explicit ``pooling`` or ``max_length`` wins; a model that declares nothing (or a Hub one neither
    reachable nor cached) gets CLS, 512.

    Its identity (:attr:`name`, and the model in :meth:`spec`) is the model's, never the folder's:
    the Hub id when given one; for a directory, the id in a Hub cache path
    (``models--org--name/snapshots/<sha>``), else the id its README loads
    (``SentenceTransformer('org/name')``, ``from_pretrained('org/name')``), else the
    ``_name_or_path`` of its ``config.json`` (which names the *base* model of a fine-tune saved by
    older transformers: hence last), else ``sha256-<16 hex>``, a content hash of ``config.json``,
    the tokenizer files and a sample of the weights. Nothing is loaded until needed; torch and
    transformers are imported then.

    >>> emb = TransformersEmbedder("BAAI/bge-m3", pooling="cls")
    >>> emb.name
    'BAAI/bge-m3:cls'
    >>> emb.embed(["로그함수의 밑변환 공식"]).shape  # doctest: +SKIP
    (1, 1024)
    """

    def __init__(
        self,
        model: str = "BAAI/bge-m3",
        *,
        pooling: str | None = None,
        max_length: int | None = None,
        batch_size: int = 16,
        device: str | None = None,
        local_files_only: bool = False,
    ) -> None:
        if pooling is not None and pooling not in POOLINGS:
            raise ConfigError(
                f"pooling must be 'cls', 'mean' or None (as the model declares), got {pooling!r}"
            )
        if (max_length is not None and max_length < 1) or batch_size < 1:
            raise ConfigError("max_length and batch_size must be positive")
        self.model = str(model)
        self.batch_size = batch_size
        self.device = device
        self.local_files_only = local_files_only
        self._pooling = pooling
        self._max_length = max_length
        self._lock = threading.RLock()
        self._declared: _Declared | None = None
        self._loaded: tuple[Any, Any] | None = None

    @property
    def name(self) -> str:
        return f"{self.model_id}:{self.pooling}"

    @property
    def model_id(self) -> str:
        """The model's id (see the class docstring): what router files and collections record."""
        return self.model if not os.path.isdir(self.model) else self._declaration().model_id

    @property
    def pooling(self) -> str:
        """``cls`` or ``mean``: as given, else as the model declares, else ``cls``."""
        if self._pooling is not None:
            return self._pooling
        declared = self._declaration().pooling or "cls"
        if declared not in POOLINGS:
            raise EmbeddingError(
                f"{self.model!r} declares {declared!r} pooling, which TransformersEmbedder does "
                "not implement: pass pooling='cls' or 'mean' (its vectors then differ from the "
                "model's own sentence embeddings)"
            )
        return declared

    @property
    def max_length(self) -> int:
        """Tokens kept per text: as given, else the model's ``max_seq_length``, else 512."""
        return self._max_length or self._declaration().max_length or 512

    def spec(self) -> EmbedderSpec:
        """How to build this embedder again (stored in router files).

        The dimension is known once loaded.
        """
        dim = int(self._loaded[1].config.hidden_size) if self._loaded is not None else None
        return EmbedderSpec("transformers", self.model_id, dim, self.pooling)

    @property
    def dim(self) -> int:
        _, model = self._load()
        return int(model.config.hidden_size)

    def __repr__(self) -> str:
        return f"TransformersEmbedder(model={self.model!r}, pooling={self._pooling!r})"

    def _declaration(self) -> _Declared:
        with self._lock:
            if self._declared is None:
                self._declared = _declared(self.model, self.local_files_only)
                logger.debug("%s declares %s", self.model, self._declared)
            return self._declared

    def warm_up(self) -> None:
        """Load the model now, not on the first embedding."""
        self._load()

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                try:
                    import torch  # noqa: F401  (fail early with a clear message if missing)
                    from transformers import AutoModel, AutoTokenizer
                except ImportError as exc:
                    raise EmbeddingError(_NEEDS_TORCH) from exc
                logger.info("loading embedding model %s", self.model)
                try:
                    tokenizer = AutoTokenizer.from_pretrained(
                        self.model, local_files_only=self.local_files_only
                    )
                    model = AutoModel.from_pretrained(
                        self.model, local_files_only=self.local_files_only
                    )
                except (OSError, ValueError) as exc:
                    raise EmbeddingError(
                        f"cannot load embedding model {self.model!r}: {exc}. Pass a local "
                        "directory or check the network"
                    ) from exc
                model.eval()
                if self.device:
                    model.to(self.device)
                self._loaded = (tokenizer, model)
            return self._loaded

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        items = check_texts(texts)
        pooling = self.pooling
        max_length = self.max_length
        lower = self._declaration().lower_case
        items = [t.lower() for t in items] if lower else items
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
                max_length=max_length,
                return_tensors="pt",
            ).to(model.device)
            with torch.inference_mode():
                hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"]
            # the first unmasked token, as sentence-transformers takes it (any padding side)
            if pooling == "cls":
                pooled = hidden[torch.arange(hidden.shape[0]), mask.to(torch.int).argmax(dim=1)]
            else:
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
            out[idx] = pooled.float().cpu().numpy()
        return l2_normalize(out)


@dataclass(frozen=True)
class _Declared:
    """What a model says of itself.

    Its id, and the pooling, length and casing sentence-transformers use.
    """

    model_id: str
    pooling: str | None = None
    max_length: int | None = None
    lower_case: bool = False


_ST_POOLING = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


_HUB_CACHE = re.compile(r"(?:^|/)models--([^/]+)/snapshots/[^/]+$")


_HUB_ID = r"[A-Za-z0-9][\w.-]*/[\w.-]+"


_LOAD_CALL = re.compile(
    rf"""(?:SentenceTransformer|from_pretrained|\w*Model)\(\s*["']({_HUB_ID})["']"""
)


_ID_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
    "tokenizer.model",
)


_WEIGHT_SAMPLES = 32
_SAMPLE_BYTES = 1 << 16


_NEEDS_TORCH = "TransformersEmbedder needs torch and transformers: pip install 'neulora[local]'"


def _declared(model: str, local_files_only: bool) -> _Declared:
    """Read what ``model`` (a directory or a Hub id) declares in its sentence-transformers files."""
    find = _finder(model, local_files_only)
    pooling = None
    max_length = None
    lower_case = False
    ignored = []
    modules = _json(find("modules.json"), model)
    for module in modules if isinstance(modules, list) else []:
        if not isinstance(module, dict):
            continue
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        folder = str(module.get("path") or "")
        if kind == "Pooling":
            pooling = _pooling_of(_json(find(posixpath.join(folder, "config.json")), model))
        elif kind == "Transformer":
            config = _json(find(posixpath.join(folder, "sentence_bert_config.json")), model)
            if isinstance(config, dict):
                size = config.get("max_seq_length")
                max_length = size if is_int(size) and size > 0 else None
                lower_case = config.get("do_lower_case") is True
        elif kind != "Normalize":
            # rows are always L2-normed: Normalize is honoured by construction
            ignored.append(kind)
    if ignored:
        logger.warning(
            "%s declares modules %s that TransformersEmbedder does not apply: its vectors differ "
            "from "
            "the model's own sentence embeddings",
            model,
            ignored,
        )
    return _Declared(_model_id(model, find), pooling, max_length, lower_case)


def _pooling_of(config: Any) -> str | None:
    if not isinstance(config, dict):
        return None
    # sentence-transformers >= 6; older files set one bool per mode
    mode = config.get("pooling_mode")
    if isinstance(mode, str):
        modes = [mode]
    elif isinstance(mode, list):
        modes = [str(m) for m in mode]
    else:
        modes = [m for key, m in _ST_POOLING.items() if config.get(key) is True] or ["mean"]
    # mean / sqrt(n) points where mean / n does: after the L2 norm they are the same vectors.
    modes = ["mean" if m == "mean_sqrt_len_tokens" else m for m in modes]
    return "+".join(modes)


def _finder(model: str, local_files_only: bool) -> Callable[[str], str | None]:
    """A function from a file name to its local path (fetched for a Hub id), or None if absent."""
    if os.path.isdir(model):
        return lambda name: (
            os.path.join(model, name) if os.path.isfile(os.path.join(model, name)) else None
        )

    def from_hub(name: str) -> str | None:
        try:
            from transformers.utils.hub import cached_file
        except ImportError as exc:
            raise EmbeddingError(_NEEDS_TORCH) from exc
        try:
            found = cached_file(
                model,
                name,
                local_files_only=local_files_only,
                _raise_exceptions_for_missing_entries=False,
                _raise_exceptions_for_connection_errors=False,
            )
        except (OSError, ValueError) as exc:
            raise EmbeddingError(
                f"cannot read {name} of embedding model {model!r}: {exc}. Check the id and your "
                "access to it, or pass a local directory"
            ) from exc
        return str(found) if found else None

    return from_hub


def _json(path: str | None, model: str) -> Any:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise EmbeddingError(
            f"cannot read {path} of embedding model {model!r}: {exc}. Repair or re-download "
            "the model"
        ) from exc


def _model_id(model: str, find: Callable[[str], str | None]) -> str:
    if not os.path.isdir(model):
        return model
    for path in (os.path.abspath(model), os.path.realpath(model)):
        if cached := _HUB_CACHE.search(path.replace(os.sep, "/")):
            return cached.group(1).replace("--", "/", 1)
    readme = find("README.md")
    if readme is not None:
        with open(readme, encoding="utf-8", errors="replace") as f:
            loaded = _LOAD_CALL.findall(f.read())
        if loaded:
            return str(Counter(loaded).most_common(1)[0][0])
    config = _json(find("config.json"), model)
    named = config.get("_name_or_path") if isinstance(config, dict) else None
    if isinstance(named, str) and re.fullmatch(_HUB_ID, named):
        return named
    return _content_id(model)


def _content_id(folder: str) -> str:
    """``sha256-<16 hex>`` of config.json, the tokenizer files and a sample of each weights file."""
    digest = hashlib.sha256()
    for name in _ID_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
    # Fine-tunes of one base share config and tokenizer: sampled weights tell them apart without
    # reading GBs.
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.endswith((".safetensors", ".bin")) and os.path.isfile(path):
            size = os.path.getsize(path)
            digest.update(f"{name}\0{size}".encode())
            with open(path, "rb") as f:
                for i in range(_WEIGHT_SAMPLES):
                    f.seek(size * i // _WEIGHT_SAMPLES)
                    digest.update(f.read(_SAMPLE_BYTES))
    return f"sha256-{digest.hexdigest()[:16]}"
