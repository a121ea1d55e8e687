"""Reading and writing a Chroma collection a page at a time.

Chroma refuses requests over ``get_max_batch_size()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._chroma import chroma_errors


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: ``score`` is the cosine similarity (1 - Chroma's cosine distance)."""

    id: str
    document: str
    metadata: dict[str, Any]
    score: float


@dataclass(frozen=True, slots=True)
class Records:
    """Records read from the collection, column by column (a column not asked for is empty)."""

    ids: list[str]
    documents: list[str | None]
    metadatas: list[Mapping[str, Any]]


def read_records(
    coll: Any,
    step: int,
    *,
    ids: Sequence[str] | None,
    where: Mapping[str, Any] | None,
    include: Sequence[str],
) -> Records:
    """Records by ``ids`` and/or ``where`` (every record if neither), ``step`` at a time."""
    out = Records([], [], [])
    where_ = dict(where) if where else None
    with chroma_errors("read records", where=where):
        if ids is not None:
            pages = [
                coll.get(ids=list(ids[i : i + step]), where=where_, include=list(include))
                for i in range(0, len(ids), step)
            ]
        else:
            pages = []
            while not pages or len(pages[-1]["ids"]) == step:
                pages.append(
                    coll.get(
                        where=where_, include=list(include), limit=step, offset=step * len(pages)
                    )
                )
    for page in pages:
        out.ids.extend(page["ids"])
        out.documents.extend(page.get("documents") or [])
        out.metadatas.extend(page.get("metadatas") or [])
    return out


def record_pages(coll: Any, step: int) -> Iterator[tuple[list[str], Any, list[Any], list[Any]]]:
    """Every (ids, embeddings, documents, metadatas) page of the collection, for the exact index."""
    offset = 0
    while True:
        got = coll.get(include=["embeddings", "documents", "metadatas"], limit=step, offset=offset)
        if not got["ids"]:
            return
        yield got["ids"], got["embeddings"], got["documents"], got["metadatas"]
        offset += len(got["ids"])


class CollectionWriter:
    """The collection during one :meth:`ChromaCollection.writing` block.

    Every request is cut to ``max_batch``.
    """

    def __init__(
        self, coll: Any, max_batch: int, *, before_change: Callable[[], object] = lambda: None
    ) -> None:
        self._coll = coll
        self.max_batch = max_batch
        self.changed = False
        # what this write added, deleted and updated, for the exact index
        self.added: list[tuple[Sequence[str], Any, Sequence[str], Sequence[Mapping[str, Any]]]] = []
        self.deleted: list[str] = []
        self.updated = False
        self._before_change = before_change

    def _changing(self) -> None:
        if not self.changed:
            self._before_change()
            self.changed = True

    def get(
        self,
        *,
        ids: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        include: Sequence[str] = ("documents", "metadatas"),
    ) -> Records:
        """Read records as :meth:`ChromaCollection.get` does, inside the write."""
        return read_records(self._coll, self.max_batch, ids=ids, where=where, include=include)

    def count(self) -> int:
        """Number of records."""
        with chroma_errors("count"):
            return int(self._coll.count())

    def add(
        self,
        ids: Sequence[str],
        embeddings: Any,
        documents: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]],
    ) -> None:
        """Add new records (the caller has checked, under the lock, that the ids are new)."""
        for start in range(0, len(ids), self.max_batch):
            stop = start + self.max_batch
            self._changing()
            with chroma_errors("add"):
                self._coll.add(
                    ids=list(ids[start:stop]),
                    embeddings=embeddings[start:stop],
                    documents=list(documents[start:stop]),
                    metadatas=[dict(m) for m in metadatas[start:stop]],
                )
            self.added.append(
                (
                    list(ids[start:stop]),
                    embeddings[start:stop],
                    list(documents[start:stop]),
                    [dict(m) for m in metadatas[start:stop]],
                )
            )

    def update(self, ids: Sequence[str], metadatas: Sequence[Mapping[str, Any]]) -> None:
        """Replace the metadata of existing records (their vectors stay)."""
        for start in range(0, len(ids), self.max_batch):
            self._changing()
            with chroma_errors("update metadata"):
                self._coll.update(
                    ids=list(ids[start : start + self.max_batch]),
                    metadatas=[dict(m) for m in metadatas[start : start + self.max_batch]],
                )
            self.updated = True

    def delete(self, ids: Sequence[str]) -> None:
        """Delete records by id."""
        for start in range(0, len(ids), self.max_batch):
            self._changing()
            with chroma_errors("delete records"):
                self._coll.delete(ids=list(ids[start : start + self.max_batch]))
            self.deleted.extend(ids[start : start + self.max_batch])
