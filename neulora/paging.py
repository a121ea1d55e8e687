"""Reading a Chroma collection a page at a time: Chroma refuses requests over its ``get_max_batch_size()``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .chroma import chroma_errors

__all__ = ["Records", "read_records", "vector_pages"]


@dataclass(frozen=True, slots=True)
class Records:
    """Records read from the collection, column by column (a column not asked for is empty)."""

    ids: list[str]
    documents: list[str | None]
    metadatas: list[Mapping[str, Any]]


def read_records(coll: Any, step: int, *, ids: Sequence[str] | None, where: Mapping[str, Any] | None,
                 include: Sequence[str]) -> Records:
    """Records by ``ids`` and/or ``where`` (every record if neither), ``step`` at a time."""
    out = Records([], [], [])
    where_ = dict(where) if where else None
    with chroma_errors("read records", where=where):
        if ids is not None:
            pages = [coll.get(ids=list(ids[i : i + step]), where=where_, include=list(include))
                     for i in range(0, len(ids), step)]
        else:
            pages = []
            while not pages or len(pages[-1]["ids"]) == step:
                pages.append(coll.get(where=where_, include=list(include), limit=step, offset=step * len(pages)))
    for page in pages:
        out.ids.extend(page["ids"])
        out.documents.extend(page.get("documents") or [])
        out.metadatas.extend(page.get("metadatas") or [])
    return out


def vector_pages(coll: Any, step: int) -> Iterator[tuple[list[str], Any]]:
    """Every (ids, embeddings) page of the collection, for the exact index."""
    offset = 0
    while True:
        got = coll.get(include=["embeddings"], limit=step, offset=offset)
        if not got["ids"]:
            return
        yield got["ids"], got["embeddings"]
        offset += len(got["ids"])
