"""The relevance rule and follow-ups on real notes (highmath12.txt), offline hashing embedder.

Each test shows the problem (today's ``min_score=0.2``, or the question searched alone) next to the
fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from neulora import ChromaRetriever
from neulora.embedders import HashingEmbedder
from neulora.turn import FollowUp, Relevance

K = 4  # the pipeline's default


@pytest.fixture(scope="module")
def notes(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> ChromaRetriever:
    retriever = ChromaRetriever(HashingEmbedder(), path=tmp_path_factory.mktemp("highmath"))
    retriever.ingest(shared_data / "highmath12.txt", progress=False)
    return retriever


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("등비수열의 합은 어떻게 구해요?", "3. 수열"),
        ("사인법칙", "2. 삼각함수"),
        ("미분", "2. 미분"),
    ],
)
def test_the_calibrated_rule_keeps_the_section_todays_floor_drops(
    notes: ChromaRetriever, question: str, section: str
) -> None:
    assert section not in [p.section for p in notes.retrieve(question, K, min_score=0.2)]
    kept = Relevance.for_embedder(notes.embedder).apply(notes.retrieve(question, K))
    assert section in [p.section for p in kept]


def test_the_calibrated_rule_still_trims_passages_far_below_the_best(
    notes: ChromaRetriever,
) -> None:
    found = notes.retrieve("사인법칙", K)
    kept = Relevance.for_embedder(notes.embedder).apply(found)
    assert len(found) == K
    assert [p.section for p in kept] == ["2. 삼각함수"]


def test_a_follow_up_finds_the_section_of_the_turn_it_leans_on(notes: ChromaRetriever) -> None:
    previous = ["등비수열의 합 공식 알려주세요"]
    question = "그럼 두 번째 단계는요?"
    rule = Relevance.for_embedder(notes.embedder)
    alone = rule.apply(notes.retrieve(question, K))
    assert "3. 수열" not in [p.section for p in notes.retrieve(question, K)]
    assert "3. 수열" not in [p.section for p in alone]
    with_context = rule.apply(notes.retrieve(FollowUp().query(question, previous), K))
    assert "3. 수열" in [p.section for p in with_context[:3]]
