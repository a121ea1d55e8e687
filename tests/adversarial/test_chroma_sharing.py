"""Handles sharing one embedded database in one process: each sees the others' writes and resets."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from neulora import ChromaRetriever
from neulora.embedders import HashingEmbedder


def _pair(path: Path) -> tuple[ChromaRetriever, ChromaRetriever]:
    emb = HashingEmbedder(dim=64)
    return ChromaRetriever(emb, path=path), ChromaRetriever(emb, path=path)


def test_a_reader_sees_another_handles_write_at_once(tmp_path: Path) -> None:
    w, r = _pair(tmp_path / "db")
    w.add_texts(["logarithms turn products into sums"], metadatas=[{"source": "a"}])
    assert [p.text for p in r.retrieve("logarithms products sums", 1)] == [
        "logarithms turn products into sums"
    ]
    w.add_texts(["the sine rule relates sides and angles"], metadatas=[{"source": "b"}])
    assert r.count() == 2
    assert [p.text for p in r.retrieve("sine rule sides angles", 1)] == [
        "the sine rule relates sides and angles"
    ]


def test_a_reader_recovers_after_another_handle_resets(tmp_path: Path) -> None:
    w, r = _pair(tmp_path / "db")
    w.add_texts(["old chunk about vectors"], metadatas=[{"source": "a"}])
    assert len(r.retrieve("vectors", 1)) == 1
    w.reset()
    assert r.retrieve("vectors", 1) == []
    w.add_texts(["new chunk about matrices"], metadatas=[{"source": "b"}])
    assert [p.text for p in r.retrieve("matrices", 1)] == ["new chunk about matrices"]
    r.add_texts(["reader writes too: determinants"], metadatas=[{"source": "c"}])
    assert w.count() == 2 and [p.text for p in w.retrieve("determinants", 1)] == [
        "reader writes too: determinants"
    ]


def test_a_read_only_open_creates_nothing(tmp_path: Path) -> None:
    import pytest

    from neulora.errors import CollectionNotFoundError

    emb = HashingEmbedder(dim=64)
    missing = ChromaRetriever(emb, path=tmp_path / "nowhere", create=False)
    assert missing.collections() == []
    with pytest.raises(CollectionNotFoundError, match="no Chroma database"):
        missing.retrieve("anything")
    assert not (tmp_path / "nowhere").exists()
    ChromaRetriever(emb, path=tmp_path / "db", collection="other").add_texts(["a note"])
    reader = ChromaRetriever(emb, path=tmp_path / "db", collection="notes", create=False)
    with pytest.raises(CollectionNotFoundError, match="no collection 'notes'"):
        reader.count()
    assert [c["name"] for c in reader.collections()] == ["other"]
    assert [c["name"] for c in reader.collections()] == ["other"]  # listing created nothing


def test_a_handles_own_writes_update_its_exact_index_in_place(tmp_path: Path) -> None:
    import numpy as np

    r = ChromaRetriever(HashingEmbedder(dim=64), path=tmp_path / "db")
    r.add_texts([f"note {i} about sequences" for i in range(30)], metadatas=[{"source": "a"}] * 30)
    r.retrieve("sequences", 1)  # loads the exact index
    loaded = r.store._exact
    r.add_texts(["a fresh note on determinants"], metadatas=[{"source": "b"}])
    updated = r.store._exact
    # no reload needed
    assert updated is not None and updated is not loaded and len(updated.ids) == 31
    r.delete_source("a")
    assert r.store._exact is not None and len(r.store._exact.ids) == 1
    assert [p.text for p in r.retrieve("determinants", 5)] == ["a fresh note on determinants"]
    # the updated index is exactly what a fresh reload gives
    fresh = ChromaRetriever(HashingEmbedder(dim=64), path=tmp_path / "db")
    fresh.retrieve("determinants", 1)
    assert fresh.store._exact is not None and r.store._exact is not None
    assert fresh.store._exact.ids == r.store._exact.ids
    assert np.allclose(fresh.store._exact.matrix, r.store._exact.matrix, atol=1e-6)


TWO_HANDLES = """
import faulthandler, sys, threading
faulthandler.enable()
import pytest

from neulora import ChromaRetriever
from neulora.embedders import HashingEmbedder
emb = HashingEmbedder(dim=256)
# HNSW: a query while another handle adds
reader = ChromaRetriever(emb, path=sys.argv[1], exact_limit=0)
writer = ChromaRetriever(emb, path=sys.argv[1])
writer.add_texts(["seed note on logarithms"])
stop = threading.Event()
def write():
    n = 0
    while not stop.is_set():
        writer.add_texts([f"upload {n} chunk {i} on matrices" for i in range(25)])
        n += 1
