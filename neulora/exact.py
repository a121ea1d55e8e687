"""Exact cosine search over every vector of a small collection, held in one matrix.

Up to tens of thousands of chunks, one matrix-vector product is both exact and faster than an HNSW query
(bench/bench_retrieval.py: 10k x 1024 in about 1 ms), so the retriever answers small collections this way and
leaves HNSW to the large ones. The index is pure numpy: :class:`~neulora.collection.ChromaCollection` reads the
vectors and decides when to reload (when the collection's stamp changes).

>>> index = ExactIndex.from_pages([(["a", "b"], [[1.0, 0.0], [0.6, 0.8]])], stamp="s1")
>>> [(i, round(score, 3)) for i, score in index.top(np.array([1.0, 0.1], dtype=np.float32), 2)]
[('a', 0.995), ('b', 0.677)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
        """False for a collection too large to hold: search it with HNSW."""
        return self.matrix is not None

    @classmethod
    def from_pages(cls, pages: Iterable[tuple[Sequence[str], Any]], *, stamp: Any) -> ExactIndex:
        """Build the index from pages of (ids, embeddings), as read from the collection."""
        ids: list[str] = []
        rows: list[NDArray[np.float32]] = []
        for page_ids, embeddings in pages:
            ids.extend(page_ids)
            rows.append(np.asarray(embeddings, dtype=np.float32))
        dim = rows[0].shape[1] if rows else 0
        matrix = np.concatenate(rows) if rows else np.zeros((0, dim), dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        return cls(stamp, tuple(ids), matrix)

    def changed(self, added: Iterable[tuple[Sequence[str], Any]], deleted: Iterable[str], *, stamp: Any) -> ExactIndex:
        """The index after a write made through the same handle: ``deleted`` ids gone, ``added`` pages in.

        Saves readers a full reload after their own handle's writes (a reload of 20k x 1024 vectors takes
        hundreds of milliseconds).
        """
        assert self.matrix is not None, "only a usable index can be changed"
        added = list(added)
        gone = set(deleted) | {cid for ids, _ in added for cid in ids}  # re-added ids replace what a racing load saw
        keep = [i for i, cid in enumerate(self.ids) if cid not in gone] if gone else None
        ids = [self.ids[i] for i in keep] if keep is not None else list(self.ids)
        fresh = ExactIndex.from_pages(added, stamp=stamp)
        if fresh.matrix is None or not fresh.ids:
            matrix = self.matrix[keep] if keep is not None else self.matrix
            return ExactIndex(stamp, tuple(ids), matrix)
        base = self.matrix[keep] if keep is not None else self.matrix
        return ExactIndex(stamp, (*ids, *fresh.ids), np.concatenate([base, fresh.matrix]) if len(ids) else fresh.matrix)

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
