"""A turn's notes, end to end.

The calibrated relevance rule, follow-ups, filters, and what the Answer says.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from neulora import ChromaRetriever, Pipeline
from neulora.embedders import HashingEmbedder
from neulora.testing import FakeStyleClient
from neulora.train import exemplar_router
from neulora.turn import QuestionRules


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> ChromaRetriever:
    retriever = ChromaRetriever(HashingEmbedder(), path=tmp_path_factory.mktemp("turns") / "db")
    retriever.ingest([shared_data / "highmath12.txt"], progress=False)
    return retriever


def pipeline(retriever: ChromaRetriever, client: FakeStyleClient, **options: object) -> Pipeline:
    return Pipeline(exemplar_router(retriever.embedder), retriever, client, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("question", "section"),
    [("등비수열의 합은 어떻게 구해요?", "수열"), ("사인법칙", "삼각함수"), ("미분", "미분")],
)
def test_the_embedders_own_rule_keeps_the_notes_a_fixed_floor_threw_away(
    notes: ChromaRetriever, question: str, section: str
) -> None:
    client = FakeStyleClient("ok")
    answer = pipeline(notes, client).ask(question)
    assert answer.used_notes and any(section in p.section for p in answer.passages)
    assert "cite them as [1]" in client.history[-1][1][0]["content"]
    # what the fixed floor did
    old = pipeline(notes, FakeStyleClient("ok"), relevance=0.2).ask(question)
    assert not any(section in p.section for p in old.passages)


def test_a_turn_without_notes_says_so_and_asks_for_no_citation(notes: ChromaRetriever) -> None:
    client = FakeStyleClient("ok")
    answer = pipeline(notes, client, relevance=0.99).ask("등비수열의 합은?")
    assert not answer.used_notes and answer.to_dict()["used_notes"] is False
    system = client.history[-1][1][0]["content"]
    assert "cite nothing" in system and "[1]" not in system


def test_a_follow_up_is_searched_with_the_turn_it_leans_on(notes: ChromaRetriever) -> None:
    with_rule = pipeline(notes, FakeStyleClient("ok"))
    with_rule.ask("등비수열의 합 공식 알려주세요", session_id="f1")
    follow = with_rule.ask("그럼 두 번째 단계는요?", session_id="f1")
    assert any("수열" in p.section for p in follow.passages)
    alone = pipeline(notes, FakeStyleClient("ok"), rules=QuestionRules(follow_up=None))
    alone.ask("등비수열의 합 공식 알려주세요", session_id="f2")
    assert not any(
        "수열" in p.section for p in alone.ask("그럼 두 번째 단계는요?", session_id="f2").passages
    )


def test_where_filters_the_notes_and_finish_reason_is_reported(
    notes: ChromaRetriever, tmp_path: Path
) -> None:
    other = tmp_path / "vectors.md"
    other.write_text(
        "# Vectors\n\n등비수열의 합 is not here; vectors have a size and a direction.",
        encoding="utf-8",
    )
    notes.ingest([other], progress=False)
    p = pipeline(notes, FakeStyleClient("ok"), relevance=None)
    only = p.ask("등비수열의 합은?", where={"source": other.as_posix()})
    assert only.passages and {x.source for x in only.passages} == {other.as_posix()}
    from neulora.llm import HFStyleClient
    from neulora.testing import ChatStubServer

    with ChatStubServer() as stub:
        client = HFStyleClient(
            {s: s for s in ("direct", "socratic", "scaffolding", "feedback")},
            base_url=stub.url,
            token="hf_x",
            fallback=None,
        )
        answer = pipeline(notes, client).ask("등비수열의 합은?")  # type: ignore[arg-type]
    assert answer.finish_reason == "stop" and answer.to_dict()["finish_reason"] == "stop"
