"""In-process and file memory: bounded, durable across instances."""

from __future__ import annotations

from pathlib import Path

from neulora.memory import FileMemory, InMemoryMemory, Turn


def test_file_memory_survives_a_new_instance(tmp_path: Path) -> None:
    memory = FileMemory(tmp_path / "sessions", max_turns=2)
    for i in range(3):
        memory.append("learner/1", Turn(f"q{i}", f"a{i}", "direct"))
    memory.set_policy("learner/1", "기초 부족 -> 선수 개념부터 단계적 설명")
    again = FileMemory(tmp_path / "sessions", max_turns=2).get("learner/1")
    assert [t.question for t in again.turns] == ["q1", "q2"] and again.total_turns == 3
    assert again.policy == "기초 부족 -> 선수 개념부터 단계적 설명"
    memory.reset("learner/1")
    assert memory.get("learner/1").turns == ()


def test_in_memory_lru_keeps_recently_used_sessions() -> None:
    memory = InMemoryMemory(max_sessions=2)
    memory.append("a", Turn("q", "a", "direct"))
    memory.append("b", Turn("q", "a", "direct"))
    memory.get("a")  # touch a: b is now the least recently used
    memory.append("c", Turn("q", "a", "direct"))
    assert memory.get("a").turns and not memory.get("b").turns and memory.get("c").turns
