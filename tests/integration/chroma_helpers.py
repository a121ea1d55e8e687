"""Shared pieces of the retrieval tests.

A small English corpus, a hand-written PDF, brute-force cosine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

ENGLISH = {
    "derivatives.md": "# Derivatives\n\nThe derivative measures the instantaneous rate of change "
    "of a function. "
    "The derivative of x squared is two x. The power rule says the derivative of x to the n is n "
    "times x to the "
    "n minus one.\n\nA tangent line touches the curve at one point and has the slope given by the "
    "derivative.",
    "probability.txt": "Probability describes how likely an event is. A fair coin lands heads with "
    "probability "
    "one half. Independent events multiply their probabilities.\n\nConditional probability is the "
    "probability "
    "of an event given that another event happened.",
}


def write_english(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in ENGLISH.items():
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    return paths


def minimal_pdf(pages: list[str], *, named: int = 1) -> bytes:
    """A valid PDF with one line of Helvetica text per page (enough for pypdf to extract).

    ``named``: how many times the page tree names each page (a hostile PDF names one page thousands
    of times).
    """
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    font_id = 3
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for text in pages:
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content_id = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (content_id, font_id)
        )
        kids.append(len(objects))
    kids = [k for k in kids for _ in range(named)]
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def brute_force(collection: Any, query: np.ndarray, k: int) -> list[tuple[str, float]]:
    data = collection.get(include=["embeddings"])
    m = np.asarray(data["embeddings"], dtype=np.float64)
    q = np.asarray(query, dtype=np.float64)
    scores = (m / np.linalg.norm(m, axis=1, keepdims=True)) @ (q / np.linalg.norm(q))
    order = np.argsort(-scores)[:k]
    return [(data["ids"][i], float(scores[i])) for i in order]
