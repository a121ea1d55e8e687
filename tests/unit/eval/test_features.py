"""The cues the scorer reads, on dialogues built by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from neulora.eval import Cut, DialogueTurn, load_mathdial, load_mrbench
from neulora.eval._features import CUES, DialogueCues, WordVocabulary, cue_features, numbers

CUT = Cut(
    "d1",
    (DialogueTurn("tutor", "What is 3 x 4?"),),
    "3 x 4 = 7",
    solution="3 x 4 = 12\n 12",
)


def cues(response: str) -> dict[str, float]:
    return dict(zip(CUES, cue_features(CUT, response).tolist(), strict=True))


def test_a_stated_new_number_and_the_final_one() -> None:
    told = cues("Actually, 3 times 4 equals 12.")
    assert told["stated_new_numbers"] == 1 and told["any_new_number"] == 1
    assert told["has_final_number"] == 1 and told["knows_final_number"] == 1
    assert told["actually"] == 1 and told["question_marks"] == 0


def test_a_question_that_repeats_the_learners_number() -> None:
    asked = cues("Great try! Why did you get 7? Can you check it?")
    assert asked["question_marks"] == 2 and asked["ends_with_question"] == 1
    assert asked["repeats_learner_number"] == 1 and asked["any_new_number"] == 0
    assert asked["opens_with_praise"] == 1 and asked["can_you"] == 1
    assert asked["has_final_number"] == 0


def test_without_a_solution_the_final_number_is_unknown() -> None:
    bare = Cut("d2", (), "3 x 4 = 7")
    values = dict(zip(CUES, cue_features(bare, "It is 12").tolist(), strict=True))
    assert values["knows_final_number"] == 0 and values["has_final_number"] == 0
    assert values["learner_turns"] == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1,200 and 3.5", [1200.0, 3.5]), ("-4 then 7", [-4.0, 7.0]), ("none", [])],
)
def test_numbers(text: str, expected: list[float]) -> None:
    assert numbers(text) == expected


def test_vocabulary_keeps_terms_seen_twice_and_makes_unit_rows() -> None:
    vocabulary = WordVocabulary.fit(["try again", "try it again", "no"], min_df=2)
    assert vocabulary.terms == ("again", "try")
    rows = vocabulary.transform(["Try again, try", "nothing known"])
    assert rows.shape == (2, 2)
    assert float((rows[0] ** 2).sum()) == pytest.approx(1.0)
    assert rows[1].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="2 terms but 1"):
        WordVocabulary(("a", "b"), (1.0,))


def test_cues_that_relate_the_response_to_the_learners_turn() -> None:
    cut = Cut(
        "d",
        (DialogueTurn("tutor", "How many spoons did Julia buy?"),),
        "Julia bought 9 spoons because 12 - 3 = 9",
        solution="12 + 3 = 15\n15 - 5 = 10\n 10",
    )
    quoted = dict(
        zip(
            CUES,
            cue_features(
                cut, "Maybe: why do you say Julia bought 9 spoons because of 12 - 3?"
            ).tolist(),
            strict=True,
        )
    )
    assert quoted["overlap_learner"] == 1.0 and quoted["quotes_learner_3gram"] == 1
    assert quoted["quotes_learner_new_number"] == 1 and quoted["hedge"] == 1
    assert quoted["reveal_phrase"] == 0 and quoted["final_new_in_response"] == 0
    told = dict(zip(CUES, cue_features(cut, "The answer is 10 spoons.").tolist(), strict=True))
    assert told["reveal_phrase"] == 1 and told["final_new_in_response"] == 1
    assert told["solution_numbers_new"] == 1 and told["learner_final_is_final"] == 0


def test_the_numbers_said_are_those_of_the_whole_dialogue_read_once(shared_data: Path) -> None:
    """The history is read once: its numbers and the learner's are every number of the text."""
    cuts = [
        cut
        for d in load_mathdial(shared_data / "mathdial_dev_conversations.jsonl")
        for cut in d.cuts(every=True)
    ]
    cuts += [d.cut for d in load_mrbench(shared_data / "mrbench" / "mrbench_v3_dev.json")]
    assert len(cuts) > 1000
    for cut in cuts:
        assert DialogueCues.of(cut).said == frozenset(numbers(cut.text)), cut.dialogue_id
