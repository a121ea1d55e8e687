"""Retrieval from ChromaDB: embedded (``PersistentClient``) or a ``chroma run`` server (``HttpClient``).

neulora always supplies the vectors itself (the collection has no embedding function), records which embedder
made them, and turns Chroma's cosine distance into a similarity score (``1 - distance``).

Embedded mode serialises writers across processes with an advisory lock file next to the database, and
reopens the database inside the lock before each write, so two ``neulora ingest`` runs on one directory stay
exact. Readers in other processes may see stale results until they reopen: when several processes read and
write, run ``chroma run --path DIR`` and connect with ``host``/``port``.

>>> import tempfile
>>> from neulora.embeddings import HashingEmbedder
>>> retriever = ChromaRetriever(HashingEmbedder(), path=tempfile.mkdtemp())
>>> retriever.add_texts(["로그함수는 지수함수의 역함수이다.", "A sequence is a list of numbers."]).added
2
>>> retriever.retrieve("로그함수", k=1)[0].text
'로그함수는 지수함수의 역함수이다.'
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .chunking import split_text
from .embeddings import Embedder
from .errors import ConfigError, EmbedderMismatchError, InvalidInputError
from .exact import ExactIndex
from .loaders import DocumentError, chunk_ids, collect_files, read_document
from .store import chroma_errors, progress_bar, stored_ids, unchanged_sources, write_lock
from .text import check_text, truncate

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["DEFAULT_HNSW", "ChromaRetriever", "IngestReport", "Passage", "format_context"]

logger = logging.getLogger(__name__)

# Collections up to ``exact_limit`` chunks are searched exactly (neulora.exact): recall 1.0, and faster than
# HNSW at that size. Above it, HNSW answers: ef_search 200 (a query-time setting, free at insert time) lifts
# recall@10 over Chroma's default of 100 on hard data (bench/bench_retrieval.py). Raising max_neighbors (32) and
# ef_construction (200) reaches 0.99 there, at 0.6x the insert rate: pass them in ``hnsw`` for large corpora.
DEFAULT_HNSW: dict[str, Any] = {"space": "cosine", "ef_search": 200}
_META_STAMP = "neulora_stamp"
_META_EMBEDDER = "neulora_embedder"
_META_DIM = "neulora_dim"
_EMBED_BLOCK = 256


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved chunk: ``score`` is the cosine similarity (1 - Chroma's cosine distance).

    >>> Passage("로그는 지수의 역연산", 0.61, "/notes/log.md", None, "id1", {"section": "로그"})
    Passage('log.md', score=0.610, text='로그는 지수의 역연산')
    """

    text: str
    score: float
    source: str
    page: int | None
    id: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        where = Path(self.source).name + (f" p.{self.page}" if self.page else "")
        return f"Passage({where!r}, score={self.score:.3f}, text={self.text[:40]!r})"


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What an ingest did: files added, unchanged, replaced, failed (with reasons), and chunks written.

    >>> print(IngestReport(added=2, failed=(("x.bin", "unsupported file type '.bin'"),), chunks_written=9).format())
    added 2 file(s), replaced 0, unchanged 0, failed 1; 9 chunk(s) written, 0 deleted, 0 embedded in 0.00s
      failed: x.bin: unsupported file type '.bin'
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

    def format(self) -> str:
        """A short human-readable summary."""
        lines = [
            f"added {self.added} file(s), replaced {self.replaced}, unchanged {self.unchanged}, failed "
            f"{len(self.failed)}; {self.chunks_written} chunk(s) written, {self.chunks_deleted} deleted, "
            f"{self.embedded} embedded in {self.seconds:.2f}s"
        ]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


def format_context(passages: Sequence[Passage]) -> str:
    """Number the passages with their sources, for the prompt: ``[1] (notes.md, p. 2) text``."""
    blocks = []
    for i, p in enumerate(passages, start=1):
        where = Path(p.source).name + (f", p. {p.page}" if p.page else "")
        section = p.metadata.get("section")
        if section:
            where += f", {section}"
        blocks.append(f"[{i}] ({where})\n{p.text}")
    return "\n\n".join(blocks)


@dataclass
class _Pending:
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metadatas: list[dict[str, Any]] = field(default_factory=list)


