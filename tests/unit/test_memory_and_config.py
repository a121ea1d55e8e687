from __future__ import annotations

import json
from pathlib import Path

import pytest

from neulora import ConfigError
from neulora.config import build_pipeline, config_from_env, load_config
from neulora.embeddings import HashingEmbedder
from neulora.llm import HFStyleClient
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


def test_config_from_env_reads_documented_variables() -> None:
    env = {"HF_API_KEY": "hf_x", "NEULORA_EMBEDDER": "hash", "NEULORA_BASE_URL": "http://127.0.0.1:9",
           "NEULORA_MODEL_SOCRATIC": "socratic-adapter", "NEULORA_K": "3", "UNRELATED": "1"}
    assert config_from_env(env) == {"token": "hf_x", "embedder": "hash", "base_url": "http://127.0.0.1:9",
                                    "models": {"socratic": "socratic-adapter"}, "k": "3"}


def test_from_config_builds_the_hf_setup_without_network(tmp_path: Path) -> None:
    path = tmp_path / "neulora.json"
    path.write_text(json.dumps({"backend": "hf", "embedder": "hash", "chroma_path": str(tmp_path / "db"),
                                "base_url": "http://127.0.0.1:9", "models": {"direct": "d"}, "k": 2}))
    pipeline = build_pipeline(load_config(path))
    assert isinstance(pipeline.client, HFStyleClient)
    assert pipeline.client.models["direct"] == "d"
    assert pipeline.client.models["socratic"] == "RiverWon/NeuLoRA-socratic"
    assert isinstance(pipeline.router.embedder, HashingEmbedder)
    assert pipeline.router.embedder is pipeline.retriever.embedder
    assert pipeline.k == 2


def test_unknown_config_keys_and_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown config key"):
        load_config({"chroma_pth": "x"})
    with pytest.raises(ConfigError, match="backend must be"):
        build_pipeline({"backend": "gpu", "embedder": "hash", "chroma_path": str(tmp_path)})
    with pytest.raises(ConfigError, match="config file"):
        load_config(tmp_path / "missing.json")


def test_pipeline_from_env_and_from_config_build_the_documented_setup(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from neulora import Pipeline

    for var in ("HF_TOKEN", "HF_API_KEY", "NEULORA_ROUTER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NEULORA_BACKEND", "hf")
    monkeypatch.setenv("NEULORA_EMBEDDER", "hash")
    monkeypatch.setenv("NEULORA_CHROMA_PATH", str(tmp_path / "db"))
    monkeypatch.setenv("NEULORA_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NEULORA_MODEL_FEEDBACK", "feedback-adapter")
    monkeypatch.setenv("NEULORA_MIN_SCORE", "0.35")
    from_env = Pipeline.from_env()
    assert isinstance(from_env.client, HFStyleClient) and from_env.client.base_url == "http://127.0.0.1:9"
    assert from_env.client.models["feedback"] == "feedback-adapter" and from_env.min_score == 0.35
    from_dict = Pipeline.from_config({"backend": "hf", "embedder": "hash", "chroma_path": str(tmp_path / "db2"),
                                      "collection": "mine"})
    assert from_dict.retriever.collection_name == "mine" and from_dict.min_score == 0.2
