from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neulora import ChromaRetriever
from neulora.embedders import HashingEmbedder

pytestmark = pytest.mark.slow

WRITER = """
import sys
from neulora import ChromaRetriever
from neulora.embedders import HashingEmbedder
path, tag = sys.argv[1], sys.argv[2]
r = ChromaRetriever(HashingEmbedder(dim=256), path=path)
for part in range(6):
    texts = [f"writer {tag} part {part} chunk {i}" for i in range(500)]
    r.add_texts(texts, metadatas=[{"source": f"{tag}-{part}"} for _ in texts])
"""


def test_two_processes_ingesting_into_one_path_stay_exact(tmp_path: Path) -> None:
    db = tmp_path / "db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), tag], stderr=subprocess.PIPE, text=True
        )
        for tag in ("a", "b")
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    r = ChromaRetriever(HashingEmbedder(dim=256), path=db)
    assert r.count() == 6000
    data = r.store.raw().get(include=["embeddings", "documents"])
    assert len(data["ids"]) == 6000
    expected = HashingEmbedder(dim=256).embed(data["documents"])
    assert np.allclose(np.asarray(data["embeddings"]), expected, atol=1e-6)
    assert len(r.sources()) == 12
