"""Chunks: how documents are cut (paragraphs and sentences, Korean and English), what each records.

:class:`ChunkMeta` is the metadata schema of a stored chunk, defined here once: ingest writes it,
the unchanged check and :class:`~neulora.store.Passage` read it back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._checks import is_int
from ..errors import ConfigError

# A sentence ends at . ! ? (and their full-width forms) followed by white space; Korean sentences
# end the same way ("...입니다. 다음"), so one rule serves both.
_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s+")


_HEADING = re.compile(r"^\s*#{1,6}\s+(.*)$")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document with the heading of the section it stands in."""

    text: str
    section: str


def split_text(text: str, *, chunk_size: int = 800, chunk_overlap: int = 100) -> list[Chunk]:
    r"""Split ``text`` into chunks of at most ``chunk_size`` characters.

    Chunks never straddle a Markdown heading; inside a section, sentences and lines are packed
    whole, and each chunk repeats the last sentences of the previous one up to ``chunk_overlap``
    characters. A single sentence longer than ``chunk_size`` is cut into pieces.

    >>> notes = "\n".join(["# A", "One. Two.", "", "# B", "Three."])
    >>> [c.text for c in split_text(notes, chunk_size=20, chunk_overlap=0)]
    ['One. Two.', 'Three.']
    """
    _check_options(chunk_size, chunk_overlap)
    chunks: list[Chunk] = []
    for section, units in _sections(text):
        chunks.extend(Chunk(t, section) for t in _pack(units, chunk_size, chunk_overlap))
    return chunks


@dataclass(frozen=True, slots=True)
class ChunkingOptions:
    """How documents are cut: at most ``size`` characters, repeating up to ``overlap`` of the last.

    >>> options = ChunkingOptions(size=300, overlap=40)
    >>> options.key, [c.text for c in options.split("One. Two.")]
    ('300/40', ['One. Two.'])
    """

    size: int = 800
    overlap: int = 120

    def __post_init__(self) -> None:
        _check_options(self.size, self.overlap)

    @property
    def key(self) -> str:
        """The options as stored with each chunk (``"800/120"``).

        Other options mean the file must be re-cut.
        """
        return f"{self.size}/{self.overlap}"

    def split(self, text: str) -> list[Chunk]:
        """:func:`split_text` with these options."""
        return split_text(text, chunk_size=self.size, chunk_overlap=self.overlap)


@dataclass(frozen=True, slots=True)
class ChunkMeta:
    """The metadata stored with each chunk.

    Fields a chunk lacks (texts added by hand) are None or empty.

    ``chunk`` is the chunk's position in its file and ``chunks`` their number; ``file_sha`` and
    ``chunking`` tell a re-ingest whether the file or the options changed; ``page`` is the PDF page
    (None for text files).

    >>> meta = ChunkMeta("/notes/log.md", title="log.md", section="로그", chunk=0, chunks=3, page=2)
    >>> again = ChunkMeta.from_metadata(meta.to_metadata())
    >>> again == meta, ChunkMeta.from_metadata({"source": "memo"}).chunk
    (True, None)
    """

    source: str
    title: str = ""
    section: str = ""
    chunk: int | None = None
    chunks: int | None = None
    file_sha: str | None = None
    chunking: str | None = None
    page: int | None = None

    def to_metadata(self) -> dict[str, str | int]:
        """The Chroma metadata of the chunk (fields that are None are left out)."""
        fields = {
            "source": self.source,
            "title": self.title,
            "section": self.section,
            "chunk": self.chunk,
            "chunks": self.chunks,
            "file_sha": self.file_sha,
            "chunking": self.chunking,
            "page": self.page,
        }
        return {key: value for key, value in fields.items() if value is not None}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> ChunkMeta:
        """Read the schema back from stored metadata.

        Values of the wrong type (set by hand) count as missing.
        """
        return cls(
            source=str(metadata.get("source", "")),
            title=_str(metadata.get("title")) or "",
            section=_str(metadata.get("section")) or "",
            chunk=_int(metadata.get("chunk")),
            chunks=_int(metadata.get("chunks")),
            file_sha=_str(metadata.get("file_sha")),
            chunking=_str(metadata.get("chunking")),
            page=_int(metadata.get("page")),
        )

    @staticmethod
    def where_sources(sources: Sequence[str], *, heads_only: bool = False) -> dict[str, Any]:
        """A Chroma ``where`` clause for the chunks of ``sources``.

        Only each one's first chunk if ``heads_only``.
        """
        clause: dict[str, Any] = {"source": {"$in": list(sources)}}
        return {"$and": [clause, {"chunk": 0}]} if heads_only else clause


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if is_int(value) else None


def _check_options(size: int, overlap: int) -> None:
    if not is_int(size) or size < 20:
        raise ConfigError(f"chunk_size must be an int of at least 20 characters, got {size!r}")
    if not is_int(overlap) or not 0 <= overlap < size // 2:
        raise ConfigError(
            f"chunk_overlap must be an int between 0 and chunk_size/2, got {overlap!r}"
        )


def _sections(text: str) -> list[tuple[str, list[str]]]:
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            title = heading.group(1).replace("*", "").strip()
            sections.append((title, []))
            continue
        for sentence in _SENTENCE_END.split(line.strip()):
            if sentence.strip() and sentence.strip() not in ("*", "-", "---"):
                sections[-1][1].append(sentence.strip())
    return [(title, units) for title, units in sections if units]


def _pack(units: list[str], size: int, overlap: int) -> list[str]:
    pieces: list[str] = []
    for unit in units:
        if len(unit) <= size:
            pieces.append(unit)
        else:
            step = size - overlap
            pieces.extend(unit[i : i + size] for i in range(0, len(unit) - overlap, step))
    out: list[str] = []
    current: list[str] = []
    for piece in pieces:
        if current and len(" ".join([*current, piece])) > size:
            out.append(" ".join(current))
            carry: list[str] = []
            total = 0
            for prev in reversed(current):
                if total + len(prev) + 1 > overlap:
                    break
                carry.insert(0, prev)
                total += len(prev) + 1
            while carry and len(" ".join([*carry, piece])) > size:
                carry.pop(0)
            current = carry
        current.append(piece)
    if current:
        out.append(" ".join(current))
    return out
