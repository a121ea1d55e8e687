"""The evaluation data's loaders: typed records from the shared files, one clear error if broken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neulora.errors import DatasetError
from neulora.eval import LABELS, load_mathdial, load_mrbench, load_routing_rows


@pytest.fixture(scope="module")
def data(shared_data: Path) -> Path:
    return shared_data


def test_the_shared_files_load_whole(data: Path) -> None:
    dialogues = load_mathdial(data / "mathdial_dev_conversations.jsonl")
    v3 = load_mrbench(data / "mrbench" / "mrbench_v3_dev.json")
    v2 = load_mrbench(data / "mrbench" / "MRBench_V2.json")
    rows = load_routing_rows(data / "mathdial_routing_dev.jsonl")
    assert len(dialogues) == 321 and len(rows) == 1521  # as shared/data/README.md says
    assert (len(v3), sum(len(d.responses) for d in v3)) == (155, 1282)
    assert (len(v2), sum(len(d.responses) for d in v2)) == (104, 860)
    assert {r.label for r in rows} == {"direct", "socratic", "scaffolding", "feedback"}
    assert all(
        label in LABELS[dim] for d in v2 for r in d.responses for dim, label in r.labels.items()
    )
    assert "Revealing_of_the_Answer" in v2[0].responses[0].labels and v2[0].dialogue.solution


def test_a_dialogue_is_cut_at_a_learner_turn_with_what_the_tutor_did_next(data: Path) -> None:
    dialogue = load_mathdial(data / "mathdial_dev_conversations.jsonl")[0]
    cuts = dialogue.cuts(every=True)
    assert dialogue.id == "6000025-1" and dialogue.question.startswith("Julia was preparing")
    first = cuts[0]
    assert [t.role for t in first.history] == ["tutor"] and first.history[0].move == "generic"
    assert first.learner.startswith("Sure. I started by letting x")
    assert first.next_move == "focus" and first.next_style == "scaffolding"
    assert first.next_response is not None and first.next_response.startswith("Okay")
    assert dialogue.cuts() == cuts[-1:], "by default: the last learner turn"
    assert first.messages()[0] == {"role": "assistant", "content": first.history[0].text}


def test_a_students_turn_under_the_students_name_is_the_learners(data: Path) -> None:
    dialogues = load_mathdial(data / "mathdial_dev_conversations.jsonl")
    named = [
        d
        for d in dialogues
        if any(t.text.startswith("Sure. I started by figuring") for t in d.turns)
    ]
    assert named and all(t.role == "learner" for t in named[0].turns if t.text.startswith("Sure."))


def test_an_mrbench_history_becomes_turns_and_its_cut_is_the_last_student_turn(data: Path) -> None:
    item = load_mrbench(data / "mrbench" / "mrbench_v3_dev.json")[0]
    cut = item.cut
    assert cut.learner == "The cost of 1 pound of meat is $7.00."
    assert cut.history[-1].role == "tutor" and "cost of 1 pound of meat" in cut.history[-1].text
    assert {r.tutor for r in item.responses} >= {"Expert", "GPT4"}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def broken_jsonl(tmp_path: Path, source: Path, change: object, line: int = 2) -> Path:
    lines = source.read_text(encoding="utf-8").splitlines()[:3]
    row = json.loads(lines[line - 1])
    if callable(change):
        change(row)
    lines[line - 1] = json.dumps(row)
    return write(tmp_path, source.name, "\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda row: row.pop("conversation"), r"line 2: missing field 'conversation'"),
        (
            lambda row: row.update(question=7),
            r"line 2: field 'question' has the wrong type \(int\)",
        ),
        (
            lambda row: row.update(conversation="Teacher: (lecturing)Hi|EOM|Student: hi"),
            r"line 2: turn 0 has an unknown teacher move 'lecturing'",
        ),
        (
            lambda row: row.update(conversation="Teacher: (generic)Hi there"),
            r"line 2: the conversation has no student turn",
        ),
    ],
)
def test_a_broken_mathdial_file_names_the_line_and_the_fault(
    data: Path, tmp_path: Path, change: object, message: str
) -> None:
    path = broken_jsonl(tmp_path, data / "mathdial_dev_conversations.jsonl", change)
    with pytest.raises(DatasetError, match=message):
        load_mathdial(path)


def test_a_truncated_file_and_a_missing_one_are_named(data: Path, tmp_path: Path) -> None:
    text = (data / "mathdial_routing_dev.jsonl").read_text(encoding="utf-8")
    cut = write(tmp_path, "rows.jsonl", text[: len(text) // 2])
    with pytest.raises(DatasetError, match=r"rows\.jsonl: line \d+: not JSON"):
        load_routing_rows(cut)
    whole = (data / "mrbench" / "MRBench_V2.json").read_text(encoding="utf-8")
    short = write(tmp_path, "MRBench_V2.json", whole[:5000])
    with pytest.raises(DatasetError, match=r"MRBench_V2\.json: not JSON .*truncated or damaged"):
        load_mrbench(short)
    with pytest.raises(DatasetError, match="no such file"):
        load_mrbench(tmp_path / "absent.json")


def test_an_unknown_label_names_the_item_the_tutor_and_the_dimension(
    data: Path, tmp_path: Path
) -> None:
    items = json.loads((data / "mrbench" / "mrbench_v3_dev.json").read_text(encoding="utf-8"))[:3]
    items[1]["tutor_responses"]["GPT4"]["annotation"]["Actionability"] = "Maybe"
    path = write(tmp_path, "v3.json", json.dumps(items))
    with pytest.raises(
        DatasetError, match=r"item 1, tutor 'GPT4': Actionability has the unknown label 'Maybe'"
    ):
        load_mrbench(path)
    items[1]["tutor_responses"]["GPT4"]["annotation"] = {"Helpfulness": "Yes"}
    with pytest.raises(DatasetError, match=r"unknown dimension 'Helpfulness'"):
        load_mrbench(write(tmp_path, "v3.json", json.dumps(items)))
    del items[1]["tutor_responses"]["GPT4"]["response"]
    with pytest.raises(DatasetError, match=r"item 1, tutor 'GPT4': missing field 'response'"):
        load_mrbench(write(tmp_path, "v3.json", json.dumps(items)))


def test_a_routing_row_with_a_style_that_is_not_one_is_refused(data: Path, tmp_path: Path) -> None:
    path = broken_jsonl(
        tmp_path, data / "mathdial_routing_dev.jsonl", lambda row: row.update(label="lecture")
    )
    with pytest.raises(DatasetError, match=r"line 2: label 'lecture' is not a style"):
        load_routing_rows(path)
    path = broken_jsonl(
        tmp_path, data / "mathdial_routing_dev.jsonl", lambda row: row.update(history=[{"x": 1}])
    )
    with pytest.raises(DatasetError, match=r"line 2: history turn 0 needs a role"):
        load_routing_rows(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"history": [{"role": "teacher", "content": "hi", "move": ["focus"]}]},
            r"line 2, history turn 0: move \['focus'\] is not a teacher move",
        ),
        (
            {"history": [{"role": "teacher", "content": "hi", "move": "lecture"}]},
            r"line 2, history turn 0: move 'lecture' is not a teacher move",
        ),
        ({"teacher_move": {"x": 1}}, r"line 2: teacher_move \{'x': 1\} is not a teacher move"),
        ({"turn_index": -5}, r"line 2: turn_index must not be negative, got -5"),
        ({"text": "  "}, r"line 2: field 'text' is empty"),
    ],
)
def test_a_routing_row_is_checked_where_it_is_read(
    change: dict, message: str, data: Path, tmp_path: Path
) -> None:
    path = broken_jsonl(tmp_path, data / "mathdial_routing_dev.jsonl", lambda r: r.update(change))
    with pytest.raises(DatasetError, match=message):
        load_routing_rows(path)
