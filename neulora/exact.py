"""Exact cosine search over every vector of a small collection, held in one matrix.

Up to tens of thousands of chunks, one matrix-vector product is both exact and faster than an HNSW query
(bench/bench_retrieval.py: 10k x 1024 in about 1 ms), so the retriever answers small collections this way and
leaves HNSW to the large ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["ExactIndex"]


@dataclass(frozen=True)
class ExactIndex:
    """The ids and unit-norm vectors of a collection as loaded at ``stamp`` (``usable`` False: too large)."""

    stamp: Any
    ids: tuple[str, ...] = ()
    matrix: NDArray[np.float32] | None = None

    @property
    def usable(self) -> bool:
        return self.matrix is not None

    @classmethod
    def load(cls, coll: Any, *, stamp: Any, page: int) -> ExactIndex:
        """Read every id and embedding of ``coll``, ``page`` at a time."""
        ids: list[str] = []
        rows: list[NDArray[np.float32]] = []
        offset = 0
        while True:
            got = coll.get(include=["embeddings"], limit=page, offset=offset)
            if not got["ids"]:
                break
            ids.extend(got["ids"])
            rows.append(np.asarray(got["embeddings"], dtype=np.float32))
            offset += len(got["ids"])
        dim = rows[0].shape[1] if rows else 0
        matrix = np.concatenate(rows) if rows else np.zeros((0, dim), dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        return cls(stamp, tuple(ids), matrix)

    def top(self, vector: NDArray[np.float32], k: int) -> list[tuple[str, float]]:
        """The ``k`` ids most similar to ``vector`` by cosine, best first, with their scores."""
        if self.matrix is None or not self.ids:
            return []
        norm = float(np.linalg.norm(vector))
        scores = self.matrix @ (vector / norm if norm > 0 else vector)
        k = min(k, len(self.ids))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in best]
