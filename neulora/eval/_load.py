"""Loading the evaluation data: MathDial conversations, MRBench (both shapes), routing rows.

Every refusal is a :class:`~neulora.errors.DatasetError` that names the file and where in it: the
line of a JSONL file, the item (and tutor) of a JSON one.

>>> import json, tempfile, pathlib
>>> row = {"qid": 1, "question": "2+2?", "ground_truth": "4", "student_incorrect_solution": "5",
...        "conversation": "Teacher: (probing)What is 2+2?|EOM|Student: 5"}
>>> path = pathlib.Path(tempfile.mkdtemp()) / "dialogues.jsonl"
>>> _ = path.write_text(json.dumps(row) + chr(10), encoding="utf-8")
>>> [(t.role, t.text, t.style) for t in load_mathdial(path)[0].turns]
[('tutor', 'What is 2+2?', 'socratic'), ('learner', '5', None)]
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .._styles import STYLES
from ..errors import DatasetError
from ._records import (
    LABELS,
    MOVE_STYLES,
    Dialogue,
    DialogueTurn,
    LabelledDialogue,
    Role,
    RoutingRow,
    TutorResponse,
)

# "Teacher: (move)text" or "Student: text"; a student's turn is sometimes under the student's name
_MATHDIAL_TURN = re.compile(r"^([A-Z][\w .'-]{0,30}):\s*(?:\((\w+)\))?\s*(.*)$", re.S)
_MRBENCH_SPEAKER = re.compile(r"^(Tutor|Teacher|Student)\s*:\s?(.*)$")
_SPACES = "\u00a0 \t"


def load_mathdial(path: str | os.PathLike[str]) -> list[Dialogue]:
    """MathDial's own JSONL: one conversation a line, turns joined by ``|EOM|``."""
    dialogues = []
    for where, row in _jsonl(path):
        conversation = _field(row, "conversation", str, where)
        turns = tuple(_mathdial_turns(conversation, where))
        if not any(t.role == "learner" for t in turns):
            raise DatasetError(f"{where}: the conversation has no student turn")
        dialogues.append(
            Dialogue(
                id=str(_field(row, "qid", (int, str), where)) + _scenario(row),
                turns=turns,
                question=_field(row, "question", str, where),
                solution=_field(row, "ground_truth", str, where),
                learner_solution=_field(row, "student_incorrect_solution", str, where),
            )
        )
    return dialogues


def load_mrbench(path: str | os.PathLike[str]) -> list[LabelledDialogue]:
    """MRBench's JSON, in either shape: ``tutor_responses`` (v3) or ``anno_llm_responses`` (V2)."""
    where_file = str(path)
    items = _json(path)
    if not isinstance(items, list):
        raise DatasetError(
            f"{where_file}: expected a JSON list of dialogues, got {type(items).__name__}"
        )
    loaded = []
    for index, item in enumerate(items):
        where = f"{where_file}: item {index}"
        if not isinstance(item, Mapping):
            raise DatasetError(f"{where}: expected an object, got {type(item).__name__}")
        key = "tutor_responses" if "tutor_responses" in item else "anno_llm_responses"
        responses = _field(item, key, Mapping, where)
        history = _field(item, "conversation_history", str, where)
        turns = tuple(_mrbench_turns(history, where))
        # (a history may end with a line the data gives the tutor: the cut is the last student turn)
        if not any(turn.role == "learner" for turn in turns):
            raise DatasetError(f"{where}: the conversation history has no student turn")
        dialogue = Dialogue(
            id=str(_field(item, "conversation_id", (str, int), where)),
            turns=turns,
            solution=str(item.get("Ground_Truth_Solution") or ""),
        )
        loaded.append(
            LabelledDialogue(
                dialogue,
                tuple(
                    _response(tutor, value, f"{where}, tutor {tutor!r}")
                    for tutor, value in responses.items()
                ),
                topic=str(item.get("Topic") or ""),
            )
        )
    return loaded


def load_routing_rows(path: str | os.PathLike[str]) -> list[RoutingRow]:
    """Routing rows: a learner turn, its history, the teacher's next style and the previous one."""
    rows = []
    for where, row in _jsonl(path):
        label = _style(row.get("label"), "label", where, optional=False)
        history_raw = _field(row, "history", list, where)
        history = []
        for i, turn in enumerate(history_raw):
            if not isinstance(turn, Mapping) or turn.get("role") not in ("teacher", "student"):
                raise DatasetError(f"{where}: history turn {i} needs a role of teacher or student")
            text = _field(turn, "content", str, f"{where}, history turn {i}")
            role: Role = "tutor" if turn["role"] == "teacher" else "learner"
            move = _move(turn.get("move"), f"{where}, history turn {i}: move")
            history.append(DialogueTurn(role, text, move))
        turn_index = _field(row, "turn_index", int, where)
        if turn_index < 0:
            raise DatasetError(f"{where}: turn_index must not be negative, got {turn_index}")
        text = _field(row, "text", str, where)
        if not text.strip():
            raise DatasetError(f"{where}: field 'text' is empty: a row needs the learner's turn")
        rows.append(
            RoutingRow(
                conversation_id=str(_field(row, "conversation_id", (str, int), where)),
                turn_index=turn_index,
                text=text,
                history=tuple(history),
                label=label,  # type: ignore[arg-type]
                prev_label=_style(row.get("prev_label"), "prev_label", where, optional=True),
                teacher_move=_move(row.get("teacher_move"), f"{where}: teacher_move"),
            )
        )
    return rows


