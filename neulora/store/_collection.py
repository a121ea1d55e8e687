"""The one door to Chroma: a handle on one collection, embedded, on a server, or injected.

:class:`ChromaCollection` owns what keeps a collection consistent; what differs between the modes is
in :mod:`neulora.store`, chosen once in the constructor.

- **Writes** go through :meth:`ChromaCollection.writing`. Embedded, they take a lock file next to
  the database and reopen the database inside it if another writer has changed it since (a stale
  open database would overwrite that writer's vectors). A write stamps the collection
  (:mod:`neulora.store`) before its first change (so a writer that dies midway still shows) and
  after its last (so that every exact index reloads).
- **Reads** never wait for writes. They re-read the stamp first, or trust their last look for
  ``freshness`` seconds unless neulora wrote in this process since: embedded, another process's
  stamp means the open database is stale, so it is reopened. The exact index (:mod:`neulora.store`)
  answers up to ``exact_limit`` chunks, HNSW the larger ones and any collection whose stamp says a
  write is under way (or died midway).
- Requests are cut to Chroma's ``get_max_batch_size()``; chromadb's errors come out as
  ``RetrievalError``.

The handle knows the embedder only by its name and dimension, recorded in the collection and checked
on open.

>>> import tempfile
>>> store = ChromaCollection("notes", path=tempfile.mkdtemp(), embedder_name="toy", dim=2)
>>> with store.writing() as w:
...     memo = {"source": "memo"}
...     w.add(["a", "b"], [[1.0, 0.0], [0.0, 1.0]], ["east", "north"], [memo, memo])
>>> [(hit.id, hit.document, round(hit.score, 2)) for hit in store.search([0.9, 0.1], 1)]
[('a', 'east', 0.99)]
"""

from __future__ import annotations

import collections
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .._checks import is_real
from ..errors import CollectionNotFoundError, ConfigError, EmbedderMismatchError, RetrievalError
from ._chroma import chroma_errors, mode_for
from ._exact import ExactIndex
from ._paging import CollectionWriter, Hit, Records, read_records, record_pages
from ._stamps import LOCAL_WRITES, META_STAMP, is_dirty, is_foreign, new_stamp, stamp_of

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Up to ``exact_limit`` chunks, exact search (neulora.store): recall 1.0, faster than HNSW there.
# Above, HNSW with ef_search 200 (query-time, free at insert) beats Chroma's default of 100 on hard
# data (bench/bench_retrieval.py).
DEFAULT_HNSW: dict[str, Any] = {"space": "cosine", "ef_search": 200}


_META_EMBEDDER = "neulora_embedder"


_META_DIM = "neulora_dim"


_LOAD_STEP = 512  # records per read when a reader loads the index itself


# In the background, a load reads smaller pages and pauses between them: chromadb holds the
# interpreter while it turns a page into Python objects, and a reader's query waits for it
# (measured: 15 ms queries during a load in pages of 512 without pauses,
# bench/peers/bench_after_ingest.py).
_BACKGROUND_STEP = 128


_BACKGROUND_PAUSE = 0.002


_BACKGROUND_DELAY = 0.05  # the query that found the index stale runs first, alone


def _vectors(coll: Any, ids: list[str], step: int, pause: float = 0.0) -> Any:
    """The stored vectors of ``ids``, in their order."""
    rows: dict[str, Any] = {}
    for start in range(0, len(ids), step):
        got = coll.get(ids=ids[start : start + step], include=["embeddings"])
        rows.update(zip(got["ids"], got["embeddings"], strict=True))
        if pause:
            time.sleep(pause)
    return np.asarray([rows[cid] for cid in ids], dtype=np.float32)


def _records(coll: Any, step: int, pause: float) -> Records:
    """Every record's id, document and metadata, ``step`` at a time, ``pause`` seconds apart."""
    out = Records([], [], [])
    while True:
        got = coll.get(include=["documents", "metadatas"], limit=step, offset=len(out.ids))
        out.ids.extend(got["ids"])
        out.documents.extend(got.get("documents") or [])
        out.metadatas.extend(got.get("metadatas") or [])
        if len(got["ids"]) < step:
            return out
        if pause:
            time.sleep(pause)


