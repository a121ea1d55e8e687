"""Retrieval from ChromaDB: embedded (``PersistentClient``) or a ``chroma run`` server.

``HttpClient``.

neulora always supplies the vectors itself (the collection has no embedding function), records which
embedder made them, and turns Chroma's cosine distance into a similarity score (``1 - distance``).

:class:`ChromaRetriever` composes three parts: the collection handle (:mod:`neulora.store`: mode,
lock, freshness, exact index, batching, errors), the pure ingest planner (:mod:`neulora.store`), and
the embedder. Embedded mode serialises writers across processes with a lock file next to the
database, so two ``neulora ingest`` runs on one directory stay exact. Readers in other processes may
see stale results until they reopen: when several processes read and write, run ``chroma run --path
DIR`` and connect with ``host``/``port``.

>>> import tempfile
>>> from neulora.embedders import HashingEmbedder
>>> retriever = ChromaRetriever(HashingEmbedder(), path=tempfile.mkdtemp())
>>> notes = ["로그함수는 지수함수의 역함수이다.", "A sequence is a list of numbers."]
>>> retriever.add_texts(notes).added
2
>>> retriever.retrieve("로그함수", k=1)[0].text
'로그함수는 지수함수의 역함수이다.'
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._checks import check_int, check_text, is_number, truncate
from .errors import ConfigError, InvalidInputError
from .store._chunking import ChunkingOptions, ChunkMeta
from .store._collection import DEFAULT_HNSW, ChromaCollection
from .store._filters import check_where
from .store._ingest import IngestReport, PlannedChunk, StoredSource, plan_ingest
from .store._loaders import chunk_ids, read_documents, source_prefix
from .store._paging import CollectionWriter

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from .embedders._base import Embedder
from .store._passage import Passage, format_context

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_HNSW", "ChromaRetriever", "IngestReport", "Passage", "format_context"]

PROGRESS_DELAY = 2.0  # seconds before a write shows its progress bar (short writes never do)


_EMBED_BLOCK = 64  # texts per embedder call (the progress bar moves per call)


_SOURCES_PER_READ = 100  # sources per ``$in`` clause


class ChromaRetriever:
    """Embeds, stores and retrieves passages in one Chroma collection.

    Give ``path`` (embedded, the default ``./chroma_db``), ``host``/``port`` (a ``chroma run``
    server), or a ready ``client``. Nothing is opened until first use; ``store`` is the
    :class:`ChromaCollection` underneath. ``create=False`` opens read-only: a missing database or
    collection is a ``CollectionNotFoundError``, and nothing is created (what ``neulora search`` and
    ``neulora collections`` use). ``freshness``: seconds a read may trust its last look for another
    process's writes (writes through neulora in this process are seen at once).
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        collection: str = "neulora",
        path: str | os.PathLike[str] | None = None,
        host: str | None = None,
        port: int = 8000,
        client: Any = None,
        k: int = 10,
        hnsw: Mapping[str, Any] | None = None,
        exact_limit: int = 20_000,
        max_query_chars: int = 8192,
        create: bool = True,
        freshness: float = 0.0,
    ) -> None:
        _check_k(k)
        if not callable(getattr(embedder, "embed", None)):
            raise ConfigError(
                f"embedder must have an embed(texts) method (see neulora.embedders), got "
                f"{type(embedder).__name__}"
            )
        check_int("max_query_chars", max_query_chars)
        self.store = ChromaCollection(
            collection,
            embedder_name=embedder.name,
            dim=embedder.dim,
            path=path,
            host=host,
            port=port,
            client=client,
            hnsw=hnsw,
            exact_limit=exact_limit,
            create=create,
            freshness=freshness,
        )
        self.embedder = embedder
        self.k = k
        self.max_query_chars = max_query_chars

    def __repr__(self) -> str:
        return (
            f"ChromaRetriever({self.collection_name!r}, {self.store.location}, "
            f"embedder={self.embedder.name!r})"
        )

    @property
    def collection_name(self) -> str:
        """The name of the Chroma collection."""
        return self.store.name

    @property
    def path(self) -> Path | None:
        """The database directory in embedded mode, else None."""
        return self.store.path

    # -- writing
    # ------------------------------------------------------------------------------------
    def ingest(
        self,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        chunk_size: int = 800,
        chunk_overlap: int = 120,
        progress: bool = True,
    ) -> IngestReport:
        """Chunk, embed and store files and directories.

        Unchanged files cost nothing, changed ones are replaced.
        """
        started = time.perf_counter()
        options = ChunkingOptions(chunk_size, chunk_overlap)
        with self.store.writing() as writer:
            # Read under the write lock: a file read before it could be older than the one a
            # concurrent ingest of the same path stores, and the last writer would put the older
            # text back.
            docs, failed, skipped = read_documents(paths)
            plan = plan_ingest(docs, _stored_sources(writer, [d.source for d in docs]), options)
            batches = self._embed_and_add(writer, plan.to_add, progress)
            writer.update([c.id for c in plan.to_keep], [c.metadata for c in plan.to_keep])
            writer.delete(plan.to_delete)
        report = IngestReport.of_plan(
            plan,
            failed=failed,
            skipped=skipped,
            batches=batches,
            seconds=time.perf_counter() - started,
        )
        logger.info("ingest into %s: %s", self.collection_name, report.format().splitlines()[0])
        return report

    def add_texts(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        ids: Sequence[str] | None = None,
        *,
        progress: bool = False,
    ) -> IngestReport:
        """Store texts the caller chunked.

        Ids default to content hashes, and existing ids are not re-embedded.
        """
        # a str is a sequence of one-letter chunks: never what was meant
        if isinstance(texts, (str, bytes)):
            raise InvalidInputError("texts must be a list of strings, got one str: pass [text]")
        items = [check_text(t, what=f"text {i}") for i, t in enumerate(texts)]
        if metadatas is not None and len(metadatas) != len(items):
            raise InvalidInputError(f"{len(items)} texts but {len(metadatas)} metadatas")
        if ids is not None and (len(ids) != len(items) or len(set(ids)) != len(ids)):
            raise InvalidInputError("ids must be unique and as many as the texts")
        metas = [dict(m) for m in metadatas] if metadatas is not None else [{} for _ in items]
        for m in metas:
            m.setdefault("source", "add_texts")
        id_list = list(ids) if ids is not None else chunk_ids("add_texts", items)
        started = time.perf_counter()
        with self.store.writing() as writer:
            # An empty collection (a first ingest) has nothing to look up.
            existing = set(writer.get(ids=id_list, include=[]).ids) if writer.count() else set()
            pending = [
                PlannedChunk(cid, text, meta)
                for cid, text, meta in zip(id_list, items, metas, strict=True)
                if cid not in existing
            ]
            batches = self._embed_and_add(writer, pending, progress)
        return IngestReport(
            added=len(pending),
            unchanged=len(existing),
            chunks_written=len(pending),
            embedded=sum(batches),
            batches=tuple(batches),
            seconds=time.perf_counter() - started,
        )

    def _embed_and_add(
        self, writer: CollectionWriter, chunks: Sequence[PlannedChunk], progress: bool
    ) -> list[int]:
        """Embed and add new chunks, a batch of at most ``max_batch`` at a time.

        Long writes show a tqdm bar.
        """
        batches: list[int] = []
        bar = _progress_bar(len(chunks), progress)
        try:
            for start in range(0, len(chunks), writer.max_batch):
                batch = chunks[start : start + writer.max_batch]
                blocks = []
                for i in range(0, len(batch), _EMBED_BLOCK):  # the bar moves per embedded block
                    blocks.append(
                        self.embedder.embed([c.embedding_text for c in batch[i : i + _EMBED_BLOCK]])
                    )
                    if bar is not None:
                        bar.update(len(blocks[-1]))
                writer.add(
                    [c.id for c in batch],
                    np.concatenate(blocks),
                    [c.text for c in batch],
                    [c.metadata for c in batch],
                )
                batches.append(len(batch))
        finally:
            if bar is not None:
                bar.close()
        return batches

    # -- reading
    # ------------------------------------------------------------------------------------
    def retrieve(
        self,
        query: str,
        k: int | None = None,
        *,
        where: Mapping[str, Any] | None = None,
        min_score: float | None = None,
    ) -> list[Passage]:
        """Embed ``query`` and return the ``k`` most similar passages, best first.

        ``where``: a metadata filter in Chroma's grammar (see :mod:`neulora.store`), checked before
        anything is embedded; a filtered search is exact over the matching chunks.
        """
        text = truncate(check_text(query, what="query"), self.max_query_chars)
        if where is not None:
            check_where(where)
        return self.retrieve_vector(
            self.embedder.embed([text])[0], k, where=where, min_score=min_score
        )

    def retrieve_vector(
        self,
        vector: NDArray[Any],
        k: int | None = None,
        *,
        where: Mapping[str, Any] | None = None,
        min_score: float | None = None,
    ) -> list[Passage]:
        """Return the passages most similar to an embedding the caller already has."""
        k = _check_k(self.k if k is None else k)
        min_score = _check_min_score(min_score)
        if where is not None:
            where = check_where(where)
        try:
            wide = np.asarray(vector, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"query vector must be {self.embedder.dim} finite numbers: {exc}"
            ) from None
        if wide.shape[0] != self.embedder.dim:
            raise InvalidInputError(
                f"query vector must be {self.embedder.dim} numbers, got shape {wide.shape}"
            )
        if not np.all(np.isfinite(wide)):
            raise InvalidInputError(
                "query vector must hold finite numbers only (no NaN or infinity)"
            )
        # scaled to unit length in float64 first: a vector of 1e20s would square to infinity in
        # float32 (every score 0), and one of 1e300s would not be float32 at all; cosine scores do
        # not depend on the length
        peak = float(np.max(np.abs(wide))) if wide.size else 0.0
        if peak > 0:
            wide = wide / peak  # first to at most 1: even the float64 norm of 1e300s would overflow
            wide = wide / float(np.linalg.norm(wide))
        vec = wide.astype(np.float32)
        passages = [Passage.from_hit(hit) for hit in self.store.search(vec, k, where=where)]
        if min_score is not None:
            passages = [p for p in passages if p.score >= min_score]
        logger.debug(
            "retrieved %d passages, top score %s",
            len(passages),
            passages[0].score if passages else None,
        )
        return passages

    # -- management
    # ---------------------------------------------------------------------------------
    def count(self) -> int:
        """Number of stored chunks."""
        return self.store.count()

    def sources(self) -> list[str]:
        """The distinct sources stored, sorted."""
        return sorted(
            {
                ChunkMeta.from_metadata(m).source
                for m in self.store.get(include=["metadatas"]).metadatas
            }
        )

    def delete_source(self, source: str) -> int:
        """Delete every chunk of ``source``; returns how many were deleted."""
        with self.store.writing() as writer:
            ids = writer.get(where=ChunkMeta.where_sources([str(source)]), include=[]).ids
            writer.delete(ids)
        return len(ids)

    def reset(self) -> None:
        """Delete the collection and start it empty."""
        self.store.reset()

    def collections(self) -> list[dict[str, Any]]:
        """Every collection in the database, with its count and embedder."""
        return self.store.collections()


