"""Reading documents for ingest: UTF-8 text and Markdown, PDF through the optional ``pdf`` extra."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import DocumentError

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".pdf")


Problem = tuple[str, str]  # (path as a printable str, reason)


@dataclass(frozen=True, slots=True)
class Document:
    """The text of one file, page by page (``page`` None for text files), and its bytes' hash."""

    source: str
    pages: tuple[tuple[str, int | None], ...]
    sha256: str


def collect_files(
    paths: Iterable[str | os.PathLike[str]],
) -> tuple[list[Path], list[Problem], list[Problem]]:
    r"""Expand files and directories (recursively) into supported files, problems and skipped files.

    Problems and skipped files come back as (path, reason). Within a directory, files of other types
    are skipped (listed with their type, never read); a supported name that cannot be used is a
    problem, reported with a reason instead of being read:

    - a FIFO, socket or device: never opened (reading a FIFO waits forever for a writer);
    - a name that is not valid UTF-8: the store keeps each source as UTF-8 text, so the file must be
      renamed;
    - a symbolic link (to a file or a folder) that leads outside the directory: not followed, so
      that a link cannot pull files from elsewhere into the index; a broken link.

    Links that stay inside the directory are fine (a file reached twice is read once). A path named
    directly is the caller's choice: it is read wherever a link leads. Problem paths are printable:
    bytes that are not UTF-8 appear as ``\xff`` escapes.
    """
    files: list[Path] = []
    problems: list[Problem] = []
    skipped: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        # Path("") is "." : an empty argument must not mean the working folder
        if not os.fspath(raw).strip():
            problems.append(("''", "empty path"))
        elif not path.exists():
            problems.append((_shown(path), "not found"))
        elif path.is_dir():
            found, unusable, other = _scan_directory(path)
            if not found and not unusable:
                problems.append(
                    (_shown(path), f"directory holds no {', '.join(SUPPORTED_SUFFIXES)} files")
                )
            files.extend(found)
            problems.extend(unusable)
            skipped.extend(other)
        elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
            problems.append(
                (
                    _shown(path),
                    f"unsupported file type {path.suffix or '(none)'!r}: use .txt, .md or .pdf",
                )
            )
        elif (reason := _unusable(path)) is not None:
            problems.append((_shown(path), reason))
        else:
            files.append(path)
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique, problems, skipped


def _scan_directory(root: Path) -> tuple[list[Path], list[Problem], list[Problem]]:
    """The files under ``root``: usable supported ones (sorted), and the others with why."""
    base = root.resolve()
    found: list[Path] = []
    problems: list[Problem] = []
    skipped: list[Problem] = []

    def unlistable(exc: OSError) -> None:
        problems.append(
            (_shown(Path(exc.filename or root)), f"cannot list this folder: {exc.strerror or exc}")
        )

    # followlinks=False: a linked folder is listed in dirnames but not entered (its target is
    # checked below).
    for dirpath, dirnames, filenames in os.walk(root, onerror=unlistable):
        for name in sorted(dirnames):
            link = Path(dirpath, name)
            if link.is_symlink() and (reason := _leaves(link, base)) is not None:
                problems.append((_shown(link), reason))
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                skipped.append(
                    (_shown(path), f"unsupported type {path.suffix.lower() or '(no suffix)'}")
                )
                continue
            reason = _unusable(path, base)
            if reason is None:
                found.append(path)
            else:
                logger.debug("skipped %s: %s", _shown(path), reason)
                problems.append((_shown(path), reason))
    return sorted(found), problems, skipped


def _unusable(path: Path, base: Path | None = None) -> str | None:
    """Why ``path`` must not be read (None if it can be).

    Checks that open nothing, only ``stat`` and names.
    """
    if path.is_symlink() and not path.exists():
        return (
            f"skipped: broken symbolic link to {_shown(Path(os.readlink(path)))}: fix or "
            "remove "
            "the link"
        )
    if base is not None and (reason := _leaves(path, base)) is not None:
        return reason
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if not stat.S_ISREG(mode):
        return _not_regular(mode)
    return _unstorable_name(path.resolve())


