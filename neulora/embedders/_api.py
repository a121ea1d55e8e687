"""Embeddings from the Hugging Face Inference API (or a server speaking its protocol), retried."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _flow
from .._checks import is_int
from .._deadline import Deadline
from ..errors import ConfigError, EmbeddingError
from ..hf._auth import HFAuth, RemoteOptions
from ..hf._calls import Connection, FeatureExtraction
from ..hf._policy import RetryPolicy
from ..hf._retry import Attempts, Target
from ._base import check_texts, l2_normalize
from ._spec import EmbedderSpec

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)


class HFInferenceEmbedder:
    """bge-m3 vectors through the Inference API (``feature_extraction``), one request per batch.

    >>> emb = HFInferenceEmbedder(token="hf_...")  # doctest: +SKIP
    >>> emb.embed(["수열의 합"]).shape  # doctest: +SKIP
    (1, 1024)
    """

    def __init__(
        self,
        model: str = "BAAI/bge-m3",
        *,
        token: str | None = None,
        provider: str | None = None,
        base_url: str | None = None,
        batch_size: int = 32,
        dim: int = 1024,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not all(is_int(v) and v >= 1 for v in (batch_size, dim)):
            raise ConfigError(
                f"batch_size and dim must be positive ints, got {batch_size!r} and {dim!r}"
            )
        remote = RemoteOptions(token, provider, base_url, timeout)
        self.model = model
        self.provider = remote.provider
        self.base_url = remote.base_url
        self.timeout = remote.timeout
        self.batch_size = batch_size
        self.retry = retry or RetryPolicy()
        self._dim = dim
        self._token_arg = token
        self._reach: Connection | None = None

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

    @property
    def _connection(self) -> Connection:
        """How this embedder reaches Hugging Face.

        The token is resolved on first use: a file read.
        """
        if self._reach is None:
            auth = HFAuth.resolve(self._token_arg)
            self._reach = Connection(auth, self.provider, self.timeout, self.retry.headers())
        return self._reach

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return _flow.run(self._embed(texts))

    async def aembed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """:meth:`embed` on the event loop.

        ``AsyncInferenceClient`` over a pool shared per loop.
        """
        return await _flow.arun(self._embed(texts))

    def _embed(self, texts: Sequence[str]) -> _flow.Flow[NDArray[np.float32]]:
        """The flow of both: each batch one feature extraction, retried under its own deadline."""
        items = check_texts(texts)
        connection = self._connection
        target = Target(
            f"feature extraction with {self.model!r}",
            self.base_url,
            None if self.base_url else self.model,
        )

        def embed() -> _flow.Flow[NDArray[np.float32]]:
            out = []
            for batch in self._batches(items):
                deadline = Deadline.after(self.retry.deadline, self.retry.clock)
                attempts = Attempts(
                    policy=self.retry,
                    auth=connection.auth,
                    deadline=deadline,
                    where=str,
                    what=target.label,
                    base=EmbeddingError,
                )
                request = partial(FeatureExtraction, connection, texts=batch, deadline=deadline)
                _, raw = yield from attempts.flow([target], request)
                out.append(self._vectors(raw, len(batch)))
            if not out:
                return np.zeros((0, self._dim), dtype=np.float32)
            return l2_normalize(np.concatenate(out))

        return embed()

    def _batches(self, items: list[str]) -> list[list[str]]:
        logger.info("feature_extraction %s: %d texts", self.model, len(items))
        return [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]

    def _vectors(self, raw: Any, n: int) -> NDArray[np.float32]:
        """Check one batch's answer: ``n`` finite vectors of the right width.

        Token-level output: the CLS row.
        """
        try:
            arr = np.asarray(raw, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise EmbeddingError(
                f"{self.model!r} returned something that is not vectors: {exc}"
            ) from None
        arr = arr[:, 0, :] if arr.ndim == 3 else arr
        if arr.shape != (n, self._dim) or not np.all(np.isfinite(arr)):
            raise EmbeddingError(
                f"{self.model!r} returned shape {arr.shape} (expected ({n}, {self._dim})) "
                "or values that are not finite"
            )
        return arr
