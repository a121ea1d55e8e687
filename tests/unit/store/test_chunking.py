from __future__ import annotations

import itertools

import pytest

from neulora import ConfigError
from neulora.store._chunking import ChunkingOptions, ChunkMeta, split_text
from neulora.store._loaders import chunk_ids


def test_chunks_respect_size_and_keep_sentences_whole() -> None:
    sentences = [f"문장 {i}번은 로그함수의 성질을 설명합니다." for i in range(40)]
    chunks = split_text(" ".join(sentences), chunk_size=120, chunk_overlap=0)
    assert all(len(c.text) <= 120 for c in chunks)
    rebuilt = " ".join(c.text for c in chunks)
    assert rebuilt == " ".join(sentences)
    assert all(c.text.endswith("다.") for c in chunks)


def test_overlap_repeats_the_previous_chunks_last_sentence() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(20))
    chunks = split_text(text, chunk_size=100, chunk_overlap=40)
    for a, b in itertools.pairwise(chunks):
        last = a.text.split(". ")[-1]
        assert b.text.startswith(last.rstrip(".")), (a.text, b.text)


def test_headings_start_sections_and_are_recorded() -> None:
    text = "# Logs\nA log is an exponent.\n\n## Sequences\nA sequence is a list.\n\nIt has terms."
    chunks = split_text(text, chunk_size=200, chunk_overlap=0)
    assert [(c.section, c.text) for c in chunks] == [
        ("Logs", "A log is an exponent."),
        ("Sequences", "A sequence is a list. It has terms."),
    ]


def test_a_sentence_longer_than_the_chunk_is_cut() -> None:
    chunks = split_text("x" * 250, chunk_size=100, chunk_overlap=20)
    assert [len(c.text) for c in chunks] == [100, 100, 90]
    assert "".join(c.text[20:] if i else c.text for i, c in enumerate(chunks)) == "x" * 250


@pytest.mark.parametrize(("size", "overlap"), [(10, 0), (100, 60), (100, -1)])
def test_bad_chunking_settings_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ConfigError):
        split_text("text", chunk_size=size, chunk_overlap=overlap)


def test_chunk_ids_are_deterministic_and_unique() -> None:
    ids = chunk_ids("/a.md", ["same", "other", "same"])
    assert ids == chunk_ids("/a.md", ["same", "other", "same"])
    assert len(set(ids)) == 3 and ids[2] == ids[0] + "#2"
    assert chunk_ids("/b.md", ["same"])[0] != ids[0]


def test_chunking_options_validate_once_and_name_themselves() -> None:
    options = ChunkingOptions(size=300, overlap=40)
    assert options.key == "300/40"
    assert options.split("One. Two.") == split_text("One. Two.", chunk_size=300, chunk_overlap=40)
    for size, overlap in [(10, 0), (100, 60), (100, -1), (True, 0), (100, 1.5)]:
        with pytest.raises(ConfigError):
            ChunkingOptions(size=size, overlap=overlap)  # type: ignore[arg-type]


def test_chunk_meta_round_trips_and_leaves_out_missing_fields() -> None:
    meta = ChunkMeta(
        "/n/a.pdf",
        title="a.pdf",
        section="S",
        chunk=2,
        chunks=5,
        file_sha="f",
        chunking="800/120",
        page=3,
    )
    assert ChunkMeta.from_metadata(meta.to_metadata()) == meta
    assert ChunkMeta("memo").to_metadata() == {"source": "memo", "title": "", "section": ""}
    assert ChunkMeta.where_sources(["a", "b"]) == {"source": {"$in": ["a", "b"]}}