def _stored_sources(writer: CollectionWriter, sources: Sequence[str]) -> dict[str, StoredSource]:
    """What the store holds of each of ``sources`` (those it does not hold left out), read cheaply.

    Reading ids costs a fraction of reading metadata, so only the head chunks' metadata is read; ids
    are told apart by their prefix (:func:`~neulora.store._loaders.chunk_ids`), and only ids given
    by hand need their metadata.
    """
    found: dict[str, StoredSource] = {}
    for start in range(0, len(sources), _SOURCES_PER_READ):
        batch = sources[start : start + _SOURCES_PER_READ]
        heads: dict[str, ChunkMeta | None] = {}
        for raw in writer.get(
            where=ChunkMeta.where_sources(batch, heads_only=True), include=["metadatas"]
        ).metadatas:
            meta = ChunkMeta.from_metadata(raw)
            # Two first chunks: a replace was cut short, and neither can vouch for the file.
            heads[meta.source] = None if meta.source in heads else meta
        by_prefix = {source_prefix(s): s for s in batch}
        ids: dict[str, set[str]] = {}
        strays: list[str] = []
        for cid in writer.get(where=ChunkMeta.where_sources(batch), include=[]).ids:
            source = by_prefix.get(cid.split("-", 1)[0])
            if source is None:
                strays.append(cid)
            else:
                ids.setdefault(source, set()).add(cid)
        if strays:
            got = writer.get(ids=strays, include=["metadatas"])
            for cid, raw in zip(got.ids, got.metadatas, strict=True):
                ids.setdefault(ChunkMeta.from_metadata(raw).source, set()).add(cid)
        found.update(
            {s: StoredSource(frozenset(ids.get(s, ())), heads.get(s)) for s in {*ids, *heads}}
        )
    return found


def _progress_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar for writes that last (None when disabled or empty).

    It appears after two seconds.
    """
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="chunk", desc="embedding", delay=PROGRESS_DELAY)


def _check_min_score(value: Any) -> float | None:
    if value is None:
        return None
    if not is_number(value):
        raise InvalidInputError(
            f"min_score must be a number (a cosine similarity floor) or None, got {value!r}"
        )
    return float(value)


def _check_k(k: Any) -> int:
    return check_int("k", k, error=InvalidInputError)
