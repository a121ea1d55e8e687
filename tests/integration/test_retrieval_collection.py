from __future__ import annotations

import threading
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings

from neulora import ChromaRetriever, RetrievalError
from neulora.embedders import HashingEmbedder
from neulora.store import ChromaCollection


def toy(path: Path) -> ChromaCollection:
    return ChromaCollection("toy-test", path=path, embedder_name="toy", dim=2)


def test_a_write_that_fails_midway_still_reaches_the_exact_index(tmp_path: Path) -> None:
    store = toy(tmp_path / "db")
    with store.writing() as w:
        w.add(["a"], [[1.0, 0.0]], ["east"], [{"source": "m"}])
    # the exact index is loaded
    assert [h.id for h in store.search(np.array([1.0, 0.0]), 5)] == ["a"]
    with pytest.raises(RuntimeError, match="embedder died"), store.writing() as w:
        w.add(["b"], [[0.8, 0.6]], ["north-east"], [{"source": "m"}])
        raise RuntimeError("the embedder died")
    assert [h.id for h in store.search(np.array([1.0, 0.0]), 5)] == ["a", "b"]


def test_two_handles_on_one_path_take_turns_without_losing_vectors(tmp_path: Path) -> None:
    a = toy(tmp_path / "db")
    b = toy(tmp_path / "db")
    rng = np.random.default_rng(0)
    for turn in range(6):
        for name, store in (("a", a), ("b", b)):
            with store.writing() as w:
                w.add([f"{name}{turn}"], rng.normal(size=(1, 2)), [name], [{"source": name}])
    fresh = toy(tmp_path / "db")
    assert fresh.count() == 12
    assert sorted(fresh.get(include=[]).ids) == sorted(f"{n}{t}" for n in "ab" for t in range(6))


def test_reader_threads_keep_working_while_one_retriever_writes(tmp_path: Path) -> None:
    r = ChromaRetriever(HashingEmbedder(dim=256), path=tmp_path / "db", k=3)
    r.add_texts(
        [f"seed note {i} about logarithms" for i in range(50)], metadatas=[{"source": "seed"}] * 50
    )
    errors: list[BaseException] = []
    done = threading.Event()

    def read(where: dict[str, str] | None) -> None:
        while not done.is_set():
            try:
                assert len(r.retrieve("logarithms", where=where)) == 3
            except BaseException as exc:  # every failure counts, whatever its type
                errors.append(exc)
                return

    readers = [threading.Thread(target=read, args=(w,)) for w in (None, None, {"source": "seed"})]
    for t in readers:
        t.start()
    try:
        for part in range(15):
            r.add_texts(
                [f"part {part} note {i} about sequences" for i in range(40)],
                metadatas=[{"source": f"part{part}"}] * 40,
            )
    finally:
        done.set()
        for t in readers:
            t.join(timeout=60)
    assert errors == []
    assert r.count() == 50 + 15 * 40
    assert (
        r.retrieve("part 14 note 39 about sequences", k=1)[0].text
        == "part 14 note 39 about sequences"
    )


def test_writes_leave_the_host_processes_other_chroma_clients_alone(tmp_path: Path) -> None:
    host = chromadb.PersistentClient(
        path=str(tmp_path / "host-db"), settings=Settings(anonymized_telemetry=False)
    )
    mine = host.get_or_create_collection("host-data", embedding_function=None)
    mine.add(ids=["x"], embeddings=[[1.0, 0.0]], documents=["the host's own record"])
    r = ChromaRetriever(HashingEmbedder(dim=64), path=tmp_path / "db")
    for part in range(3):
        r.add_texts([f"note {part}"])
    assert mine.get(ids=["x"])["documents"] == ["the host's own record"]
    other = chromadb.PersistentClient(
        path=str(tmp_path / "host-db"), settings=Settings(anonymized_telemetry=False)
    )
    assert other._system is host._system  # the host's cached database was not reset under it


def test_writer_threads_sharing_a_retriever_are_serialised(tmp_path: Path) -> None:
    r = ChromaRetriever(HashingEmbedder(dim=64), path=tmp_path / "db")
    errors: list[BaseException] = []

    def write(tag: str) -> None:
        try:
            for part in range(4):
                r.add_texts([f"{tag} {part} {i}" for i in range(100)])
        except BaseException as exc:  # every failure counts, whatever its type
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(tag,)) for tag in ("x", "y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and r.count() == 800


def test_a_path_that_is_a_file_is_a_retrieval_error(tmp_path: Path) -> None:
    (tmp_path / "db").write_text("not a folder")
    r = ChromaRetriever(HashingEmbedder(dim=64), path=tmp_path / "db")
    with pytest.raises(RetrievalError, match="is a file, not a folder"):
        r.count()
    with pytest.raises(RetrievalError, match="is a file, not a folder"):
        r.add_texts(["a note"])
    assert (tmp_path / "db").read_text() == "not a folder"


def test_the_handle_names_its_mode(tmp_path: Path) -> None:
    assert repr(toy(tmp_path)) == f"ChromaCollection('toy-test', path={str(tmp_path)!r})"
    assert repr(ChromaCollection("x-test", host="127.0.0.1", port=9, embedder_name="e", dim=2)) == (
        "ChromaCollection('x-test', host='127.0.0.1', port=9)"
    )
