"""The notes store: Chroma in three modes, one collection handle, ingest, loaders, chunking."""

from __future__ import annotations

from ._chunking import Chunk, ChunkingOptions, split_text
from ._collection import ChromaCollection
from ._filters import check_where
from ._ingest import IngestReport
from ._loaders import SUPPORTED_SUFFIXES, Document, collect_files, read_document, read_documents
from ._passage import Passage, format_context

__all__ = [
    "ChromaCollection",
    "Chunk",
    "ChunkingOptions",
    "Document",
    "IngestReport",
    "Passage",
    "SUPPORTED_SUFFIXES",
    "check_where",
    "collect_files",
    "format_context",
    "read_document",
    "read_documents",
    "split_text",
]