class ChromaCollection:
    """One Chroma collection, opened on first use and safe to share between threads.

    Give ``path`` (embedded, the default ``./chroma_db``), ``host``/``port`` (a ``chroma run``
    server) or a ready ``client``; ``embedder_name`` and ``dim`` are recorded in a new collection
    and checked in an old one.
    """

    def __init__(
        self,
        name: str,
        *,
        embedder_name: str,
        dim: int,
        path: str | os.PathLike[str] | None = None,
        host: str | None = None,
        port: int = 8000,
        client: Any = None,
        hnsw: Mapping[str, Any] | None = None,
        exact_limit: int = 20_000,
        create: bool = True,
        freshness: float = 0.0,
    ) -> None:
        if not is_real(freshness) or not 0.0 <= freshness < math.inf:
            raise ConfigError(f"freshness must be a number of seconds >= 0, got {freshness!r}")
        self._mode = mode_for(path, host, port, client)
        self.create = (
            create  # False: a read-only open, which creates neither the database nor the collection
        )
        self.name = name
        self.embedder_name = embedder_name
        self.dim = dim
        self.hnsw = {**DEFAULT_HNSW, **(hnsw or {})}
        if self.hnsw["space"] != "cosine":
            raise ConfigError(
                "neulora scores are cosine similarities: the collection space must be 'cosine'"
            )
        self.exact_limit = exact_limit
        # above exact_limit, a filtered search reads the matching records and searches them exactly
        # when they are at most this many (reading 2,000 x 1024 vectors costs about as much as one
        # HNSW query over a large store)
        self.filtered_exact_limit = 2_000
        self._open: _OpenCollection | None = (
            None  # replaced whole, never emptied: readers keep the one they took
        )
        self._opening = threading.Lock()
        self._exact: ExactIndex | None = None
        # loads of the exact index, and its updates after this handle's writes
        self._index_lock = threading.Lock()
        self._loading: Any = (
            None  # the stamp an exact index is being loaded for in the background, if any
        )
        # the last index loaded or patched: its vectors are reused by the next load (a chunk's id is
        # the hash of its text, so an id held is a vector known; only raw Chroma writes that change
        # a vector in place escape this)
        self._known: ExactIndex | None = None
        self._loading_lock = threading.Lock()
        # False: a stale exact index is reloaded by the reader that finds it stale (it waits for the
        # load); True: readers ask HNSW meanwhile and the load runs in a thread (``neulora serve``
        # turns it on: a long-running server, where no learner should wait for a reload; a short
        # script would wait for the thread at exit)
        self.background_loads = False
        # stamps written by this handle
        self._own_stamps: collections.deque[str] = collections.deque(maxlen=8)
        # A read trusts its last look at the stamp this long (seconds) unless this process wrote
        # since: another process's writes are seen within it. 0: look at every read (one catalogue
        # read each).
        self.freshness = float(freshness)
        self._looked: tuple[float, int, _OpenCollection] | None = (
            None  # when, LOCAL_WRITES then, and what the look found
        )

    def __repr__(self) -> str:
        return f"ChromaCollection({self.name!r}, {self.location})"

    @property
    def location(self) -> str:
        """Where the collection lives: ``path='…'``, ``host='…', port=…`` or ``client=...``."""
        return self._mode.describe()

    @property
    def path(self) -> Path | None:
        """The database directory in embedded mode, else None."""
        return self._mode.path

    @property
    def max_batch(self) -> int:
        """The most records Chroma takes in one request."""
        return self._current().max_batch

    # -- reading
    # ------------------------------------------------------------------------------------
    def count(self) -> int:
        """Number of records."""

        def count(opened: _OpenCollection) -> int:
            with self._mode.using(), chroma_errors("count"):
                return int(opened.coll.count())

        return self._reading(count)

    def get(
        self,
        *,
        ids: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        include: Sequence[str] = ("documents", "metadatas"),
    ) -> Records:
        """Read records by ids and/or a ``where`` clause (all if neither), a batch at a time."""

        def get(opened: _OpenCollection) -> Records:
            with self._mode.using():
                return read_records(
                    opened.coll, opened.max_batch, ids=ids, where=where, include=include
                )

        return self._reading(get)

    def search(
        self, vector: NDArray[np.float32], k: int, *, where: Mapping[str, Any] | None = None
    ) -> list[Hit]:
        """The ``k`` records most similar to ``vector``, best first.

        Exact for small collections, else HNSW.
        """
        vector = np.asarray(vector, dtype=np.float32)
        return self._reading(lambda opened: self._search_from(opened, vector, k, where))

    def _search_from(
        self,
        opened: _OpenCollection,
        vector: NDArray[np.float32],
        k: int,
        where: Mapping[str, Any] | None,
    ) -> list[Hit]:
        for attempt in range(4):
            try:
                with self._mode.using():
                    return self._search(opened, vector, k, where, exact=attempt == 0)
            except RetrievalError as exc:
                if (
                    not self._mode.reopens_for_writes
                    or type(exc.__cause__).__name__ != "InternalError"
                    or attempt == 3
                ):
                    raise
                # Embedded, a read can race another process's write and chromadb fails with an
                # internal error. Reads are idempotent: reopen and ask HNSW (one call) after a pause
                # as long as a writer's batch.
                logger.info("a read of %s raced a write (%s); reading again", self.name, exc)
                time.sleep(0.05 * attempt)
                opened = self._reopen(opened, fresh=True)
        raise AssertionError("unreachable")  # pragma: no cover

    def _search(
        self,
        opened: _OpenCollection,
        vector: NDArray[np.float32],
        k: int,
        where: Mapping[str, Any] | None,
        *,
        exact: bool,
    ) -> list[Hit]:
        index = self._exact_index(opened) if exact else None
        if index is None and where:
            index = self._matching(opened, where)
        if index is None:
            return self._query(opened, vector, k, where)
        return [
            Hit(i, d or "", dict(m or {}), score) for i, d, m, score in index.top(vector, k, where)
        ]

    def _matching(self, opened: _OpenCollection, where: Mapping[str, Any]) -> ExactIndex | None:
        """The records ``where`` keeps, as an exact index, when they are few enough to read.

        Else None: HNSW.

        HNSW with a selective filter can return nothing though matching records exist (its graph
        walk rarely meets them: measured with 2,000 identical chunks of one source); a filter that
        keeps many records is what HNSW handles well.
        """
        with chroma_errors("read the records a filter keeps", where=where):
            ids = opened.coll.get(
                where=dict(where), include=[], limit=self.filtered_exact_limit + 1
            )["ids"]
            if len(ids) > self.filtered_exact_limit:
                return None
            pages = [
                (got["ids"], got["embeddings"], got["documents"], got["metadatas"])
                for got in (
                    opened.coll.get(
                        ids=ids[i : i + opened.max_batch],
                        include=["embeddings", "documents", "metadatas"],
                    )
                    for i in range(0, len(ids), opened.max_batch)
                )
            ]
        return ExactIndex.from_pages(pages, stamp=None)

    def collections(self) -> list[dict[str, Any]]:
        """Every collection of the database, with its count and embedder.

        Opens no collection, creates nothing.
        """
        opened = self._open
        with self._mode.using(), chroma_errors("list collections"):
            try:
                client = (
                    opened.client if opened is not None else self._mode.connect(create=self.create)
                )
            except CollectionNotFoundError:
                # a read-only open of a database that does not exist yet: it holds nothing
                return []
            return [
                {
                    "name": c.name,
                    "count": c.count(),
                    "embedder": (c.metadata or {}).get(_META_EMBEDDER),
                    "dim": (c.metadata or {}).get(_META_DIM),
                }
                for c in client.list_collections()
            ]

    def raw(self) -> Any:
        """The underlying ``chromadb`` collection, for inspection.

        Writes made through it bypass the lock.
        """
        return self._current().coll

    # -- writing
    # ------------------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[CollectionWriter]:
        """The collection for one write.

        Locked and up to date in embedded mode, stamped before and after changes.

        The stamp before the first change tells other handles that the collection is changing even
        if this writer dies midway; the stamp after tells their exact indexes to reload.
        """
        with self._mode.write_lock():
            opened = self._for_writing()
            # A stamp still marked as writing on entry is a writer that died midway (embedded: we
            # hold the lock): stamp it finished even if this write changes nothing, so readers stop
            # distrusting the collection.
            died = is_dirty(stamp_of(opened.coll))
            # Embedded, under the lock, this handle's loaded vectors plus this write's changes are
            # the collection: the index is updated in place instead of reloaded by the next reader.
            entry = stamp_of(opened.coll)
            if self._exact is not None and self._exact.stamp != entry:
                # readers search the snapshot of the entry stamp while the write is under way
                self._exact = None
            if self._exact is None and self._mode.reopens_for_writes and opened.coll.count() == 0:
                # an empty collection's index is known without reading it: a first ingest patches it
                # too
                self._exact = self._known = ExactIndex.from_pages([], stamp=entry)
            writer = CollectionWriter(
                opened.coll,
                opened.max_batch,
                before_change=lambda: self._stamp(opened, writing=True),
            )
            with self._mode.using():
                try:
                    yield writer
                except BaseException:
                    # a partial write changed the collection too; the original error wins
                    if writer.changed:
                        with suppress(RetrievalError):
                            self._stamp(opened)
                    raise
            if writer.changed or died:
                # a load under way finishes first: its snapshot is what gets updated
                with self._index_lock:
                    stamp = new_stamp()
                    updated = None
                    before = self._exact
                    # the entry snapshot plus this write's changes, ready before the stamp readers
                    # look for; embedded only, where the write lock makes this write the only one
                    if (
                        self._mode.reopens_for_writes
                        and writer.changed
                        and not writer.updated
                        and before is not None
                        and before.usable
                        and before.stamp == entry
                    ):
                        updated = before.changed(writer.added, writer.deleted, stamp=stamp)
                        updated = updated if len(updated.ids) <= self.exact_limit else None
                    with self._mode.using():
                        self._stamp(opened, stamp=stamp, index=updated)

    def reset(self) -> None:
        """Delete the collection and start it empty."""
        with self._mode.write_lock():
            opened = self._for_writing()
            with self._mode.using():
                try:
                    with chroma_errors("reset"):
                        opened.client.delete_collection(self.name)
                finally:
                    LOCAL_WRITES.bump()  # every handle of this process looks before its next read
                fresh = replace(opened, coll=self._get_or_create(opened.client))
                self._open = fresh
                self._stamp(fresh)

    # -- internals
    # ----------------------------------------------------------------------------------
    def _reading(self, use: Callable[[_OpenCollection], T]) -> T:
        """``use`` on the collection as last looked at; gone (a reset the trusted look missed).

        Look again, once.
        """
        from chromadb.errors import NotFoundError

        try:
            # ``use`` takes the path guard itself: a reopen must not wait for this thread
            return use(self._latest())
        except RetrievalError as exc:
            if self.freshness <= 0 or not isinstance(exc.__cause__, NotFoundError):
                raise
        self._looked = None
        return use(self._latest(look=True))

    def _current(self) -> _OpenCollection:
        opened = self._open
        if opened is None:
            with self._opening:
                opened = self._open
                if opened is None:
                    opened = self._open = self._connect()
        return opened

    def _for_writing(self) -> _OpenCollection:
        """The collection to write to (inside the lock).

        Reopened in embedded mode if another handle wrote since.
        """
        return self._latest(look=True) if self._mode.reopens_for_writes else self._current()

    def _reopen(self, stale: _OpenCollection, *, fresh: bool) -> _OpenCollection:
        """Open again, once: threads that found the same stale open share the new one.

        ``fresh``: the database itself afresh (another process wrote); else the process's current
        open database.
        """
        with self._opening:
            opened = self._open
            if opened is None or opened is stale:
                opened = self._open = self._connect(stale.client if fresh else None)
        return opened

    def _connect(self, stale_client: Any = None) -> _OpenCollection:
        logger.info("opening Chroma collection %r at %s", self.name, self.location)
        with chroma_errors(f"open collection {self.name!r}"):
            client = (
                self._mode.connect(create=self.create)
                if stale_client is None
                else self._mode.reconnect(stale_client)
            )
        with self._mode.using():
            with chroma_errors(f"open collection {self.name!r}"):
                max_batch = int(client.get_max_batch_size())
            return _OpenCollection(client, self._get_or_create(client), max_batch)

    def _get_or_create(self, client: Any) -> Any:
        from chromadb.errors import NotFoundError

        with chroma_errors(f"open collection {self.name!r}"):
            if not self.create:
                try:
                    coll = client.get_collection(self.name, embedding_function=None)
                except NotFoundError as exc:
                    raise CollectionNotFoundError(
                        f"no collection {self.name!r} at {self.location}: run neulora "
                        "ingest first, or list them with neulora collections"
                    ) from exc
            else:
                coll = client.get_or_create_collection(
                    self.name,
                    configuration={"hnsw": dict(self.hnsw)},
                    metadata={_META_EMBEDDER: self.embedder_name, _META_DIM: self.dim},
                    embedding_function=None,
                )
        self._check_embedder(coll.metadata or {})
        return coll

    def _check_embedder(self, meta: Mapping[str, Any]) -> None:
        name = meta.get(_META_EMBEDDER)
        dim = meta.get(_META_DIM)
        if name != self.embedder_name or dim != self.dim:
            raise EmbedderMismatchError(
                f"collection {self.name!r} holds vectors of embedder {name!r} (dim {dim}), but "
                "this retriever "
                f"embeds with {self.embedder_name!r} (dim {self.dim}): use the same embedder, "
                "another collection, "
                "or re-ingest with --reset"
            )

    def _latest(self, *, look: bool = False) -> _OpenCollection:
        """The collection as last written by anyone, re-read.

        Its stamp is one small read of the catalogue.

        Embedded, an open database that another handle or process has written to since holds a stale
        index (and would overwrite that writer's vectors): every writer stamps before it changes
        anything, so a stamp other than the one this handle saw last (or wrote itself) means reopen
        the files. On a server, re-reading the collection is enough. Within ``freshness`` of the
        last look, and with no write by this process since, the last look's answer stands (``look``:
        look anyway, as a writer must).
        """
        from chromadb.errors import NotFoundError

        last = self._looked
        writes = LOCAL_WRITES.value
        now = time.monotonic()
        if (
            not look
            and last is not None
            and last[1] == writes
            and now - last[0] < self.freshness
            and last[2] is self._open
            and self._mode.is_current(last[2].client)
        ):
            return last[2]
        opened = self._current()
        # another handle reopened the process's database
        if not self._mode.is_current(opened.client):
            opened = self._reopen(opened, fresh=False)
        with self._mode.using(), chroma_errors("read the collection"):
            try:
                latest = opened.client.get_collection(self.name, embedding_function=None)
            except NotFoundError:  # another handle deleted it (a reset under way, or gone for good)
                latest = self._get_or_create(opened.client)
        if latest.id == opened.coll.id and stamp_of(latest) == stamp_of(opened.coll):
            self._looked = (now, writes, opened)
            return opened
        # Every handle of this process shares one open database, which sees their writes; another
        # process's write (its stamp names another process) makes it stale: reopen it, for every
        # handle.
        if self._mode.reopens_for_writes and is_foreign(stamp_of(latest)):
            return self._reopen(opened, fresh=True)
        if latest.id != opened.coll.id:
            self._check_embedder(latest.metadata or {})
        fresh = replace(opened, coll=latest)
        with self._opening:
            if self._open is opened:
                self._open = fresh
        return fresh

    def _stamp(
        self,
        opened: _OpenCollection,
        *,
        writing: bool = False,
        stamp: str | None = None,
        index: ExactIndex | None = None,
    ) -> None:
        """Mark the collection as changing (``writing``) or changed: every exact index reloads.

        ``index``: this handle's index already updated for ``stamp`` (set before the catalogue says
        so).
        """
        stamp = stamp or new_stamp(writing=writing)
        # before the write: readers may see it in the catalogue at once
        self._own_stamps.append(stamp)
        if index is not None:
            self._exact = self._known = index
        try:
            with chroma_errors("stamp the collection"):
                opened.coll.modify(metadata={**(opened.coll.metadata or {}), META_STAMP: stamp})
        finally:
            # every handle of this process looks at its stamp again before its next read
            LOCAL_WRITES.bump()
        if not writing and index is None:
            self._exact = None

    def _exact_index(self, opened: _OpenCollection) -> ExactIndex | None:
        """The exact index of a small enough collection, reloaded when a writer stamped it."""
        stamp = stamp_of(opened.coll)
        index = self._exact
        if self.exact_limit <= 0:
            return None
        if is_dirty(stamp):
            # This handle's own write under way: the index from before it is a consistent snapshot.
            # Another's (or one that died midway): HNSW is always current, a loaded copy may not be.
            own = stamp in self._own_stamps and index is not None and index.usable
            return index if own else None
        if index is None or index.stamp != stamp:
            if self.background_loads:
                # Loading 10,000 x 1024 vectors takes about a second: the reader that finds the
                # index stale would wait for it (the first learner after an upload). HNSW, always
                # current, answers until it is loaded.
                self._load_in_background(opened, stamp)
                return None
            index = self._load_exact(opened, stamp)
        return index if index.usable else None

    def _load_exact(
        self, opened: _OpenCollection, stamp: Any, *, background: bool = False
    ) -> ExactIndex:
        """The exact index for ``stamp``, loaded unless another thread did it meanwhile.

        With an index from before (another writer changed the collection), only the documents, the
        metadata and the new chunks' vectors are read: a 10,000-chunk ingest beside 10,000 known
        chunks reads half the vectors.
        """
        with self._index_lock, chroma_errors("load vectors for exact search"):  # one load at a time
            index = self._exact
            known = self._known
            if index is None or index.stamp != stamp:
                if opened.coll.count() > self.exact_limit:
                    index = ExactIndex(stamp)
                elif known is not None and known.usable:
                    step = _BACKGROUND_STEP if background else _LOAD_STEP
                    pause = _BACKGROUND_PAUSE if background else 0.0
                    records = _records(opened.coll, step, pause)
                    index = known.refreshed(
                        (records.ids, None, records.documents, records.metadatas),
                        lambda ids: _vectors(opened.coll, ids, step, pause),
                        stamp=stamp,
                    )
                else:
                    index = ExactIndex.from_pages(
                        record_pages(opened.coll, _LOAD_STEP), stamp=stamp
                    )
                self._exact = index
                self._known = index if index.usable else None
        return index

    def _load_in_background(self, opened: _OpenCollection, stamp: Any) -> None:
        with self._loading_lock:
            if self._loading == stamp:
                return
            self._loading = stamp

        def load() -> None:
            try:
                time.sleep(_BACKGROUND_DELAY)
                with self._mode.using():  # the database is not reopened under the load
                    self._load_exact(opened, stamp, background=True)
            except (RetrievalError, CollectionNotFoundError) as exc:  # the next read tries again
                logger.warning("loading the exact index of %s failed: %s", self.name, exc)
            finally:
                with self._loading_lock:
                    if self._loading == stamp:
                        self._loading = None

        # not a daemon: the interpreter waits for a load under way at exit instead of tearing
        # chromadb down under it (a daemon thread still inside chromadb at exit crashed the process)
        threading.Thread(target=load, name=f"neulora-index-{self.name}").start()

    def _query(
        self,
        opened: _OpenCollection,
        vector: NDArray[np.float32],
        k: int,
        where: Mapping[str, Any] | None,
    ) -> list[Hit]:
        from chromadb.errors import NotFoundError

        options = {
            "query_embeddings": vector[None, :],
            "n_results": k,
            "where": dict(where) if where else None,
            "include": ["documents", "metadatas", "distances"],
        }
        with chroma_errors("query", where=where):
            try:
                res = opened.coll.query(**options)
            except NotFoundError:
                if not self._mode.reads_may_be_stale:
                    raise
                # another client reset the collection on the server: reopen it once
                opened = self._open = replace(opened, coll=self._get_or_create(opened.client))
                res = opened.coll.query(**options)
        return [
            Hit(i, d or "", dict(m or {}), 1.0 - float(dist))
            for i, d, m, dist in zip(
                res["ids"][0],
                res["documents"][0],
                res["metadatas"][0],
                res["distances"][0],
                strict=True,
            )
        ]


@dataclass(frozen=True, slots=True)
class _OpenCollection:
    client: Any
    coll: Any
    max_batch: int
