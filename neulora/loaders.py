"""Reading documents for ingest: UTF-8 text and Markdown, PDF through the optional ``pdf`` extra."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import DocumentError

__all__ = ["SUPPORTED_SUFFIXES", "Document", "DocumentError", "chunk_ids", "collect_files", "read_document",
           "read_documents", "source_prefix"]

SUPPORTED_SUFFIXES = (".txt", ".md", ".pdf")


@dataclass(frozen=True, slots=True)
class Document:
    """The text of one file, page by page (``page`` is None for text files), and the hash of its bytes."""

    source: str
    pages: tuple[tuple[str, int | None], ...]
    sha256: str


def collect_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand files and directories (recursively) into supported files; problems come back as (path, reason)."""
    files: list[Path] = []
    problems: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            problems.append((str(path), "not found"))
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
            if not found:
                problems.append((str(path), f"directory holds no {', '.join(SUPPORTED_SUFFIXES)} files"))
            files.extend(found)
        elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
            problems.append((str(path), f"unsupported file type {path.suffix or '(none)'!r}: use .txt, .md or .pdf"))
        else:
            files.append(path)
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique, problems


def read_document(path: Path) -> Document:
    """Read one supported file; raise :class:`DocumentError` with a reason a person can act on."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror or exc}") from exc
    sha = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise DocumentError("empty file")
    if path.suffix.lower() == ".pdf":
        return Document(path.as_posix(), _pdf_pages(path), sha)
    if b"\x00" in data[:8192]:
        raise DocumentError("binary file (NUL bytes): not a text document")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}): convert it to UTF-8 first"
        ) from exc
    return Document(path.as_posix(), ((text, None),), sha)


def read_documents(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> tuple[list[Document], list[tuple[str, str]]]:
    """Collect and read files and directories; every file that cannot be used comes back as (path, reason)."""
    files, failed = collect_files([paths] if isinstance(paths, (str, os.PathLike)) else paths)
    docs = []
    for path in files:
        try:
            docs.append(read_document(path))
        except DocumentError as exc:
            failed.append((str(path), str(exc)))
    return docs, failed


def _pdf_pages(path: Path) -> tuple[tuple[str, int | None], ...]:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError as exc:
        raise DocumentError("PDF support needs the 'pdf' extra: pip install 'neulora[pdf]'") from exc
    try:
        reader = PdfReader(str(path))
        pages = tuple((page.extract_text() or "", number) for number, page in enumerate(reader.pages, start=1))
    except (PyPdfError, OSError, ValueError) as exc:
        raise DocumentError(f"unreadable PDF: {exc}") from exc
    if not any(text.strip() for text, _ in pages):
        raise DocumentError("PDF has no extractable text (scanned images need OCR first)")
    return pages


def source_prefix(source: str) -> str:
    """The prefix every chunk id of ``source`` starts with."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


def chunk_ids(source: str, texts: Sequence[str]) -> list[str]:
    """Deterministic ids from the source and each chunk's content; repeated chunks get ``#2``, ``#3``..."""
    prefix = source_prefix(source)
    seen: dict[str, int] = {}
    ids = []
    for text in texts:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]
        seen[digest] = seen.get(digest, 0) + 1
        ids.append(f"{prefix}-{digest}" + (f"#{seen[digest]}" if seen[digest] > 1 else ""))
    return ids
