from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from neulora import ChromaRetriever, InvalidInputError
from neulora.embedders import HashingEmbedder
from neulora.errors import EmbedderMismatchError
from neulora.store import format_context
from neulora.testing import CountingEmbedder

from .chroma_helpers import brute_force, minimal_pdf, write_english


@pytest.fixture
def corpus(tmp_path: Path, shared_data: Path) -> list[Path]:
    return [shared_data / "highmath12.txt", *write_english(tmp_path / "english")]


@pytest.fixture
def retriever(tmp_path: Path) -> ChromaRetriever:
    return ChromaRetriever(CountingEmbedder(HashingEmbedder()), path=tmp_path / "db", k=3)


def sections(passages: list) -> list[str]:  # type: ignore[type-arg]
    return [p.metadata["section"] for p in passages]


def test_korean_and_english_queries_find_the_right_sections(
    retriever: ChromaRetriever, corpus: list[Path]
) -> None:
    report = retriever.ingest(corpus, progress=False)
    assert report.added == 3 and not report.failed and report.chunks_written == retriever.count()
    assert any("로그함수" in s for s in sections(retriever.retrieve("로그함수의 그래프와 점근선")))
    assert "3. 수열" in sections(retriever.retrieve("등차수열과 등비수열의 합"))
    top = retriever.retrieve("what is the derivative of x squared", k=1)[0]
    assert Path(top.source).name == "derivatives.md" and top.page is None
    assert (
        Path(retriever.retrieve("probability of independent events", k=1)[0].source).name
        == "probability.txt"
    )
    assert sorted(Path(s).name for s in retriever.sources()) == [
        "derivatives.md",
        "highmath12.txt",
        "probability.txt",
    ]


def test_scores_are_cosine_similarities_matching_brute_force(
    retriever: ChromaRetriever, corpus: list[Path]
) -> None:
    retriever.ingest(corpus, progress=False)
    for query in ["로그함수", "정적분과 넓이", "tangent line slope"]:
        passages = retriever.retrieve(query, k=5)
        exact = brute_force(retriever.store.raw(), retriever.embedder.embed([query])[0], 5)
        assert [p.id for p in passages] == [i for i, _ in exact]
        assert [p.score for p in passages] == pytest.approx([s for _, s in exact], abs=1e-5)
        assert all(-1.0 <= p.score <= 1.0 for p in passages)
        assert passages == sorted(passages, key=lambda p: -p.score)


def test_reingest_of_unchanged_corpus_embeds_nothing(
    retriever: ChromaRetriever, corpus: list[Path]
) -> None:
    retriever.ingest(corpus, progress=False)
    embedder = retriever.embedder
    assert isinstance(embedder, CountingEmbedder)
    retriever.retrieve("로그함수")  # loads the exact index
    index = retriever.store._exact
    count = retriever.count()
    calls = embedder.calls
    again = retriever.ingest(corpus, progress=False)
    assert retriever.store._exact is index  # nothing written, nothing to reload
    assert embedder.calls == calls
    assert (again.unchanged, again.added, again.replaced, again.embedded) == (3, 0, 0, 0)
    assert retriever.count() == count


def test_edited_file_replaces_exactly_its_chunks(
    retriever: ChromaRetriever, corpus: list[Path]
) -> None:
    retriever.ingest(corpus, progress=False)
    coll = retriever.store.raw()
    before = {s: set(coll.get(where={"source": s})["ids"]) for s in retriever.sources()}
    edited = corpus[1]
    edited.write_text(
        "# Derivatives\n\nThe chain rule differentiates a composition of functions.",
        encoding="utf-8",
    )
    report = retriever.ingest(corpus, progress=False)
    assert (report.replaced, report.unchanged, report.added) == (1, 2, 0)
    after = {
        s: set(retriever.store.raw().get(where={"source": s})["ids"]) for s in retriever.sources()
    }
    source = edited.resolve().as_posix()
    for s in before:
        if s != source:
            assert after[s] == before[s]
    assert len(after[source]) == 1 and not after[source] & before[source]
    assert report.chunks_deleted == len(before[source])
    assert retriever.count() == sum(len(v) for v in after.values())
    assert "chain rule" in retriever.retrieve("chain rule composition", k=1)[0].text


def test_twelve_thousand_chunks_ingest_in_batches_below_the_max(tmp_path: Path) -> None:
    r = ChromaRetriever(HashingEmbedder(dim=64), path=tmp_path / "big")
    texts = [f"chunk number {i} about topic {i % 97}" for i in range(12_000)]
    report = r.add_texts(texts, metadatas=[{"source": f"gen{i % 7}"} for i in range(12_000)])
    max_batch = r.store.max_batch
    assert sum(report.batches) == 12_000 and len(report.batches) >= 3
    assert max(report.batches) <= max_batch
    assert r.count() == 12_000
    assert r.add_texts(texts).embedded == 0  # content-hash ids: nothing new


def test_pdf_pages_are_kept_in_metadata(tmp_path: Path) -> None:
    pytest.importorskip("pypdf")
    pdf = tmp_path / "notes.pdf"
    pdf.write_bytes(
        minimal_pdf(["The logarithm is the inverse of exponentiation.", "A sequence is a list."])
    )
    r = ChromaRetriever(HashingEmbedder(), path=tmp_path / "db")
    assert r.ingest([pdf], progress=False).added == 1
    top = r.retrieve("sequence list", k=1)[0]
    assert top.page == 2 and "sequence" in top.text
    assert "notes.pdf, p. 2" in format_context([top])


