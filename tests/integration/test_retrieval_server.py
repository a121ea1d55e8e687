from __future__ import annotations

import sys
from pathlib import Path

import pytest

from neulora import ChromaRetriever, RetrievalError
from neulora.embedders import HashingEmbedder
from neulora.testing import CountingEmbedder

from ..servers import ManagedServer, free_port
from .chroma_helpers import brute_force, write_english

pytestmark = pytest.mark.slow


def test_server_mode_ingests_retrieves_and_reingests_for_free(
    chroma_server: ManagedServer, tmp_path: Path, shared_data: Path
) -> None:
    embedder = CountingEmbedder(HashingEmbedder())
    r = ChromaRetriever(
        embedder, host="127.0.0.1", port=chroma_server.port, collection="server-test", k=4
    )
    corpus = [shared_data / "highmath12.txt", *write_english(tmp_path)]
    report = r.ingest(corpus, progress=False)
    assert report.added == 3 and r.count() == report.chunks_written
    assert "3. 수열" in [p.metadata["section"] for p in r.retrieve("등차수열과 등비수열의 합")]
    passages = r.retrieve("로그함수")
    exact = brute_force(r.store.raw(), embedder.embed(["로그함수"])[0], 4)
    assert [p.id for p in passages] == [i for i, _ in exact]
    assert [p.score for p in passages] == pytest.approx([s for _, s in exact], abs=1e-5)
    calls = embedder.calls
    again = r.ingest(corpus, progress=False)
    assert again.unchanged == 3 and embedder.calls == calls
    assert {
        "name": "server-test",
        "count": r.count(),
        "embedder": embedder.name,
        "dim": 1024,
    } in r.collections()
    r.reset()
    assert r.count() == 0


def test_a_write_by_another_client_reaches_the_exact_index(chroma_server: ManagedServer) -> None:
    reader = ChromaRetriever(
        HashingEmbedder(), host="127.0.0.1", port=chroma_server.port, collection="shared-test"
    )
    writer = ChromaRetriever(
        HashingEmbedder(), host="127.0.0.1", port=chroma_server.port, collection="shared-test"
    )
    writer.add_texts(["the derivative of x squared is two x", "a sequence is a list of numbers"])
    assert reader.retrieve("derivative", k=1)[0].text == "the derivative of x squared is two x"
    writer.add_texts(["the derivative measures the rate of change: derivative derivative"])
    assert reader.retrieve("derivative derivative", k=1)[0].text.endswith("derivative derivative")
    hnsw_reader = ChromaRetriever(
        HashingEmbedder(),
        host="127.0.0.1",
        port=chroma_server.port,
        collection="shared-test",
        exact_limit=0,
    )
    assert hnsw_reader.retrieve("derivative derivative", k=1)[0].text.endswith(
        "derivative derivative"
    )
    writer.reset()
    assert reader.retrieve("derivative", k=1) == []
    writer.add_texts(["integrals add up areas"])
    # reopened after the reset
    assert hnsw_reader.retrieve("integrals", k=1)[0].text == "integrals add up areas"


def test_unreachable_server_is_a_retrieval_error() -> None:
    r = ChromaRetriever(HashingEmbedder(), host="127.0.0.1", port=free_port())
    with pytest.raises(RetrievalError, match="Chroma could not open collection 'neulora'"):
        r.count()


DYING_WRITER = """
import os, sys, time
from pathlib import Path
from neulora import ChromaRetriever
from neulora.embedders import HashingEmbedder
port, flags = int(sys.argv[1]), Path(sys.argv[2])
r = ChromaRetriever(HashingEmbedder(), host="127.0.0.1", port=port, collection="dying-writer")
emb = HashingEmbedder()
with r.store.writing() as w:
    text = "first chunk about vectors"
    w.add(["first"], emb.embed([text]), [text], [{"source": "f"}])
    (flags / "ready").touch()
    while not (flags / "go").exists():
        time.sleep(0.01)
    text = "second chunk about matrices"
    w.add(["second"], emb.embed([text]), [text], [{"source": "s"}])
    os._exit(9)  # killed between its last write and its closing stamp
"""


def test_a_writer_killed_before_its_closing_stamp_leaves_no_reader_stale(
    chroma_server: ManagedServer, tmp_path: Path
) -> None:
    import subprocess
    import time

    reader = ChromaRetriever(
        HashingEmbedder(), host="127.0.0.1", port=chroma_server.port, collection="dying-writer"
    )
    reader.add_texts(["seed chunk about numbers"])
    assert reader.retrieve("numbers", k=1)[0].text == "seed chunk about numbers"
    proc = subprocess.Popen(
        [sys.executable, "-c", DYING_WRITER, str(chroma_server.port), str(tmp_path)]
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "ready").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the writer did not get going"
        time.sleep(0.01)
    assert reader.retrieve("vectors", k=1)[0].text == "first chunk about vectors"  # read mid-write
    (tmp_path / "go").touch()
    assert proc.wait(timeout=60) == 9
    assert reader.retrieve("matrices", k=1)[0].text == "second chunk about matrices"
    # a re-run that changes nothing still closes the dead writer's stamp: the exact index serves
    # again
    ChromaRetriever(
        HashingEmbedder(), host="127.0.0.1", port=chroma_server.port, collection="dying-writer"
    ).add_texts(["seed chunk about numbers"])
    assert reader.retrieve("matrices", k=1)[0].text == "second chunk about matrices"
    assert reader.store._exact is not None and reader.store._exact.usable
