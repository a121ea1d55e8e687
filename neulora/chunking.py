"""Splitting documents into retrieval chunks along paragraph and sentence boundaries (Korean and English)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ConfigError

__all__ = ["Chunk", "split_text"]

# A sentence ends at . ! ? (and their full-width forms) followed by white space; Korean sentences end the
# same way ("...입니다. 다음"), so one rule serves both.
_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s+(.*)$")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document with the heading of the section it stands in."""

    text: str
    section: str


def split_text(text: str, *, chunk_size: int = 800, chunk_overlap: int = 100) -> list[Chunk]:
    r"""Split ``text`` into chunks of at most ``chunk_size`` characters.

    Chunks never straddle a Markdown heading; inside a section, sentences and lines are packed whole, and each
    chunk repeats the last sentences of the previous one up to ``chunk_overlap`` characters. A single sentence
    longer than ``chunk_size`` is cut into pieces.

    >>> notes = "\n".join(["# A", "One. Two.", "", "# B", "Three."])
    >>> [c.text for c in split_text(notes, chunk_size=20, chunk_overlap=0)]
    ['One. Two.', 'Three.']
    """
    if chunk_size < 20:
        raise ConfigError(f"chunk_size must be at least 20 characters, got {chunk_size}")
    if not 0 <= chunk_overlap < chunk_size // 2:
        raise ConfigError(f"chunk_overlap must be between 0 and chunk_size/2, got {chunk_overlap}")
    chunks: list[Chunk] = []
    for section, units in _sections(text):
        chunks.extend(Chunk(t, section) for t in _pack(units, chunk_size, chunk_overlap))
    return chunks


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
