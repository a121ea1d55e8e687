"""PDFs built to keep a reader busy: bounded in pages, characters and time, read in a process of their own."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("pypdf")

from neulora import DocumentError
from neulora.loaders import read_document
from neulora.pdf import MAX_PDF_PAGES, pdf_pages


def one_page_named(times: int, text: str = "A logarithm answers: to which power?") -> bytes:
    """A PDF whose page tree names one page ``times`` times (about 200 KB for 30,000)."""
    stream = f"BT /F1 12 Tf 20 50 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join([b"3 0 R"] * times) + b"] /Count %d >>" % times,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 100] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def test_a_small_pdf_reads_page_by_page() -> None:
    pages = pdf_pages(one_page_named(2))
    assert [n for _, n in pages] == [1, 2] and "logarithm" in pages[0][0]


def test_a_page_tree_naming_one_page_thirty_thousand_times_is_refused_quickly(tmp_path: Path) -> None:
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
