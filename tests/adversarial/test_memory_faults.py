"""Conversation memory under hostile conditions.

Concurrent writers, corrupted files, unencodable session ids.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from neulora import InvalidInputError, SessionError
from neulora.memory import FileMemory, InMemoryMemory, Memory, Turn

WRITER = """
import sys
from neulora.memory import FileMemory, Turn
directory, tag, count, max_turns = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
memory = FileMemory(directory, max_turns=max_turns)
for i in range(count):
    memory.append("shared", Turn(f"{tag}{i}", "answer", "direct"))
"""


def run_writers(directory: Path, *, count: int, max_turns: int) -> None:
    """Two processes append ``count`` turns each to the session "shared", as fast as they can."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(directory), tag, str(count), str(max_turns)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err


def session_file(directory: Path) -> Path:
    (path,) = directory.glob("*.json")
    return path


@pytest.mark.slow
def test_two_processes_appending_to_one_session_lose_no_turn(tmp_path: Path) -> None:
    run_writers(tmp_path / "sessions", count=100, max_turns=1000)
    session = FileMemory(tmp_path / "sessions", max_turns=1000).get("shared")
    questions = [t.question for t in session.turns]
    assert len(questions) == 200 and session.total_turns == 200
    assert sorted(questions) == sorted(
        [f"a{i}" for i in range(100)] + [f"b{i}" for i in range(100)]
    )
    # each writer's turns stay in its own order
    assert [q for q in questions if q[0] == "a"] == [f"a{i}" for i in range(100)]


@pytest.mark.slow
def test_concurrent_processes_keep_memory_bounded_but_count_every_turn(tmp_path: Path) -> None:
    run_writers(tmp_path / "sessions", count=100, max_turns=30)
    session = FileMemory(tmp_path / "sessions", max_turns=30).get("shared")
    assert len(session.turns) == 30 and session.total_turns == 200
    assert not list((tmp_path / "sessions").glob("*.tmp"))  # no temporary file left behind


def test_threads_with_separate_instances_lose_no_turn(tmp_path: Path) -> None:
    def work(tag: str) -> None:
        # one instance per thread: no shared lock
        memory = FileMemory(tmp_path / "sessions", max_turns=1000)
        for i in range(40):
            memory.append("shared", Turn(f"{tag}{i}", "answer", "direct"))

    threads = [threading.Thread(target=work, args=(tag,)) for tag in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    session = FileMemory(tmp_path / "sessions").get("shared")
    assert session.total_turns == 160 and len(session.turns) == 160


CORRUPT = {
    "a list": b"[]",
    "turns not a list": b'{"turns":"abc"}',
    "turn without fields": b'{"turns":[{"q":1}]}',
    "total_turns not an int": b'{"total_turns":"many"}',
    "invalid JSON": b'{"turns": [',
    "invalid UTF-8": b'{"turns": [], "policy": "\xff\xfe"}',
    "deeply nested": b"[" * 100000,
    "turn with a non-str answer": b'{"turns":[{"question":"q","answer":3,"style":"direct"}]}',
    "policy not a str": b'{"turns":[], "policy": 7}',
    "negative total_turns": b'{"turns":[], "total_turns": -1}',
}


@pytest.fixture
def corrupted(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[FileMemory, Path, bytes]:
    memory = FileMemory(tmp_path / "sessions")
    memory.append("learner", Turn("q", "a", "direct"))
    path = session_file(tmp_path / "sessions")
    path.write_bytes(request.param)
    return memory, path, request.param


@pytest.mark.parametrize("corrupted", list(CORRUPT.values()), ids=list(CORRUPT), indirect=True)
def test_a_corrupted_session_file_raises_session_error_naming_the_file(
    corrupted: tuple[FileMemory, Path, bytes],
) -> None:
    memory, path, content = corrupted
    with pytest.raises(SessionError, match=path.name) as err:
        memory.get("learner")
    assert "corrupt" in str(err.value) or "cannot be read" in str(err.value)
    assert path.read_bytes() == content  # a read never rewrites the file


@pytest.mark.parametrize("corrupted", list(CORRUPT.values()), ids=list(CORRUPT), indirect=True)
def test_append_and_set_policy_to_a_corrupted_session_refuse_and_keep_the_file(
    corrupted: tuple[FileMemory, Path, bytes],
) -> None:
    memory, path, content = corrupted
    with pytest.raises(SessionError, match=path.name):
        memory.append("learner", Turn("q2", "a2", "direct"))
    with pytest.raises(SessionError, match=path.name):
        memory.set_policy("learner", "slowly")
    assert path.read_bytes() == content


@pytest.mark.parametrize("corrupted", [CORRUPT["a list"]], indirect=True)
def test_reset_replaces_a_corrupted_session(corrupted: tuple[FileMemory, Path, bytes]) -> None:
    memory, _, _ = corrupted
    memory.reset("learner")
    assert memory.append("learner", Turn("q", "a", "direct")).total_turns == 1
    assert [t.question for t in memory.get("learner").turns] == ["q"]


def memories(tmp_path: Path) -> list[Memory]:
    return [InMemoryMemory(), FileMemory(tmp_path / "sessions")]


def every_call(memory: Memory, session_id: Any) -> list[Callable[[], object]]:
    return [
        lambda: memory.get(session_id),
        lambda: memory.append(session_id, Turn("q", "a", "direct")),
        lambda: memory.set_policy(session_id, "p"),
        lambda: memory.reset(session_id),
    ]


@pytest.mark.parametrize(
    "bad",
    ["abc\udcff", "", "   ", "x" * 201, None, 3, b"bytes"],
    ids=["lone surrogate", "empty", "blank", "too long", "None", "int", "bytes"],
)
def test_both_memories_refuse_the_same_bad_session_ids(tmp_path: Path, bad: object) -> None:
    for memory in memories(tmp_path):
        for call in every_call(memory, bad):
            with pytest.raises(InvalidInputError, match="session_id"):
                call()
    assert not (tmp_path / "sessions").exists() or not list((tmp_path / "sessions").iterdir())


def test_a_lone_surrogate_in_a_session_id_is_named_in_the_message(tmp_path: Path) -> None:
    for memory in memories(tmp_path):
        with pytest.raises(InvalidInputError, match="lone surrogate at position 3"):
            memory.append("abc\udcff", Turn("q", "a", "direct"))


def test_session_ids_that_look_like_paths_stay_inside_the_directory(tmp_path: Path) -> None:
    memory = FileMemory(tmp_path / "sessions")
    for sid in ["../../escape", "/etc/passwd", "a/../../b", "..", "C:\\evil", "세션 1"]:
        memory.append(sid, Turn("q", "a", "direct"))
        assert memory.get(sid).total_turns == 1
    files = list((tmp_path / "sessions").iterdir())
    assert all(f.parent == tmp_path / "sessions" for f in files)
    assert {p.name for p in tmp_path.iterdir()} == {"sessions"}
    assert {
        json.loads(f.read_text("utf-8"))["session_id"] for f in files if f.suffix == ".json"
    } == {"../../escape", "/etc/passwd", "a/../../b", "..", "C:\\evil", "세션 1"}
