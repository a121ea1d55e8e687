"""Exact cosine search over every record of a small collection, held in memory.

One matrix and the texts.

Up to tens of thousands of chunks, one matrix-vector product is both exact and faster than an HNSW
query (bench/bench_retrieval.py: 10k x 1024 in about 1 ms), so the retriever answers small
collections this way and leaves HNSW to the large ones. The documents and metadata are held beside
the vectors: reading the hits back from Chroma cost more than the search itself (about 0.6 ms of a
turn, by ids, measured). The index is pure numpy: :class:`~neulora.store.ChromaCollection` reads the
records and decides when to reload (when the collection's stamp changes).

>>> page = (["a", "b"], [[1.0, 0.0], [0.6, 0.8]], ["east", "north"], [{}, {}])
>>> index = ExactIndex.from_pages([page], stamp="s1")
>>> query = np.array([1.0, 0.1], dtype=np.float32)
>>> [(i, doc, round(score, 3)) for i, doc, _, score in index.top(query, 2)]
[('a', 'east', 0.995), ('b', 'north', 0.677)]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._filters import matches

if TYPE_CHECKING:
    from numpy.typing import NDArray

# ids, vectors, docs, metas
Page = tuple[Sequence[str], Any, Sequence[str | None], Sequence[Mapping[str, Any] | None]]


@dataclass(frozen=True)
class ExactIndex:
    """The records and unit-norm vectors of a collection as loaded at ``stamp``.

    ``usable`` False: too large.
    """

    stamp: Any
    ids: tuple[str, ...] = ()
    matrix: NDArray[np.float32] | None = None
    documents: tuple[str | None, ...] = ()
    metadatas: tuple[Mapping[str, Any] | None, ...] = ()
    # the rows each recent filter keeps (a learner's session asks with the same filter turn after
    # turn)
    _masks: dict[str, NDArray[np.bool_]] = field(default_factory=dict, compare=False, repr=False)

    def mask(self, where: Mapping[str, Any]) -> NDArray[np.bool_]:
        """Which rows ``where`` keeps, computed once per filter (the last 32 kept)."""
        key = json.dumps(where, sort_keys=True, default=str)
        found = self._masks.get(key)
        if found is None:
            found = np.fromiter(
                (matches(where, m) for m in self.metadatas), dtype=bool, count=len(self.ids)
            )
            if len(self._masks) >= 32:
                self._masks.clear()  # atomic, unlike evicting one while another thread adds
            self._masks[key] = found
        return found

    @property
    def usable(self) -> bool:
        """False for a collection too large to hold: search it with HNSW."""
        return self.matrix is not None

    @classmethod
    def from_pages(cls, pages: Iterable[Page], *, stamp: Any) -> ExactIndex:
        """The index of pages of (ids, embeddings, documents, metadatas) read from a collection."""
        ids: list[str] = []
        rows: list[NDArray[np.float32]] = []
        documents: list[str | None] = []
        metadatas: list[Mapping[str, Any] | None] = []
        for page_ids, embeddings, page_documents, page_metadatas in pages:
            ids.extend(page_ids)
            rows.append(np.asarray(embeddings, dtype=np.float32))
            documents.extend(page_documents)
            metadatas.extend(page_metadatas)
        if not len(ids) == len(documents) == len(metadatas):
            raise ValueError("every page needs as many documents and metadatas as ids")
        dim = rows[0].shape[1] if rows else 0
        matrix = _unit_rows(np.concatenate(rows) if rows else np.zeros((0, dim), dtype=np.float32))
        return cls(stamp, tuple(ids), matrix, tuple(documents), tuple(metadatas))

    def changed(self, added: Iterable[Page], deleted: Iterable[str], *, stamp: Any) -> ExactIndex:
        """The index after a write made through the same handle.

        ``deleted`` ids gone, ``added`` pages in.

        Saves readers a full reload after their own handle's writes (a reload of 20k x 1024 vectors
        takes hundreds of milliseconds).
        """
        assert self.matrix is not None, "only a usable index can be changed"
        added = list(added)
        # re-added ids replace a racing load's
        gone = set(deleted) | {cid for page in added for cid in page[0]}
        keep = (
            [i for i, cid in enumerate(self.ids) if cid not in gone]
            if gone
            else range(len(self.ids))
        )
        fresh = ExactIndex.from_pages(added, stamp=stamp)
        assert fresh.matrix is not None
        base = self.matrix[list(keep)] if gone else self.matrix
        if not len(fresh.ids):
            matrix = base
        elif len(keep):
            matrix = np.concatenate([base, fresh.matrix])
        else:
            matrix = fresh.matrix
        return ExactIndex(
            stamp,
            (*(self.ids[i] for i in keep), *fresh.ids),
            matrix,
            (*(self.documents[i] for i in keep), *fresh.documents),
            (*(self.metadatas[i] for i in keep), *fresh.metadatas),
        )

    def refreshed(
        self, records: Page, vectors_of: Callable[[list[str]], Any], *, stamp: Any
    ) -> ExactIndex:
        """The index of the collection now holding ``records`` (ids, unused, documents, metadatas).

        This index's vectors serve the ids it holds; ``vectors_of(ids)`` is asked only for the
        others.

        A collection another writer changed is read again this way: its documents and metadata
        (cheap), and the vectors of its new chunks (the costly part, 4 KiB a chunk) instead of all
        of them.
        """
        assert self.matrix is not None, "only a usable index can be refreshed"
        ids, _, documents, metadatas = records
        row_of = {cid: row for row, cid in enumerate(self.ids)}
        missing = [cid for cid in ids if cid not in row_of]
        # held rows are unit-norm already: never twice
        new = _unit_rows(
            np.asarray(vectors_of(missing), dtype=np.float32)
            if missing
            else np.zeros((0, 0), dtype=np.float32)
        )
        fresh = dict(zip(missing, new, strict=True))
        dim = self.matrix.shape[1]
        if not dim and missing:
            dim = new.shape[1]
        matrix = np.empty((len(ids), dim), dtype=np.float32)
        for i, cid in enumerate(ids):
            matrix[i] = self.matrix[row_of[cid]] if cid in row_of else fresh[cid]
        return ExactIndex(stamp, tuple(ids), matrix, tuple(documents), tuple(metadatas))

    def top(
        self, vector: NDArray[np.float32], k: int, where: Mapping[str, Any] | None = None
    ) -> list[tuple[str, str | None, Mapping[str, Any] | None, float]]:
        """The ``k`` records most similar to ``vector`` by cosine, best first.

        (id, document, metadata, score).

        ``where`` (checked by :func:`~neulora.store.check_where`): only the records whose metadata
        match.
        """
        if self.matrix is None or not self.ids:
            return []
        norm = float(np.linalg.norm(vector))
        scores = self.matrix @ (vector / norm if norm > 0 else vector)
        if where:
            keep = self.mask(where)
            scores = np.where(keep, scores, -np.inf)
            k = min(k, int(keep.sum()))
            if k == 0:
                return []
        k = min(k, len(self.ids))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.ids[i], self.documents[i], self.metadatas[i], float(scores[i])) for i in best]


def _unit_rows(matrix: NDArray[np.float32]) -> NDArray[np.float32]:
    """Each row divided by its length, computed in float64.

    A row comes out the same whichever batch it was normalised in (a float32 norm's rounding depends
    on the batch's shape), so an index patched after a write equals one loaded afresh.
    """
    wide = matrix.astype(np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", wide, wide))[:, None]
    np.divide(wide, norms, out=wide, where=norms > 0)
    return wide.astype(np.float32)
