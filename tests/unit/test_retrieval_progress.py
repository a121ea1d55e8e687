"""Long runs show progress: the ingest bar moves per embedded block, once a write lasts 2 s."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from neulora import ChromaRetriever
from neulora.embedders import HashingEmbedder


class SlowEmbedder:
    """The hashing embedder, 0.3 s per call: a remote model's pace."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder(dim=32)
        self.name = self.inner.name
        self.dim = self.inner.dim

    def embed(self, texts: Sequence[str]) -> Any:
        time.sleep(0.3)
        return self.inner.embed(texts)


def test_the_bar_moves_per_embedded_block_once_a_write_lasts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = ChromaRetriever(SlowEmbedder(), path=tmp_path / "db")  # type: ignore[arg-type]
    r.add_texts([f"note {i} on series" for i in range(640)], progress=True)
    err = capsys.readouterr().err
    counts = [int(n) for n in re.findall(r"(\d+)/640", err)]
    assert counts and counts[-1] == 640
    assert any(0 < n < 640 for n in counts), "the bar moved before the Chroma batch was written"


def test_short_writes_show_no_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ChromaRetriever(HashingEmbedder(dim=32), path=tmp_path / "db").add_texts(
        ["a", "b"], progress=True
    )
    assert "embedding" not in capsys.readouterr().err
