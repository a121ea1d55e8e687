"""The scorer's examples: every labelled response once, its labels only on its own words."""

from __future__ import annotations

import json
from pathlib import Path

from neulora.eval import load_mrbench
from neulora.eval._train import examples

HISTORY = "Tutor: What is 15 - 6?\nStudent: 11"


def _file(tmp_path: Path, name: str, dialogues: list[tuple[str, dict[str, dict]]]) -> Path:
    items = [
        {"conversation_id": cid, "conversation_history": HISTORY, "tutor_responses": responses}
        for cid, responses in dialogues
    ]
    path = tmp_path / name
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


def _response(text: str, **labels: str) -> dict:
    return {"response": text, "annotation": labels}


def test_responses_that_differ_are_two_examples_even_in_one_dialogue(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "a.json",
        [
            ("d1", {"Expert": _response("3 x 8 is 24, not 11.", Mistake_Identification="Yes")}),
            ("d2", {"Expert": _response("Great job!", Mistake_Identification="No")}),
        ],
    )
    got = {e.response: dict(e.labels) for e in examples(load_mrbench(path))}
    assert got == {
        "3 x 8 is 24, not 11.": {"Mistake_Identification": "Yes"},
        "Great job!": {"Mistake_Identification": "No"},
    }
    assert len({e.group for e in examples(load_mrbench(path))}) == 1  # one dialogue, one fold


def test_one_response_in_two_files_merges_its_labels_and_no_other(tmp_path: Path) -> None:
    first = _file(
        tmp_path,
        "a.json",
        [("d1", {"GPT4": _response("Try again.", Actionability="Yes")})],
    )
    second = _file(
        tmp_path,
        "b.json",
        [
            (
                "x9",
                {
                    "GPT4": _response("Try  again. ", Mistake_Location="No"),
                    "Sonnet": _response("It is 9.", Mistake_Location="Yes"),
                },
            ),
            ("x10", {"GPT4": _response("You are right!", Mistake_Location="No")}),
        ],
    )
    got = {e.response: dict(e.labels) for e in examples(load_mrbench(first) + load_mrbench(second))}
    assert got == {
        "Try again.": {"Actionability": "Yes", "Mistake_Location": "No"},
        "It is 9.": {"Mistake_Location": "Yes"},
        "You are right!": {"Mistake_Location": "No"},
    }


def _given(dialogues: list) -> list[str]:
    # what the files say, one entry per response (dialogue, tutor, words), the labels of them all
    # (where two files label one response differently, the first file's label)
    said: dict[tuple[str, str, str], dict] = {}
    for d in dialogues:
        for r in d.responses:
            labels = said.setdefault((d.cut.text, r.tutor, " ".join(r.text.split())), {})
            for dimension, label in r.labels.items():
                labels.setdefault(dimension, label)
    return sorted(json.dumps([g, w, labels], sort_keys=True) for (g, _, w), labels in said.items())


def test_every_labelled_response_of_the_shared_half_is_one_example(shared_data: Path) -> None:
    folder = shared_data / "mrbench"
    v3 = load_mrbench(folder / "mrbench_v3_dev.json")
    v2 = load_mrbench(folder / "MRBench_V2.json")
    for dialogues in (v3, v2, v3 + v2):
        made = sorted(
            json.dumps([e.group, " ".join(e.response.split()), e.labels], sort_keys=True)
            for e in examples(dialogues)
        )
        assert made == _given(dialogues)
    # a few responses repeat word for word under another id of the same dialogue: counted once
    assert len(examples(v3)) == 1278 and sum(len(d.responses) for d in v3) == 1282
    assert len(examples(v2)) == 855 and sum(len(d.responses) for d in v2) == 860
    # 839 responses are in both files word for word: one example each; the rest are their own
    both = examples(v3 + v2)
    assert len(both) == 1278 + 855 - 839
    assert sum("Revealing_of_the_Answer" in e.labels for e in both) == 855
