"""Low-level Chroma access for the retriever: error translation, the cross-process write lock, bulk reads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import EmbedderMismatchError, InvalidInputError, RetrievalError
from .loaders import Document, source_prefix

__all__ = ["chroma_errors", "progress_bar", "stored_ids", "unchanged_sources", "write_lock"]

PROGRESS_MIN = 512


@contextmanager
def write_lock(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``folder/.neulora-write.lock`` (no-op where fcntl is missing: use a server)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".neulora-write.lock", "a+b") as fh:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; use a chroma server for concurrent writers
            yield
            return
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextmanager
def chroma_errors(action: str, where: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Re-raise what chromadb (or its HTTP client) raises inside the block as :class:`RetrievalError`."""
    import httpx
    from chromadb.errors import ChromaError

    try:
        yield
    except (ChromaError, ValueError, TypeError, RuntimeError, OSError, httpx.HTTPError) as exc:
        if isinstance(exc, (EmbedderMismatchError, InvalidInputError)):
            raise
        detail = f" with where={dict(where)!r}" if where else ""
        raise RetrievalError(f"Chroma could not {action}{detail}: {type(exc).__name__}: {exc}") from exc


def progress_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar for long writes (None when disabled or short)."""
    if not enabled or total < PROGRESS_MIN:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="chunk", desc="embedding")


def unchanged_sources(coll: Any, docs: Sequence[Document], chunking: str) -> set[str]:
    """Sources stored from the same bytes with the same chunking and every chunk present (cheap reads only)."""
    heads: dict[str, Mapping[str, Any]] = {}
    sources = [d.source for d in docs]
    for start in range(0, len(sources), 100):
        with chroma_errors("read stored files"):
            got = coll.get(where={"$and": [{"source": {"$in": sources[start : start + 100]}}, {"chunk": 0}]},
                           include=["metadatas"])
        heads.update((str(m.get("source")), m) for m in got["metadatas"])
    if not heads:
        return set()
    with chroma_errors("count stored chunks"):
        stored = Counter(cid.split("-", 1)[0] for cid in coll.get(include=[])["ids"])
    return {d.source for d in docs if (h := heads.get(d.source)) is not None and h.get("file_sha") == d.sha256
            and h.get("chunking") == chunking and stored[source_prefix(d.source)] == h.get("chunks")}


def stored_ids(coll: Any, sources: Sequence[str]) -> dict[str, set[str]]:
    """The stored chunk ids of each source."""
    found: dict[str, set[str]] = {}
    for start in range(0, len(sources), 100):
        with chroma_errors("read existing chunks"):
            got = coll.get(where={"source": {"$in": list(sources[start : start + 100])}}, include=["metadatas"])
        for cid, meta in zip(got["ids"], got["metadatas"], strict=True):
            found.setdefault(str(meta.get("source")), set()).add(cid)
    return found
