"""Metadata filters: checked with one clear error, evaluated as Chroma does, and a filtered
search that finds every matching record however the rest of the store looks."""

from __future__ import annotations

from pathlib import Path

import pytest

from neulora import ChromaRetriever, InvalidInputError
from neulora.embedders import HashingEmbedder
from neulora.store._filters import MAX_WHERE_DEPTH, check_where, matches

RECORDS = [
    {"source": "a.md", "page": 1},
    {"source": "b.md"},
    {"page": 2},
    {"source": "a.md", "page": True},
    {"source": "c.md", "page": 1.0},
    {"source": "b.md", "page": 7, "section": "수열"},
    {},
]
FILTERS = [
    {"source": "a.md"},
    {"source": {"$ne": "a.md"}},
    {"source": {"$in": ["a.md", "c.md"]}},
    {"source": {"$nin": ["a.md"]}},
    {"page": 1},
    {"page": {"$eq": True}},
    {"page": {"$gte": 1}},
    {"page": 1.0},
    {"page": {"$ne": 1}},
    {"page": {"$lt": 7}},
    {"page": {"$gt": 1.5}},
    {"page": {"$lte": 1}},
    {"$and": [{"source": "b.md"}, {"page": {"$gte": 7}}]},
    {"$or": [{"section": "수열"}, {"page": 2}]},
    {"$or": [{"$and": [{"source": "a.md"}, {"page": 1}]}, {"source": {"$nin": ["a.md", "b.md"]}}]},
]


def test_matches_agrees_with_chroma_on_every_filter() -> None:
    import chromadb

    coll = chromadb.EphemeralClient().get_or_create_collection(
        "filters-agree", embedding_function=None
    )
    ids = [f"r{i}" for i in range(len(RECORDS))]
    coll.add(
        ids=ids,
        embeddings=[[1.0, float(i)] for i in range(len(RECORDS))],
        documents=ids,
        metadatas=[m or None for m in RECORDS],
    )
    for where in FILTERS:
        chroma = sorted(coll.get(where=where)["ids"])
        ours = sorted(
            i for i, m in zip(ids, RECORDS, strict=True) if matches(check_where(where), m)
        )
        assert ours == chroma, where


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("source", "must be an object with exactly one key"),
        ({"source": "a", "page": 1}, "exactly one key"),
        ({"$and": [{"source": "a"}]}, r"where.\$and must be a list of at least two filters"),
        ({"source": {"$bogus": 1}}, r"unknown operator '\$bogus'"),
        ({"$not": {"source": "a"}}, r"unknown operator '\$not'"),
        ({"page": {"$gt": "2"}}, r"where.page.\$gt needs a number"),
        ({"page": {"$in": []}}, "non-empty list"),
        ({"source": ["a", "b"]}, "must be a string, number, boolean"),
    ],
)
def test_a_bad_filter_is_one_clear_error(where: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        check_where(where)


def test_a_filter_nested_thousands_deep_is_refused_without_exhausting_the_stack() -> None:
    where: dict[str, object] = {"source": "a.md"}
    for _ in range(2_000):
        where = {"$and": [where, {"page": 1}]}
    with pytest.raises(InvalidInputError, match=f"nests deeper than {MAX_WHERE_DEPTH} levels"):
        check_where(where)
    shallow: dict[str, object] = {"source": "a.md"}
    for _ in range(MAX_WHERE_DEPTH - 1):
        shallow = {"$and": [shallow, {"page": 1}]}
    assert check_where(shallow) == shallow


def boilerplate_store(path: Path, *, exact_limit: int) -> ChromaRetriever:
    """2,000 identical chunks of one source beside three small notes.

    HNSW with a filter loses the small ones.
    """
    retriever = ChromaRetriever(
        HashingEmbedder(dim=64), path=path, collection="boilerplate", exact_limit=exact_limit
    )
    same = "This page intentionally left blank. Copyright notice, all rights reserved."
    retriever.add_texts(
        [same] * 2_000, [{"source": "boiler.md"}] * 2_000, ids=[f"b{i}" for i in range(2_000)]
    )
    notes = {
        "log.md": "A logarithm answers: to which power?",
        "seq.md": "A geometric sequence multiplies.",
        "trig.md": "Sine and cosine repeat every two pi.",
    }
    retriever.add_texts(list(notes.values()), [{"source": s} for s in notes], ids=list(notes))
    return retriever


@pytest.mark.parametrize("exact_limit", [20_000, 0], ids=["exact index", "above the exact limit"])
def test_a_filtered_search_finds_every_matching_source_beside_a_boilerplate_flood(
    tmp_path: Path, exact_limit: int
) -> None:
    retriever = boilerplate_store(tmp_path / "db", exact_limit=exact_limit)
    for source in ("log.md", "seq.md", "trig.md"):
        for _ in range(5):  # HNSW's failure was nondeterministic: ask again and again
            found = retriever.retrieve("blank page copyright", k=3, where={"source": source})
            assert [p.source for p in found] == [source]
    both = retriever.retrieve("power", k=5, where={"source": {"$in": ["log.md", "trig.md"]}})
    assert sorted(p.source for p in both) == ["log.md", "trig.md"]
    assert retriever.retrieve("blank", k=2, where={"source": "nowhere.md"}) == []
    flood = retriever.retrieve("blank", k=4, where={"source": "boiler.md"})
    assert len(flood) == 4 and all(p.source == "boiler.md" for p in flood)


def test_filtered_search_matches_a_brute_force_over_the_matching_records(tmp_path: Path) -> None:
    retriever = ChromaRetriever(HashingEmbedder(dim=64), path=tmp_path / "db", collection="brute")
    texts = [
        f"note {i} about {'logs' if i % 3 else 'sequences'} and {'sine' if i % 5 else 'limits'}"
        for i in range(60)
    ]
    metas = [{"source": f"s{i % 4}.md", "page": i % 7} for i in range(60)]
    retriever.add_texts(texts, metas, ids=[f"n{i}" for i in range(60)])
    embedder = retriever.embedder
    query = "logs and limits"
    vector = embedder.embed([query])[0]
    for where in (
        {"source": "s1.md"},
        {"page": {"$gte": 3}},
        {"$or": [{"source": "s2.md"}, {"page": 0}]},
    ):
        keep = [i for i, m in enumerate(metas) if matches(where, m)]
        vectors = embedder.embed([texts[i] for i in keep])
        scores = sorted(
            ((float(v @ vector), f"n{i}") for v, i in zip(vectors, keep, strict=True)), reverse=True
        )
        got = retriever.retrieve(query, k=5, where=where)
        assert [p.id for p in got] == [cid for _, cid in scores[:5]], where
        assert [round(p.score, 4) for p in got] == [round(s, 4) for s, _ in scores[:5]]
