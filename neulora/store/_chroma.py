"""Reaching Chroma: three modes (embedded, server, a client passed in), the write lock, errors.

Only :mod:`neulora.store` uses this module: everything neulora says to Chroma goes through its
:class:`~neulora.store.ChromaCollection`, and what differs between the modes is written here, once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Protocol, cast

from ..errors import CollectionNotFoundError, ConfigError, NeuloraError, RetrievalError

LOCK_FILE = ".neulora-write.lock"


# chromadb keeps one open database (a "system") per path in a process, in a table of its own;
# neulora keeps, beside it, one guard per path. Two systems on one path used at once in one process
# crash chromadb (a segmentation fault, measured: one adds while the other queries), so every handle
# of the process shares the one system, and replacing it (after another process wrote) waits until
# no thread is using it.
_CHROMA_CACHE = threading.Lock()


_GUARDS: dict[str, _Guard] = {}


class _Guard:
    """Many users of a path's open database at once, or one thread replacing it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._users = 0
        self._replacing = False
        # a thread already using it goes on (a read inside a write): no deadlock
        self._mine = threading.local()

    @contextmanager
    def using(self) -> Iterator[None]:
        depth = getattr(self._mine, "depth", 0)
        with self._cond:
            while self._replacing and depth == 0:
                self._cond.wait()
            self._users += 1
        self._mine.depth = depth + 1
        try:
            yield
        finally:
            self._mine.depth = depth
            with self._cond:
                self._users -= 1
                self._cond.notify_all()

    @contextmanager
    def replacing(self) -> Iterator[None]:
        with self._cond:
            while self._replacing:
                self._cond.wait()
            self._replacing = True
            while self._users:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._replacing = False
                self._cond.notify_all()


def mode_for(path: str | os.PathLike[str] | None, host: str | None, port: int, client: Any) -> Mode:
    """The mode the arguments ask for.

    One of them at most; embedded at ``./chroma_db`` when none.
    """
    if sum(x is not None for x in (path, host, client)) > 1:
        raise ConfigError("give one of path, host or client")
    if host:
        return Server(host, port)
    return Injected(client) if client is not None else Embedded(Path(path or "./chroma_db"))


class Mode(Protocol):
    """How a :class:`~neulora.store.ChromaCollection` reaches its database, and what follows."""

    path: Path | None
    reopens_for_writes: (
        bool  # an open database another writer has changed since is stale: reopen it to write
    )
    reads_may_be_stale: (
        bool  # other clients write through the server: re-read the collection before searching
    )

    def connect(self, *, create: bool = True) -> Any: ...
    def reconnect(self, stale: Any) -> Any: ...
    def is_current(self, client: Any) -> bool: ...
    def using(self) -> AbstractContextManager[Any]: ...
    def write_lock(self) -> AbstractContextManager[Any]: ...
    def describe(self) -> str: ...


