"""Handles sharing one embedded database in one process: each sees the others' writes and resets."""

from __future__ import annotations

from pathlib import Path

from neulora import ChromaRetriever
from neulora.embeddings import HashingEmbedder


def _pair(path: Path) -> tuple[ChromaRetriever, ChromaRetriever]:
    emb = HashingEmbedder(dim=64)
    return ChromaRetriever(emb, path=path), ChromaRetriever(emb, path=path)


def test_a_reader_sees_another_handles_write_at_once(tmp_path: Path) -> None:
    w, r = _pair(tmp_path / "db")
    w.add_texts(["logarithms turn products into sums"], metadatas=[{"source": "a"}])
    assert [p.text for p in r.retrieve("logarithms products sums", 1)] == ["logarithms turn products into sums"]
    w.add_texts(["the sine rule relates sides and angles"], metadatas=[{"source": "b"}])
    assert r.count() == 2
    assert [p.text for p in r.retrieve("sine rule sides angles", 1)] == ["the sine rule relates sides and angles"]


def test_a_reader_recovers_after_another_handle_resets(tmp_path: Path) -> None:
    w, r = _pair(tmp_path / "db")
    w.add_texts(["old chunk about vectors"], metadatas=[{"source": "a"}])
    assert len(r.retrieve("vectors", 1)) == 1
    w.reset()
    assert r.retrieve("vectors", 1) == []
    w.add_texts(["new chunk about matrices"], metadatas=[{"source": "b"}])
    assert [p.text for p in r.retrieve("matrices", 1)] == ["new chunk about matrices"]
    r.add_texts(["reader writes too: determinants"], metadatas=[{"source": "c"}])
    assert w.count() == 2 and [p.text for p in w.retrieve("determinants", 1)] == ["reader writes too: determinants"]


def test_a_read_only_open_creates_nothing(tmp_path: Path) -> None:
    import pytest

    from neulora import CollectionNotFoundError

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
