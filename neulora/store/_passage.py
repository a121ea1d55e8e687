"""A retrieved passage and how passages are shown to the model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._chunking import ChunkMeta
from ._paging import Hit

if TYPE_CHECKING:
    pass


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved chunk: ``score`` is the cosine similarity (1 - Chroma's cosine distance).

    >>> p = Passage("로그는 지수의 역연산", 0.61, "/notes/log.md", 2, "id1", {"section": "3. 로그"})
    >>> p
    Passage('log.md, p. 2, 3. 로그', score=0.610, text='로그는 지수의 역연산')
    >>> p.to_dict()["where"]
    'log.md, p. 2, 3. 로그'
    """

    text: str
    score: float
    source: str
    page: int | None
    id: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Passage({self.where!r}, score={self.score:.3f}, text={self.text[:40]!r})"

    @classmethod
    def from_hit(cls, hit: Hit) -> Passage:
        """The passage of a search hit, its source and page read from the stored ChunkMeta."""
        meta = ChunkMeta.from_metadata(hit.metadata)
        return cls(hit.document, hit.score, meta.source, meta.page, hit.id, hit.metadata)

    @property
    def section(self) -> str:
        """The heading the chunk stands under ("" if none)."""
        return ChunkMeta.from_metadata(self.metadata).section

    @property
    def where(self) -> str:
        """Where the passage comes from, for people and prompts.

        ``log.md, p. 2, 3. 수열`` (name, page, section).
        """
        parts = (Path(self.source).name, f"p. {self.page}" if self.page else "", self.section)
        return ", ".join(part for part in parts if part)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "id": self.id,
            "score": self.score,
            "source": self.source,
            "page": self.page,
            "section": self.section,
            "where": self.where,
            "text": self.text,
        }


def format_context(passages: Sequence[Passage]) -> str:
    """Number the passages with where they come from, for the prompt.

    ``[1] (notes.md, p. 2, 수열) text``.
    """
    return "\n\n".join(f"[{i}] ({p.where})\n{p.text}" for i, p in enumerate(passages, start=1))