class ChromaRetriever:
    """Embeds, stores and retrieves passages in one Chroma collection.

    Give ``path`` (embedded, the default ``./chroma_db``), ``host``/``port`` (a ``chroma run`` server), or a
    ready ``client``. Nothing is opened until first use.
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
    ) -> None:
        if sum(x is not None for x in (path, host, client)) > 1:
            raise ConfigError("give one of path, host or client")
        _check_k(k)
        self.embedder = embedder
        self.collection_name = collection
        self.path = None if (host or client is not None) else Path(path or "./chroma_db")
        self.host, self.port = host, port
        self.k = k
        self.hnsw = {**DEFAULT_HNSW, **(hnsw or {})}
        if self.hnsw["space"] != "cosine":
            raise ConfigError("neulora scores are cosine similarities: the collection space must be 'cosine'")
        self.max_query_chars = max_query_chars
        self.exact_limit = exact_limit
        self._client = client
        self._coll: Any = None
        self._exact: ExactIndex | None = None

    def __repr__(self) -> str:
        where = f"path={str(self.path)!r}" if self.path else f"host={self.host!r}, port={self.port}" if self.host \
            else "client=..."
        return f"ChromaRetriever({self.collection_name!r}, {where}, embedder={self.embedder.name!r})"

    # -- connection ---------------------------------------------------------------------------------
    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        if self.path is not None:
            self.path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(self.path), settings=settings)
        return chromadb.HttpClient(host=str(self.host), port=self.port, settings=settings)

    def _collection(self) -> Any:
        if self._coll is None:
            with chroma_errors(f"open collection {self.collection_name!r}"):
                if self._client is None:
                    self._client = self._connect()
                self._coll = self._client.get_or_create_collection(
                    self.collection_name,
                    configuration={"hnsw": dict(self.hnsw)},
                    metadata={_META_EMBEDDER: self.embedder.name, _META_DIM: self.embedder.dim},
                    embedding_function=None,
                )
            self._check_embedder(self._coll.metadata or {})
        return self._coll

    def _check_embedder(self, meta: Mapping[str, Any]) -> None:
        name, dim = meta.get(_META_EMBEDDER), meta.get(_META_DIM)
        if name != self.embedder.name or dim != self.embedder.dim:
            raise EmbedderMismatchError(
                f"collection {self.collection_name!r} holds vectors of embedder {name!r} (dim {dim}), "
                f"but this retriever embeds with {self.embedder.name!r} (dim {self.embedder.dim}): "
                "use the same embedder, another collection, or re-ingest with --reset"
            )

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        """The collection, reopened under an exclusive cross-process lock in embedded mode."""
        if self.path is None:
            yield self._collection()
            return
        with write_lock(self.path):
            # A client opened before another process wrote holds a stale index and would overwrite the
            # other writer's vectors: take a fresh one inside the lock.
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
            self._client, self._coll = None, None
            yield self._collection()

    def _stamp_write(self) -> None:
        """Mark the collection as changed (inside ``_writing``), so that every retriever's exact index reloads."""
        coll = self._collection()
        with chroma_errors("stamp the collection"):
            coll.modify(metadata={**(coll.metadata or {}), _META_STAMP: uuid.uuid4().hex})
        self._exact = None

    def _latest(self) -> Any:
        """The collection; on a server re-read each time, since another client may have written or reset it."""
        coll = self._collection()
        if self.path is None:
            with chroma_errors("read the collection"):
                latest = self._client.get_collection(self.collection_name, embedding_function=None)
            if latest.id != coll.id:
                self._check_embedder(latest.metadata or {})
            self._coll = coll = latest
        return coll

    def _query(self, coll: Any, vec: NDArray[np.float32], k: int, where: Mapping[str, Any] | None) -> Any:
        from chromadb.errors import NotFoundError

        options = {"query_embeddings": vec[None, :], "n_results": k, "where": dict(where) if where else None,
                   "include": ["documents", "metadatas", "distances"]}
        with chroma_errors("query", where=where):
            try:
                return coll.query(**options)
            except NotFoundError:
                if self.path is not None:
                    raise
                self._coll = None  # another client reset the collection on the server: reopen it once
                return self._collection().query(**options)

    def _exact_index(self, coll: Any) -> ExactIndex | None:
        """The exact index of a collection small enough for it, reloaded when any writer has changed it."""
        if self.exact_limit <= 0:
            return None
        stamp = (coll.metadata or {}).get(_META_STAMP)
        if self._exact is None or self._exact.stamp != stamp:
            with chroma_errors("load vectors for exact search"):
                if coll.count() > self.exact_limit:
                    self._exact = ExactIndex(stamp)
                else:
                    self._exact = ExactIndex.load(coll, stamp=stamp, page=self._max_batch())
                    logger.debug("exact index loaded: %d vectors", len(self._exact.ids))
        return self._exact if self._exact.usable else None

    # -- writing ------------------------------------------------------------------------------------
    def ingest(
        self,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        chunk_size: int = 800,
        chunk_overlap: int = 120,
        progress: bool = True,
    ) -> IngestReport:
        """Chunk, embed and store files and directories; unchanged files cost nothing, changed ones are replaced."""
        started = time.perf_counter()
        files, failed = collect_files([paths] if isinstance(paths, (str, os.PathLike)) else paths)
        docs = []
        for path in files:
            try:
                docs.append(read_document(path))
            except DocumentError as exc:
                failed.append((str(path), str(exc)))
        chunking = f"{chunk_size}/{chunk_overlap}"
        counts = {"added": 0, "unchanged": 0, "replaced": 0}
        pending, kept, stale = _Pending(), _Pending(), list[str]()
        with self._writing() as coll:
            unchanged = unchanged_sources(coll, docs, chunking)
            counts["unchanged"] = len(unchanged)
            docs = [d for d in docs if d.source not in unchanged]
            existing = stored_ids(coll, [d.source for d in docs])
            for doc in docs:
                old_ids = existing.get(doc.source, set())
                chunks = [(c, page) for text, page in doc.pages
                          for c in split_text(text, chunk_size=chunk_size, chunk_overlap=chunk_overlap)]
                if not chunks:
                    failed.append((doc.source, "no text to index"))
                    continue
                counts["replaced" if old_ids else "added"] += 1
                ids = chunk_ids(doc.source, [f"{page}:{c.text}" for c, page in chunks])
                stale.extend(set(old_ids) - set(ids))
                for i, ((chunk, page), cid) in enumerate(zip(chunks, ids, strict=True)):
                    meta = {"source": doc.source, "title": Path(doc.source).name, "section": chunk.section,
                            "chunk": i, "chunks": len(chunks), "file_sha": doc.sha256, "chunking": chunking}
                    if page is not None:
                        meta["page"] = page
                    # A chunk that survived the edit keeps its vector: only its metadata changes.
                    target = kept if cid in old_ids else pending
                    target.ids.append(cid)
                    target.texts.append(chunk.text)
                    target.metadatas.append(meta)
            batches, embedded = self._write(coll, pending, progress)
            self._update_and_delete(coll, kept, stale)
            if pending.ids or kept.ids or stale:
                self._stamp_write()
        report = IngestReport(**counts, failed=tuple(failed), chunks_written=len(pending.ids),
                              chunks_deleted=len(stale), embedded=embedded, batches=batches,
                              seconds=time.perf_counter() - started)
        logger.info("ingest into %s: %s", self.collection_name, report.format().splitlines()[0])
        return report

    def _update_and_delete(self, coll: Any, kept: _Pending, stale: list[str]) -> None:
        step = self._max_batch()
        for start in range(0, len(kept.ids), step):
            with chroma_errors("update metadata"):
                coll.update(ids=kept.ids[start : start + step], metadatas=kept.metadatas[start : start + step])
        for start in range(0, len(stale), step):
            with chroma_errors("delete replaced chunks"):
                coll.delete(ids=stale[start : start + step])

    def add_texts(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        ids: Sequence[str] | None = None,
        *,
        progress: bool = False,
    ) -> IngestReport:
        """Store texts the caller chunked; ids default to content hashes, and existing ids are not re-embedded."""
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
        with self._writing() as coll:
            existing: set[str] = set()
            step = self._max_batch()
            with chroma_errors("read existing ids"):
                if coll.count():  # an empty collection (a first ingest) has nothing to look up
                    for start in range(0, len(id_list), step):
                        existing.update(coll.get(ids=id_list[start : start + step], include=[])["ids"])
            pending = _Pending()
            for cid, text, meta in zip(id_list, items, metas, strict=True):
                if cid not in existing:
                    pending.ids.append(cid)
                    pending.texts.append(text)
                    pending.metadatas.append(meta)
            batches, embedded = self._write(coll, pending, progress)
            if pending.ids:
                self._stamp_write()
        return IngestReport(added=len(pending.ids), unchanged=len(existing), chunks_written=len(pending.ids),
                            embedded=embedded, batches=batches, seconds=time.perf_counter() - started)

    def _write(self, coll: Any, pending: _Pending, progress: bool) -> tuple[tuple[int, ...], int]:
        max_batch = self._max_batch()
        batches: list[int] = []
        bar = progress_bar(len(pending.ids), progress)
        try:
            for start in range(0, len(pending.ids), max_batch):
                stop = min(start + max_batch, len(pending.ids))
                vectors = np.concatenate([
                    self.embedder.embed([_embedding_text(t, m) for t, m in zip(
                        pending.texts[i : min(i + _EMBED_BLOCK, stop)],
                        pending.metadatas[i : min(i + _EMBED_BLOCK, stop)], strict=True)])
                    for i in range(start, stop, _EMBED_BLOCK)
                ])
                with chroma_errors("add"):  # ids are new: checked under the write lock
                    coll.add(ids=pending.ids[start:stop], embeddings=vectors, documents=pending.texts[start:stop],
                                metadatas=pending.metadatas[start:stop])
                batches.append(stop - start)
                if bar is not None:
                    bar.update(stop - start)
        finally:
            if bar is not None:
                bar.close()
        return tuple(batches), len(pending.ids)

    def _max_batch(self) -> int:
        self._collection()
        return int(self._client.get_max_batch_size())

    # -- reading ------------------------------------------------------------------------------------
    def retrieve(
        self, query: str, k: int | None = None, *, where: Mapping[str, Any] | None = None,
        min_score: float | None = None,
    ) -> list[Passage]:
        """Embed ``query`` and return the ``k`` most similar passages, best first."""
        text = truncate(check_text(query, what="query"), self.max_query_chars)
        return self.retrieve_vector(self.embedder.embed([text])[0], k, where=where, min_score=min_score)

    def retrieve_vector(
        self, vector: NDArray[Any], k: int | None = None, *, where: Mapping[str, Any] | None = None,
        min_score: float | None = None,
    ) -> list[Passage]:
        """Return the passages most similar to an embedding the caller already has."""
        k = _check_k(self.k if k is None else k)
        vec = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vec.shape[0] != self.embedder.dim or not np.all(np.isfinite(vec)):
            raise InvalidInputError(f"query vector must be {self.embedder.dim} finite numbers, got shape {vec.shape}")
        coll = self._latest() if self.exact_limit > 0 and not where else self._collection()
        index = self._exact_index(coll) if not where else None
        if index is not None:
            hits = index.top(vec, k)
            with chroma_errors("read passages"):
                got = (coll.get(ids=[i for i, _ in hits], include=["documents", "metadatas"]) if hits
                       else {"ids": [], "documents": [], "metadatas": []})
            found = {i: (d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)}
            rows = [(i, found[i][0], found[i][1], s) for i, s in hits if i in found]
        else:
            res = self._query(coll, vec, k, where)
            rows = [(i, d, m, 1.0 - float(dist)) for i, d, m, dist in zip(
                res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True)]
        passages = [Passage(text=doc or "", score=score, source=str(meta.get("source", "")), page=meta.get("page"),
                            id=pid, metadata=dict(meta)) for pid, doc, meta, score in rows]
        if min_score is not None:
            passages = [p for p in passages if p.score >= min_score]
        logger.debug("retrieved %d passages, top score %s", len(passages), passages[0].score if passages else None)
        return passages

    # -- management ---------------------------------------------------------------------------------
    def count(self) -> int:
        """Number of stored chunks."""
        with chroma_errors("count"):
            return int(self._collection().count())

    def sources(self) -> list[str]:
        """The distinct sources stored, sorted."""
        coll = self._collection()
        found: set[str] = set()
        step = self._max_batch()
        for offset in range(0, self.count(), step):
            with chroma_errors("list sources"):
                metas = coll.get(include=["metadatas"], limit=step, offset=offset)["metadatas"]
            found.update(str(m.get("source", "")) for m in metas)
        return sorted(found)

    def delete_source(self, source: str) -> int:
        """Delete every chunk of ``source``; returns how many were deleted."""
        with self._writing() as coll, chroma_errors("delete source"):
            ids = coll.get(where={"source": str(source)}, include=[])["ids"]
            if ids:
                coll.delete(ids=ids)
                self._stamp_write()
        return len(ids)

    def reset(self) -> None:
        """Delete the collection and start it empty."""
        with self._writing(), chroma_errors("reset"):
            self._client.delete_collection(self.collection_name)
            self._coll = None
            self._stamp_write()  # opens the new, empty collection

    def collections(self) -> list[dict[str, Any]]:
        """Every collection in the database, with its count and embedder."""
        self._collection()
        with chroma_errors("list collections"):
            return [
                {"name": c.name, "count": c.count(), "embedder": (c.metadata or {}).get(_META_EMBEDDER),
                 "dim": (c.metadata or {}).get(_META_DIM)}
                for c in self._client.list_collections()
            ]


def _embedding_text(text: str, meta: Mapping[str, Any]) -> str:
    # The section heading goes into the vector (not the stored text): chunks then match questions by topic.
    section = meta.get("section")
    return f"{section}\n{text}" if section else text


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be a positive int, got {k!r}")
    return k