thread = threading.Thread(target=write)
thread.start()
for _ in range(int(sys.argv[2])):
    assert reader.retrieve("logarithms", 3)
stop.set()
thread.join()
print("ok", writer.count())
"""


def test_two_handles_on_one_path_reading_and_writing_at_once_do_not_crash(tmp_path: Path) -> None:
    # Two chromadb databases open on one path in one process crash it (SIGSEGV) when one adds while
    # the other queries: every handle of a process shares one open database instead. A subprocess,
    # so a crash is a failure.
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", TWO_HANDLES, str(tmp_path / "db"), "600"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert done.stdout.startswith("ok")


def _counting_looks(retriever: ChromaRetriever) -> list[int]:
    """Count the catalogue reads (``get_collection``) of the retriever's open database."""
    looks = [0]
    client = retriever.store._current().client
    real = client.get_collection

    def counted(*args: object, **kwargs: object) -> object:
        looks[0] += 1
        return real(*args, **kwargs)

    client.get_collection = counted
    return looks


def test_freshness_spares_the_catalogue_read_and_this_process_writes_are_still_seen_at_once(
    tmp_path: Path,
) -> None:
    emb = HashingEmbedder(dim=64)
    w = ChromaRetriever(emb, path=tmp_path / "db")
    r = ChromaRetriever(emb, path=tmp_path / "db", freshness=60.0)
    w.add_texts(["logarithms turn products into sums"], metadatas=[{"source": "a"}])
    looks = _counting_looks(r)
    for _ in range(20):
        assert [p.text for p in r.retrieve("logarithms products sums", 1)] == [
            "logarithms turn products into sums"
        ]
    assert looks[0] == 1  # one look, then trusted for 60 s
    # another handle writes
    w.add_texts(["the sine rule relates sides and angles"], metadatas=[{"source": "b"}])
    assert [p.text for p in r.retrieve("sine rule sides angles", 1)] == [
        "the sine rule relates sides and angles"
    ]
    w.reset()
    assert r.retrieve("sine rule", 1) == []


WRITE_ONE = """
import sys
import pytest

from neulora import ChromaRetriever
from neulora.embedders import HashingEmbedder
r = ChromaRetriever(HashingEmbedder(dim=64), path=sys.argv[1])
if sys.argv[3:] == ["reset"]:
    r.reset()
r.add_texts([sys.argv[2]], metadatas=[{"source": "p"}])
"""


def _other_process(db: Path, text: str, *extra: str) -> None:
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-c", WRITE_ONE, str(db), text, *extra], check=True, timeout=120
    )


def test_another_process_write_is_trusted_away_within_the_freshness_and_seen_after_it(
    tmp_path: Path,
) -> None:
    r = ChromaRetriever(HashingEmbedder(dim=64), path=tmp_path / "db", freshness=60.0)
    r.add_texts(["old chunk about vectors"], metadatas=[{"source": "a"}])
    # the exact index loaded
    assert [p.text for p in r.retrieve("matrices", 5)] == ["old chunk about vectors"]
    _other_process(tmp_path / "db", "new chunk about matrices")
    # the last look is trusted for 60 s: the loaded index answers (what freshness promises, and all
    # it costs)
    assert [p.text for p in r.retrieve("matrices", 5)] == ["old chunk about vectors"]
    r.store.freshness = 0.0  # the 60 s have passed
    assert [p.text for p in r.retrieve("matrices", 5)] == [
        "new chunk about matrices",
        "old chunk about vectors",
    ]


def test_a_reset_by_another_process_within_the_freshness_is_recovered_not_an_error(
    tmp_path: Path,
) -> None:
    # The trusted look points at a collection another process has deleted: the read looks again and
    # reopens.
    r = ChromaRetriever(HashingEmbedder(dim=64), path=tmp_path / "db", freshness=60.0)
    r.add_texts(["old chunk about vectors"], metadatas=[{"source": "a"}])
    assert r.count() == 1
    _other_process(tmp_path / "db", "new chunk about matrices", "reset")
    assert r.count() == 1
    assert [p.text for p in r.retrieve("matrices", 5)] == ["new chunk about matrices"]


