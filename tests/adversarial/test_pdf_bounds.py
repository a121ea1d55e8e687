"""PDFs built to keep a reader busy.

Bounded in pages, characters and time, read in a process of their own.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("pypdf")

from neulora.errors import DocumentError
from neulora.store import read_document
from neulora.store._pdf import MAX_PDF_PAGES, pdf_pages

from ..integration.chroma_helpers import minimal_pdf


def one_page_named(times: int, text: str = "A logarithm answers: to which power?") -> bytes:
    """A PDF whose page tree names one page ``times`` times (about 200 KB for 30,000)."""
    return minimal_pdf([text], named=times)


def test_a_small_pdf_reads_page_by_page() -> None:
    pages = pdf_pages(one_page_named(2))
    assert [n for _, n in pages] == [1, 2] and "logarithm" in pages[0][0]


def test_a_page_tree_naming_one_page_thirty_thousand_times_is_refused_quickly(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bomb.pdf"
    path.write_bytes(one_page_named(30_000))
    started = time.monotonic()
    with pytest.raises(DocumentError, match=f"30000 pages, over the {MAX_PDF_PAGES}"):
        read_document(path)
    assert time.monotonic() - started < 20


def test_a_pdf_that_takes_too_long_is_stopped_at_the_time_bound() -> None:
    started = time.monotonic()
    with pytest.raises(DocumentError, match=r"not read within 0\.3 s"):
        pdf_pages(one_page_named(MAX_PDF_PAGES), seconds=0.3)
    assert time.monotonic() - started < 3


def test_garbage_is_an_unreadable_pdf() -> None:
    with pytest.raises(DocumentError, match="unreadable PDF"):
        pdf_pages(b"%PDF-1.4\nnothing else")