def test_bad_files_are_recorded_and_do_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = tmp_path / "good.md"
    good.write_text("Good notes about limits.", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02 binary")
    (tmp_path / "empty.md").write_text("  \n", encoding="utf-8")
    (tmp_path / "korean-cp949.txt").write_bytes("로그함수".encode("cp949"))
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "emptydir").mkdir()
    (tmp_path / "scan.pdf").write_bytes(minimal_pdf(["text"]))
    monkeypatch.setitem(sys.modules, "pypdf", None)  # as if the 'pdf' extra were not installed
    r = ChromaRetriever(HashingEmbedder(), path=tmp_path / "db")
    report = r.ingest(
        [
            good,
            tmp_path / "binary.txt",
            tmp_path / "empty.md",
            tmp_path / "korean-cp949.txt",
            tmp_path / "image.png",
            tmp_path / "emptydir",
            tmp_path / "missing.md",
            tmp_path / "scan.pdf",
        ],
        progress=False,
    )
    reasons = {Path(p).name: why for p, why in report.failed}
    assert report.added == 1 and r.count() == 1
    assert reasons["binary.txt"] == "binary file (NUL bytes): not a text document"
    assert reasons["empty.md"] == "empty file"
    assert reasons["korean-cp949.txt"].startswith("not UTF-8 (byte 0xb7 at offset 0)")
    assert reasons["image.png"].startswith("unsupported file type '.png'")
    assert reasons["emptydir"] == "directory holds no .txt, .md, .pdf files"
    assert reasons["missing.md"] == "not found"
    assert reasons["scan.pdf"] == "PDF support needs the 'pdf' extra: pip install 'neulora[pdf]'"
    assert "failed 7" in report.format()


def test_bad_queries_raise_typed_errors(retriever: ChromaRetriever, corpus: list[Path]) -> None:
    retriever.ingest(corpus[:1], progress=False)
    for k in (0, -1, 1.5, True):
        with pytest.raises(InvalidInputError, match="k must be a positive int"):
            retriever.retrieve("로그", k=k)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="empty"):
        retriever.retrieve("  ")
    # a bad filter is the caller's error, found before anything is embedded or asked of Chroma
    with pytest.raises(InvalidInputError, match=r"where.source: unknown operator '\$bogus'"):
        retriever.retrieve("로그", where={"source": {"$bogus": 1}})
    with pytest.raises(InvalidInputError, match="must be 1024 numbers"):
        retriever.retrieve_vector(np.ones(3))
    assert retriever.retrieve("로그", where={"title": "highmath12.txt"}, k=2)
    assert retriever.retrieve("로그", min_score=1.01) == []


def test_opening_with_another_embedder_is_refused(tmp_path: Path, corpus: list[Path]) -> None:
    ChromaRetriever(HashingEmbedder(), path=tmp_path / "db").ingest(corpus[:1], progress=False)
    other = ChromaRetriever(HashingEmbedder(dim=512), path=tmp_path / "db")
    with pytest.raises(
        EmbedderMismatchError,
        match="holds vectors of embedder 'hash-v1-d1024-n23-s0' \\(dim 1024\\)",
    ):
        other.retrieve("로그")


def test_management_delete_source_and_reset(retriever: ChromaRetriever, corpus: list[Path]) -> None:
    retriever.ingest(corpus, progress=False)
    total = retriever.count()
    source = corpus[2].resolve().as_posix()
    deleted = retriever.delete_source(source)
    assert (
        deleted > 0 and retriever.count() == total - deleted and source not in retriever.sources()
    )
    assert retriever.collections() == [
        {
            "name": "neulora",
            "count": total - deleted,
            "embedder": "hash-v1-d1024-n23-s0",
            "dim": 1024,
        }
    ]
    retriever.reset()
    assert retriever.count() == 0 and retriever.retrieve("로그") == []


def test_changing_the_chunking_rechunks_an_unchanged_file(
    retriever: ChromaRetriever, corpus: list[Path]
) -> None:
    first = retriever.ingest(corpus[:1], chunk_size=800, progress=False)
    again = retriever.ingest(corpus[:1], chunk_size=300, chunk_overlap=40, progress=False)
    assert again.replaced == 1 and again.unchanged == 0
    assert retriever.count() > first.chunks_written


def test_exact_search_agrees_with_hnsw_and_follows_writes(
    tmp_path: Path, corpus: list[Path]
) -> None:
    exact = ChromaRetriever(HashingEmbedder(), path=tmp_path / "db", k=5)
    exact.ingest(corpus, progress=False)
    hnsw = ChromaRetriever(HashingEmbedder(), path=tmp_path / "db", k=5, exact_limit=0)
    for query in ["로그함수의 그래프", "정적분과 넓이", "independent events"]:
        a = exact.retrieve(query)
        b = hnsw.retrieve(query)
        assert [p.id for p in a] == [p.id for p in b]
        assert [p.score for p in a] == pytest.approx([p.score for p in b], abs=1e-5)
        assert [p.text for p in a] == [p.text for p in b]
    note = "점근선 확인 메모: 로그함수 y = log_2 x 의 점근선은 y축"
    exact.add_texts([note], metadatas=[{"source": "memo"}])
    assert exact.retrieve(note, k=1)[0].text == note  # the exact index reloaded after the write
    # too large: HNSW
    small = ChromaRetriever(HashingEmbedder(), path=tmp_path / "db", k=3, exact_limit=5)
    assert small.retrieve(note, k=1)[0].text == note
