"""Reading a PDF's text in a child process, bounded in pages, characters and time.

A PDF can make a parser work without end (a page tree that names one page 30,000 times, streams that
inflate to gigabytes): in the process that serves learners that work would hold the interpreter. So
the text is extracted by ``python -m neulora.store`` in a process of its own, killed when it
overruns :data:`PDF_SECONDS`; it stops at :data:`MAX_PDF_PAGES` pages and :data:`MAX_PDF_CHARS`
characters and says so.

>>> pdf_pages(b"not a pdf")  # doctest: +SKIP
Traceback (most recent call last):
neulora.errors.DocumentError: unreadable PDF: ...
"""

from __future__ import annotations

import json
import subprocess
import sys

from ..errors import DocumentError

MAX_PDF_PAGES = 2_000


MAX_PDF_CHARS = 5_000_000


PDF_SECONDS = 60.0


def pdf_pages(data: bytes, *, seconds: float = PDF_SECONDS) -> tuple[tuple[str, int | None], ...]:
    """The text of each page of the PDF ``data``, numbered from 1.

    DocumentError past the bounds.
    """
    try:
        import pypdf  # noqa: F401  (the child needs it: say so here, with the extra to install)
    except ImportError as exc:
        raise DocumentError(
            "PDF support needs the 'pdf' extra: pip install 'neulora[pdf]'"
        ) from exc
    try:
        done = subprocess.run(
            [sys.executable, "-m", "neulora.store._pdf"],
            input=data,
            capture_output=True,
            timeout=seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DocumentError(
            f"the PDF was not read within {seconds:g} s (a PDF built to keep a reader busy, or "
            "too large): split it or save it as text"
        ) from None
    except OSError as exc:
        raise DocumentError(f"cannot start the PDF reader: {exc.strerror or exc}") from exc
    try:
        reply = json.loads(done.stdout)
    except ValueError:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise DocumentError(
            f"the PDF reader failed (exit {done.returncode}): {tail[0][:200]}"
        ) from None
    if "error" in reply:
        raise DocumentError(reply["error"])
    pages = tuple((str(text), int(number)) for text, number in reply["pages"])
    if not any(text.strip() for text, _ in pages):
        raise DocumentError("PDF has no extractable text (scanned images need OCR first)")
    return pages


def _extract(data: bytes) -> dict[str, object]:
    from io import BytesIO

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(BytesIO(data))
        count = len(reader.pages)
        if count > MAX_PDF_PAGES:
            return {
                "error": f"the PDF has {count} pages, over the {MAX_PDF_PAGES} neulora reads: "
                "split it"
            }
        pages = []
        chars = 0
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            chars += len(text)
            if chars > MAX_PDF_CHARS:
                return {
                    "error": f"the PDF holds over {MAX_PDF_CHARS} characters of text (at page "
                    f"{number}): "
                    "split it"
                }
            pages.append((text, number))
    except (PyPdfError, OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        return {"error": f"unreadable PDF: {type(exc).__name__}: {str(exc)[:300]}"}
    return {"pages": pages}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(_extract(sys.stdin.buffer.read()), ensure_ascii=False))
