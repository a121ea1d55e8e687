from __future__ import annotations

from typing import Any

import pytest

from neulora.embedders import HashingEmbedder
from neulora.errors import ConfigError
from neulora.store import Passage
from neulora.turn import FollowUp
from neulora.turn._relevance import CALIBRATED, UNKNOWN, Relevance


def passages(*scores: float) -> list[Passage]:
    return [Passage(f"t{i}", s, "notes.md", None, f"id{i}") for i, s in enumerate(scores)]


def scores(kept: list[Passage]) -> list[float]:
    return [p.score for p in kept]


# -- Relevance
# ------------------------------------------------------------------------------------------------
def test_a_floor_keeps_passages_at_or_above_it() -> None:
    assert scores(Relevance(floor=0.1).apply(passages(0.3, 0.1, 0.09))) == [0.3, 0.1]


def test_a_margin_keeps_passages_close_to_the_best_whatever_the_scale() -> None:
    assert scores(Relevance(margin=0.1).apply(passages(0.9, 0.85, 0.7))) == [0.9, 0.85]
    assert scores(Relevance(margin=0.1).apply(passages(0.12, 0.05, 0.01))) == [0.12, 0.05]


def test_floor_and_margin_must_both_pass() -> None:
    rule = Relevance(floor=0.05, margin=0.15)
    assert scores(rule.apply(passages(0.30, 0.16, 0.14))) == [0.30, 0.16]
    assert scores(rule.apply(passages(0.12, 0.06, 0.04))) == [0.12, 0.06]
    assert rule.apply(passages(0.04, 0.03)) == []


def test_keep_at_least_keeps_the_best_whatever_their_scores() -> None:
    assert scores(Relevance(floor=0.5, keep_at_least=2).apply(passages(0.2, 0.1, 0.05))) == [
        0.2,
        0.1,
    ]
    assert scores(Relevance(floor=0.5, keep_at_least=5).apply(passages(0.2))) == [0.2]


def test_passages_come_back_best_first_even_when_given_unsorted() -> None:
    assert scores(Relevance(margin=1.0).apply(passages(0.1, 0.3, 0.2))) == [0.3, 0.2, 0.1]


def test_none_keeps_everything_and_nothing_stays_nothing() -> None:
    assert scores(Relevance.none().apply(passages(0.5, -0.2))) == [0.5, -0.2]
    assert Relevance(floor=0.1).apply([]) == []


@pytest.mark.parametrize(
    "options",
    [
        {"floor": float("nan")},
        {"floor": 1.5},
        {"floor": True},
        {"floor": "0.2"},
        {"margin": -0.1},
        {"margin": float("inf")},
        {"keep_at_least": -1},
        {"keep_at_least": 1.0},
        {"keep_at_least": True},
    ],
)
def test_impossible_rules_are_refused_when_built(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Relevance(**options)


def test_the_hashing_embedder_gets_its_measured_rule_not_todays_floor() -> None:
    rule = Relevance.for_embedder(HashingEmbedder())
    assert rule == Relevance(floor=0.05, margin=0.15)
    assert Relevance.for_embedder(HashingEmbedder(seed=3)) == rule


def test_bge_m3_keeps_todays_floor_and_unmeasured_embedders_get_a_margin_only() -> None:
    assert Relevance.for_embedder("BAAI/bge-m3:cls") == Relevance(floor=0.2)
    assert (
        Relevance.for_embedder("intfloat/multilingual-e5-small:mean")
        == UNKNOWN
        == Relevance(margin=0.2)
    )
    # another hashing shape, another scale
    assert Relevance.for_embedder(HashingEmbedder(dim=64)) == UNKNOWN


def test_the_universal_sentence_encoder_gets_its_measured_rule() -> None:
    use = pytest.importorskip("neulora.embedders")
    rule = Relevance.for_embedder(use.UniversalSentenceEncoder())
    assert rule == Relevance(floor=0.04, margin=0.15)
    assert rule in dict(CALIBRATED).values()


# -- FollowUp
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "question",
    [
        "그럼 두 번째 단계는요?",
        "왜요?",
        "그건 왜 중요해요?",
        "이거 어디에 써요?",
        "예시 하나만 들어 주세요",
        "다음은요?",
        "example please",
        "and for the second one?",
        "Why?",
        "what about that for sin?",
        "And the one with sines?",
    ],
)
def test_short_questions_that_lean_on_the_previous_turn_are_follow_ups(question: str) -> None:
    assert FollowUp().is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "등비수열의 합은 어떻게 구해요?",
        "사인법칙",
        "로그 그래프랑 지수 그래프가 왜 대칭이에요?",
        "What is the chain rule?",
        "Is the derivative of fg just f' times g'?",
        "",
        "   ",
        "그럼 등차수열과 등비수열의 일반항과 합의 공식을 처음부터 모두 정리해서"
        " 비교해 주실 수 있을까요?",
    ],
)
def test_questions_that_stand_on_their_own_are_not(question: str) -> None:
    assert not FollowUp().is_follow_up(question)


def test_markers_match_whole_english_words_and_korean_word_starts() -> None:
    rule = FollowUp()
    assert not rule.is_follow_up("What is a limit?")  # "it" inside "limit"
    assert not rule.is_follow_up("Nothing to see")  # "this"/"then" inside other words
    assert not rule.is_follow_up("같이거든요")  # "이거" inside a word
    assert rule.is_follow_up("두번째는요?")  # 두 번째 without its space


def test_a_follow_up_is_searched_with_the_previous_learner_turn() -> None:
    rule = FollowUp()
    assert rule.query(
        "그럼 두 번째 단계는요?", ["로그가 뭐예요?", "등비수열의 합 공식 알려주세요"]
    ) == ("등비수열의 합 공식 알려주세요\n그럼 두 번째 단계는요?")
    assert rule.query("왜요?", []) == "왜요?"
    assert (
        rule.query("등비수열의 합은 어떻게 구해요?", ["사인법칙"])
        == "등비수열의 합은 어떻게 구해요?"
    )


def test_earlier_follow_ups_are_walked_back_to_the_question_they_lean_on() -> None:
    assert (
        FollowUp().query("왜요?", ["로그의 정의", "그럼 두 번째는요?"])
        == "로그의 정의\n그럼 두 번째는요?\n왜요?"
    )
    assert (
        FollowUp(turns=2).query("왜요?", ["a 질문", "b 질문", "c 질문"]) == "b 질문\nc 질문\n왜요?"
    )


def test_follow_up_settings_are_configurable_and_checked() -> None:
    assert FollowUp(markers=("또",)).is_follow_up("또 있어요?")
    assert not FollowUp(markers=("또",)).is_follow_up("왜요?")
    assert not FollowUp(max_chars=3).is_follow_up("그럼 두 번째 단계는요?")
    for options in (
        {"max_chars": 0},
        {"turns": 0},
        {"markers": "그럼"},
        {"markers": ("",)},
        {"turns": True},
    ):
        with pytest.raises(ConfigError):
            FollowUp(**options)
