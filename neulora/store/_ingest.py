r"""Ingest planning, apart from any store.

Documents and what the store holds in, a plan of what to write out.

:func:`plan_ingest` is pure: it reads no file and calls no database, so every rule of a re-ingest
(unchanged files cost nothing, an edited file keeps the chunks that survived the edit and loses the
others, other chunking options re-cut the file) is tested with plain
:class:`~neulora.store.Document` values.

>>> from neulora.store import Document
>>> doc = Document("/notes/log.md", (("# 로그\n로그는 지수의 역연산이다.", None),), "sha1")
>>> plan = plan_ingest([doc], {}, ChunkingOptions())
>>> plan.added, [(c.text, c.metadata["section"]) for c in plan.to_add]
(('/notes/log.md',), [('로그는 지수의 역연산이다.', '로그')])
>>> ids = frozenset(c.id for c in plan.to_add)
>>> stored = {doc.source: StoredSource(ids, ChunkMeta.from_metadata(
...     plan.to_add[0].metadata))}
>>> plan_ingest([doc], stored, ChunkingOptions()).unchanged
('/notes/log.md',)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._chunking import ChunkingOptions, ChunkMeta
from ._loaders import Document, chunk_ids


@dataclass(frozen=True, slots=True)
class StoredSource:
    """What the store holds of one source.

    The ids of its chunks, and the metadata of its first one (if stored).
    """

    ids: frozenset[str] = frozenset()
    head: ChunkMeta | None = None


@dataclass(frozen=True, slots=True)
class PlannedChunk:
    """A chunk to write: its id, its text and the metadata stored with it."""

    id: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def embedding_text(self) -> str:
        """What the embedder reads: the section heading, then the text.

        The heading goes into the vector (not the stored text), so that chunks match questions by
        topic.
        """
        section = ChunkMeta.from_metadata(self.metadata).section
        return f"{section}\n{self.text}" if section else self.text


@dataclass(frozen=True, slots=True)
class IngestPlan:
    """Sources by outcome; the chunks to embed and add, to keep (metadata only) and to delete."""

    unchanged: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    to_add: tuple[PlannedChunk, ...] = ()
    to_keep: tuple[PlannedChunk, ...] = ()
    to_delete: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"IngestPlan(unchanged={len(self.unchanged)}, added={len(self.added)}, "
            f"replaced={len(self.replaced)}, "
            f"failed={len(self.failed)}, to_add={len(self.to_add)}, to_keep={len(self.to_keep)}, "
            f"to_delete={len(self.to_delete)})"
        )

    @property
    def writes(self) -> bool:
        """Whether carrying the plan out changes the store."""
        return bool(self.to_add or self.to_keep or self.to_delete)


def plan_ingest(
    documents: Iterable[Document],
    stored: Mapping[str, StoredSource],
    options: ChunkingOptions,
) -> IngestPlan:
    """Plan the ingest of ``documents`` into a store holding ``stored``.

    By source; sources not in it are new.
    """
    unchanged: list[str] = []
    added: list[str] = []
    replaced: list[str] = []
    failed: list[tuple[str, str]] = []
    to_add: list[PlannedChunk] = []
    to_keep: list[PlannedChunk] = []
    to_delete: list[str] = []
    for doc in documents:
        held = stored.get(doc.source, StoredSource())
        if _unchanged(doc, held, options):
            unchanged.append(doc.source)
            continue
        chunks = _chunks(doc, options)
        if not chunks:
            failed.append((doc.source, "no text to index"))
            continue
        (replaced if held.ids else added).append(doc.source)
        to_delete.extend(sorted(held.ids - {c.id for c in chunks}))
        for chunk in chunks:
            # A chunk that survived the edit keeps its vector: only its metadata changes.
            (to_keep if chunk.id in held.ids else to_add).append(chunk)
    return IngestPlan(
        tuple(unchanged),
        tuple(added),
        tuple(replaced),
        tuple(failed),
        tuple(to_add),
        tuple(to_keep),
        tuple(to_delete),
    )


def _unchanged(doc: Document, held: StoredSource, options: ChunkingOptions) -> bool:
    """Stored from the same bytes with the same options, and every chunk present.

    An ingest killed midway isn't.
    """
    head = held.head
    return (
        head is not None
        and head.file_sha == doc.sha256
        and head.chunking == options.key
        and head.chunks == len(held.ids)
    )


def _chunks(doc: Document, options: ChunkingOptions) -> list[PlannedChunk]:
    pieces = [(chunk, page) for text, page in doc.pages for chunk in options.split(text)]
    ids = chunk_ids(doc.source, [f"{page}:{chunk.text}" for chunk, page in pieces])
    title = Path(doc.source).name
    return [
        PlannedChunk(
            cid,
            chunk.text,
            ChunkMeta(
                source=doc.source,
                title=title,
                section=chunk.section,
                chunk=i,
                chunks=len(pieces),
                file_sha=doc.sha256,
                chunking=options.key,
                page=page,
            ).to_metadata(),
        )
        for i, ((chunk, page), cid) in enumerate(zip(pieces, ids, strict=True))
    ]


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What an ingest did: files added, unchanged, replaced, failed (with why), chunks written.

    >>> failed = (("x.bin", "unsupported file type '.bin'"),)
    >>> skipped = (("notes/image.png", "unsupported type .png"),)
    >>> report = IngestReport(added=2, failed=failed, chunks_written=9, skipped=skipped)
    >>> print(report.format())  # doctest: +NORMALIZE_WHITESPACE
    added 2 file(s), replaced 0, unchanged 0, failed 1, skipped 1;
    9 chunk(s) written, 0 deleted, 0 embedded in 0.00s
      failed: x.bin: unsupported file type '.bin'
      skipped: notes/image.png (unsupported type .png)
    """

    added: int = 0
    unchanged: int = 0
    replaced: int = 0
    failed: tuple[tuple[str, str], ...] = ()
    chunks_written: int = 0
    chunks_deleted: int = 0
    embedded: int = 0
    batches: tuple[int, ...] = ()
    seconds: float = 0.0
    skipped: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of_plan(
        cls,
        plan: IngestPlan,
        *,
        failed: Sequence[tuple[str, str]] = (),
        batches: Sequence[int] = (),
        seconds: float = 0.0,
        skipped: Sequence[tuple[str, str]] = (),
    ) -> IngestReport:
        """The report of a plan carried out.

        ``failed``: the files that could not be read, before the plan's; ``skipped``: files of other
        types found in
        folders.
        """
        return cls(
            added=len(plan.added),
            unchanged=len(plan.unchanged),
            replaced=len(plan.replaced),
            failed=(*failed, *plan.failed),
            chunks_written=len(plan.to_add),
            chunks_deleted=len(plan.to_delete),
            embedded=sum(batches),
            batches=tuple(batches),
            seconds=seconds,
            skipped=tuple(skipped),
        )

    def format(self) -> str:
        """A short human-readable summary."""
        lines = [
            f"added {self.added} file(s), replaced {self.replaced}, unchanged {self.unchanged}, "
            "failed "
            f"{len(self.failed)}, skipped {len(self.skipped)}; {self.chunks_written} chunk(s) "
            "written, "
            f"{self.chunks_deleted} deleted, "
            f"{self.embedded} embedded in {self.seconds:.2f}s"
        ]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        lines += [f"  skipped: {path} ({reason})" for path, reason in self.skipped]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``failed`` as [path, reason] pairs)."""
        return {
            "added": self.added,
            "unchanged": self.unchanged,
            "replaced": self.replaced,
            "failed": [list(f) for f in self.failed],
            "chunks_written": self.chunks_written,
            "chunks_deleted": self.chunks_deleted,
            "embedded": self.embedded,
            "batches": list(self.batches),
            "seconds": self.seconds,
            "skipped": [list(s) for s in self.skipped],
        }