class Embedded:
    """A ``PersistentClient`` on a directory.

    Writers of every process and thread take turns on a lock file.
    """

    reopens_for_writes = True
    reads_may_be_stale = False

    def __init__(self, path: Path) -> None:
        # absolute, so that one process's open databases (keyed by path) never mix up two folders
        # named alike
        self._folder = path.absolute()
        self._guard: _Guard | None = None
        self.path: Path | None = self._folder

    def connect(self, *, create: bool = True) -> Any:
        import chromadb

        if not create and not (self._folder / "chroma.sqlite3").is_file():
            raise CollectionNotFoundError(
                f"no Chroma database at {str(self._folder)!r}: run neulora ingest first"
            )
        if self._folder.exists() and not self._folder.is_dir():
            raise RetrievalError(
                f"the Chroma path {str(self._folder)!r} is a file, not a folder: give a folder"
            )
        self._folder.mkdir(parents=True, exist_ok=True)
        with _CHROMA_CACHE:  # the process's one open database of this path (chromadb's table)
            return chromadb.PersistentClient(path=str(self._folder), settings=_settings())

    def reconnect(self, stale: Any) -> Any:
        """The path's database opened afresh (another process wrote since), once for all handles.

        Upstream limitation: chromadb keeps one open ``System`` per path in the private
        ``SharedSystemClient._identifier_to_system`` and offers no public way to reopen one path
        (``clear_system_cache()`` resets every client of the process). So the stale entry is
        dropped from that table and the next client opens the database again.
        ``tests/unit/store/test_chroma_edge.py`` fails if chromadb stops keeping the table so.
        """
        import chromadb
        from chromadb.api.shared_system_client import SharedSystemClient

        with self.guard().replacing(), _CHROMA_CACHE:
            table = SharedSystemClient._identifier_to_system
            if _open_server(str(self._folder)) is _server_of(stale):
                # not stopped: chromadb frees it when no client holds it
                table.pop(str(self._folder))
            return chromadb.PersistentClient(path=str(self._folder), settings=_settings())

    def is_current(self, client: Any) -> bool:
        """Whether ``client`` uses the path's open database.

        False: another handle has replaced it since.
        """
        return _open_server(str(self._folder)) is _server_of(client)

    def guard(self) -> _Guard:
        """The path's guard, looked up once (every read goes through it)."""
        if self._guard is None:
            with _CHROMA_CACHE:
                self._guard = _GUARDS.setdefault(str(self._folder), _Guard())
        return self._guard

    def using(self) -> AbstractContextManager[Any]:
        return self.guard().using()

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        # filelock (flock on POSIX, msvcrt on Windows; the fcntl lock it replaces was a no-op on
        # Windows) excludes other processes and other threads alike, and takes turns with older
        # neulora's flock.
        from filelock import FileLock

        with chroma_errors(f"lock {str(self._folder)!r} for writing"):
            if self._folder.exists() and not self._folder.is_dir():
                raise RetrievalError(
                    f"the Chroma path {str(self._folder)!r} is a file, not a folder: give a folder"
                )
            self._folder.mkdir(parents=True, exist_ok=True)
            lock = FileLock(self._folder / LOCK_FILE)
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def describe(self) -> str:
        return f"path={str(self._folder)!r}"


class Server:
    """An ``HttpClient`` on a ``chroma run`` server, which orders the writes of all its clients."""

    path: Path | None = None
    reopens_for_writes = False
    reads_may_be_stale = True

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def connect(self, *, create: bool = True) -> Any:
        import chromadb

        return chromadb.HttpClient(host=self.host, port=self.port, settings=_settings())

    def reconnect(self, stale: Any) -> Any:
        return self.connect()

    def is_current(self, client: Any) -> bool:
        return True

    def using(self) -> AbstractContextManager[Any]:
        return nullcontext()

    def write_lock(self) -> AbstractContextManager[Any]:
        return nullcontext()  # the server orders writes

    def describe(self) -> str:
        return f"host={self.host!r}, port={self.port}"


class Injected:
    """A client the caller made: used as it is, and treated like a server.

    No lock, no reopening.
    """

    path: Path | None = None
    reopens_for_writes = False
    reads_may_be_stale = True

    def __init__(self, client: Any) -> None:
        self.client = client

    def connect(self, *, create: bool = True) -> Any:
        return self.client

    def reconnect(self, stale: Any) -> Any:
        return self.client

    def is_current(self, client: Any) -> bool:
        return True

    def using(self) -> AbstractContextManager[Any]:
        return nullcontext()

    def write_lock(self) -> AbstractContextManager[Any]:
        return nullcontext()  # the caller's client, the caller's concurrency

    def describe(self) -> str:
        return "client=..."


def _server_of(client: Any) -> Any:
    """The database a chromadb client was opened on: its private ``_server``, set once when made.

    (Its ``_system`` is no use: a property that reads the shared table, so always the current one.)
    """
    return getattr(client, "_server", None)


def _open_server(folder: str) -> Any:
    """The database chromadb holds open for ``folder`` now (None: none), from its private table."""
    from chromadb.api import ServerAPI
    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.get(folder)
    return None if system is None else system.instance(cast(Any, ServerAPI))


def _settings() -> Any:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


@contextmanager
def chroma_errors(action: str, where: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Re-raise what chromadb (or its HTTP client) raises inside the block as RetrievalError."""
    import httpx
    from chromadb.errors import ChromaError

    try:
        yield
    except (ChromaError, ValueError, TypeError, RuntimeError, OSError, httpx.HTTPError) as exc:
        if isinstance(exc, NeuloraError):  # ours, raised inside the block: already typed
            raise
        # a filter can be long: never all of it
        detail = f" with where={str(dict(where))[:120]}" if where else ""
        raise RetrievalError(
            f"Chroma could not {action}{detail}: {type(exc).__name__}: {exc}"
        ) from exc