def _leaves(link: Path, base: Path) -> str | None:
    """The reason to skip ``link`` if it resolves outside ``base`` (None if it stays inside)."""
    try:
        target = link.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        return f"skipped: symbolic link that cannot be resolved ({exc}): fix or remove the link"
    if target.is_relative_to(base):
        return None
    kind = "folder" if target.is_dir() else "file"
    return (
        f"skipped: symbolic link to a {kind} outside {_shown(base)} ({_shown(target)}), not "
        "followed: copy it "
        "into the folder, or name it directly to ingest it"
    )


def _not_regular(mode: int) -> str:
    kind = "not a file"
    if stat.S_ISFIFO(mode):
        kind = "a FIFO"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    return (
        f"skipped: not a regular file ({kind}), so it was not opened: ingest regular .txt, .md "
        "or .pdf files"
    )


def _unstorable_name(path: Path) -> str | None:
    """Why the store cannot keep ``path`` as a source (None if it can).

    A name that is not valid UTF-8.
    """
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError as exc:
        char = str(path)[exc.start]
        byte = (
            f"byte 0x{ord(char) - 0xDC00:02x}"
            if 0xDC80 <= ord(char) <= 0xDCFF
            else f"character {char!r}"
        )
        return (
            f"file name is not valid UTF-8 ({byte}), so it cannot be stored as the source of its "
            "chunks: "
            "rename the file with a UTF-8 name"
        )
    return None


def _shown(path: Path) -> str:
    r"""``path`` as a printable str.

    Bytes of the name that are not UTF-8 become ``\xNN`` escapes.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def read_document(path: Path) -> Document:
    """Read one supported file; raise :class:`DocumentError` with a reason a person can act on."""
    data = _read_regular_file(path)
    sha = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise DocumentError("empty file")
    if path.suffix.lower() == ".pdf":
        from ._pdf import pdf_pages

        return Document(path.as_posix(), pdf_pages(data), sha)
    if b"\x00" in data[:8192]:
        raise DocumentError("binary file (NUL bytes): not a text document")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}): convert it to UTF-8 "
            "first"
        ) from exc
    return Document(path.as_posix(), ((text, None),), sha)


def _read_regular_file(path: Path) -> bytes:
    """The bytes of ``path``; anything but a regular file is refused unopened, never waited on."""
    if (reason := _unstorable_name(path)) is not None:
        raise DocumentError(reason)
    try:
        if not stat.S_ISREG(mode := path.stat().st_mode):
            raise DocumentError(_not_regular(mode))
        # O_NONBLOCK: should a FIFO replace the file between stat and open, the open returns instead
        # of waiting.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(mode := os.fstat(fh.fileno()).st_mode):
                raise DocumentError(_not_regular(mode))
            return fh.read()
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror or exc}") from exc


def read_documents(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> tuple[list[Document], list[Problem], list[Problem]]:
    """Collect and read files and directories.

    The documents, the files that failed and the files skipped.

    Every file that cannot be used comes back as (path, reason); so does each file of another type
    found in a folder (skipped, not failed: a folder of notes may hold pictures).
    """
    files, failed, skipped = collect_files(
        [paths] if isinstance(paths, (str, os.PathLike)) else paths
    )
    docs = []
    for path in files:
        try:
            docs.append(read_document(path))
        except DocumentError as exc:
            failed.append((_shown(path), str(exc)))
    return docs, failed, skipped


def source_prefix(source: str) -> str:
    """The prefix every chunk id of ``source`` starts with."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


def chunk_ids(source: str, texts: Sequence[str]) -> list[str]:
    """Deterministic ids from the source and each chunk's content.

    Repeated chunks get ``#2``, ``#3``...
    """
    prefix = source_prefix(source)
    seen: dict[str, int] = {}
    ids = []
    for text in texts:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]
        seen[digest] = seen.get(digest, 0) + 1
        ids.append(f"{prefix}-{digest}" + (f"#{seen[digest]}" if seen[digest] > 1 else ""))
    return ids