def _move(value: Any, where: str) -> str | None:
    """A MathDial teacher move (``telling``, ``probing``, ``focus``, ``generic``) or None."""
    if value is not None and not (isinstance(value, str) and value in MOVE_STYLES):
        raise DatasetError(f"{where} {value!r} is not a teacher move: expected {list(MOVE_STYLES)}")
    return value


def _jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for number, line in enumerate(_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: not JSON ({exc.msg} at column {exc.colno})") from None
        except RecursionError:
            raise DatasetError(f"{where}: nested too deep to be a row") from None
        if not isinstance(row, Mapping):
            raise DatasetError(f"{where}: expected an object, got {type(row).__name__}")
        yield where, row


def _json(path: str | os.PathLike[str]) -> Any:
    try:
        return json.loads(_text(path))
    except json.JSONDecodeError as exc:
        message = f"not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        raise DatasetError(f"{path}: {message}: a truncated or damaged file?") from None
    except RecursionError:
        raise DatasetError(f"{path}: nested too deep to be an evaluation file") from None


def _text(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot be read ({type(exc).__name__}: {exc})") from None


def _field(row: Mapping[str, Any], name: str, kind: Any, where: str) -> Any:
    if name not in row:
        raise DatasetError(f"{where}: missing field {name!r}")
    value = row[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DatasetError(f"{where}: field {name!r} has the wrong type ({type(value).__name__})")
    return value


def _scenario(row: Mapping[str, Any]) -> str:
    scenario = row.get("scenario")
    return f"-{scenario}" if isinstance(scenario, int) and not isinstance(scenario, bool) else ""


def _mathdial_turns(conversation: str, where: str) -> Iterator[DialogueTurn]:
    for i, part in enumerate(conversation.split("|EOM|")):
        match = _MATHDIAL_TURN.match(part.strip())
        if match is None:
            raise DatasetError(f"{where}: turn {i} does not start with a speaker ('Teacher: ...')")
        speaker, move, text = match.groups()
        if speaker == "Teacher" and move is not None and move not in MOVE_STYLES:
            raise DatasetError(f"{where}: turn {i} has an unknown teacher move {move!r}")
        if speaker == "Teacher":
            yield DialogueTurn("tutor", text.strip(), move)
        else:
            yield DialogueTurn("learner", text.strip())


def _mrbench_turns(history: str, where: str) -> Iterator[DialogueTurn]:
    role: Role | None = None
    lines: list[str] = []
    for raw in history.split("\n"):
        line = raw.strip(_SPACES)
        match = _MRBENCH_SPEAKER.match(line)
        if match is not None:
            if role is not None:
                yield DialogueTurn(role, "\n".join(lines).strip(_SPACES + "\n"))
            role = "learner" if match.group(1) == "Student" else "tutor"
            lines = [match.group(2)]
        elif role is not None:
            lines.append(line)
        elif line:
            raise DatasetError(
                f"{where}: the history starts with text no speaker said: {line[:60]!r}"
            )
    if role is not None:
        yield DialogueTurn(role, "\n".join(lines).strip(_SPACES + "\n"))


def _response(tutor: str, value: Any, where: str) -> TutorResponse:
    if not isinstance(value, Mapping):
        raise DatasetError(f"{where}: expected an object with 'response' and 'annotation'")
    text = _field(value, "response", str, where)
    labels = _field(value, "annotation", Mapping, where)
    for dimension, label in labels.items():
        allowed = LABELS.get(dimension)
        if allowed is None:
            raise DatasetError(f"{where}: unknown dimension {dimension!r}: expected {list(LABELS)}")
        if label not in allowed:
            raise DatasetError(
                f"{where}: {dimension} has the unknown label {label!r}: expected {list(allowed)}"
            )
    return TutorResponse(tutor, text, dict(labels))


def _style(value: Any, name: str, where: str, *, optional: bool) -> str | None:
    if value is None and optional:
        return None
    if value not in STYLES:
        raise DatasetError(
            f"{where}: {name} {value!r} is not a style: expected one of {list(STYLES)}"
        )
    return str(value)