def test_a_freshness_that_is_not_a_duration_is_a_config_error(tmp_path: Path) -> None:
    import pytest

    from neulora import ConfigError

    for bad in (-1.0, float("nan"), float("inf"), "1", True):
        with pytest.raises(ConfigError, match="freshness"):
            ChromaRetriever(HashingEmbedder(dim=64), path=tmp_path / "db", freshness=bad)  # type: ignore[arg-type]


def test_the_index_answers_with_the_records_a_fresh_handle_reads_after_adds_and_updates(
    tmp_path: Path,
) -> None:
    # The exact index holds the documents and metadata too (no read back from Chroma per search):
    # after this handle's own writes, what it answers must be what a handle loading afresh answers.
    emb = HashingEmbedder(dim=64)
    r = ChromaRetriever(emb, path=tmp_path / "db")
    r.add_texts(
        [f"note {i} about sequences and series" for i in range(5)],
        metadatas=[{"source": "a", "n": i} for i in range(5)],
    )
    assert len(r.retrieve("sequences", 5)) == 5  # loads the index
    r.add_texts(
        ["a fresh note on determinants"], metadatas=[{"source": "b", "section": "matrices"}]
    )
    in_place = r.store._exact  # updated in place by the add: no reload
    assert (
        r.retrieve("determinants", 1)[0].metadata["section"] == "matrices"
        and r.store._exact is in_place
    )
    first = r.store.get().ids[0]
    with r.store.writing() as writer:  # a metadata update makes the next reader reload
        writer.update([first], [{"source": "a", "n": 99, "section": "revised"}])
    fresh = ChromaRetriever(emb, path=tmp_path / "db")
    for query in ("sequences and series", "determinants", "note 3"):
        assert [p.to_dict() for p in r.retrieve(query, 6)] == [
            p.to_dict() for p in fresh.retrieve(query, 6)
        ]
    assert any(p.metadata.get("section") == "revised" for p in r.retrieve("sequences", 6))
    assert r.store._exact is not None and fresh.store._exact is not None
    assert (r.store._exact.ids, r.store._exact.documents, r.store._exact.metadatas) == (
        fresh.store._exact.ids,
        fresh.store._exact.documents,
        fresh.store._exact.metadatas,
    )


def test_a_reader_answers_from_hnsw_while_its_index_reloads_in_the_background_then_is_exact(
    tmp_path: Path,
) -> None:
    import threading

    emb = HashingEmbedder(dim=64)
    reader = ChromaRetriever(emb, path=tmp_path / "db")
    reader.store.background_loads = True  # as neulora serve sets it
    reader.add_texts(
        [f"note {i} about sequences and series" for i in range(300)],
        metadatas=[{"source": "a"}] * 300,
    )
    assert reader.retrieve("sequences", 3)
    held = reader.store._exact
    assert held is not None and len(held.ids) == 300  # patched by its own write: nothing to load
    writer = ChromaRetriever(emb, path=tmp_path / "db")
    writer.add_texts(
        [f"chunk {i} on determinants and matrices" for i in range(2_000)],
        metadatas=[{"source": "b"}] * 2_000,
    )
    # the other handle's write is seen at once
    found = reader.retrieve("determinants and matrices", 3)
    assert found and all(p.source == "b" for p in found)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        index = reader.store._exact
        if index is not None and len(index.ids) == 2_300:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the index never caught up")
    assert not [t for t in threading.enumerate() if t.name.startswith("neulora-index")]
    fresh = ChromaRetriever(emb, path=tmp_path / "db")
    for query in ("determinants", "sequences and series", "chunk 7"):
        assert [p.id for p in reader.retrieve(query, 5)] == [p.id for p in fresh.retrieve(query, 5)]


def test_an_ingest_queued_behind_another_writer_stores_the_file_as_it_is_when_its_turn_comes(
    tmp_path: Path,
) -> None:
    import threading

    notes = tmp_path / "notes.md"
    notes.write_text(
        "# Version\n\nThe first version of the notes, about logarithms.", encoding="utf-8"
    )
    retriever = ChromaRetriever(HashingEmbedder(dim=64), path=tmp_path / "db")
    with retriever.store.writing():  # a long ingest under way: the next one waits for the lock
        queued = threading.Thread(target=lambda: retriever.ingest([notes], progress=False))
        queued.start()
        time.sleep(0.3)  # the queued ingest has started and waits
        notes.write_text(
            "# Version\n\nThe second version of the notes, about sequences.", encoding="utf-8"
        )
    queued.join(30)
    stored = [p.text for p in retriever.retrieve("version of the notes", 3)]
    # read the file it stores
    assert stored and all("second version" in text for text in stored), stored
