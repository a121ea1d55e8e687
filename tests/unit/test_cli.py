from __future__ import annotations

import json
from pathlib import Path

import pytest

from neulora.cli import main


@pytest.fixture(autouse=True)
def offline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("HF_TOKEN", "HF_API_KEY", "NEULORA_ROUTER", "NEULORA_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NEULORA_EMBEDDER", "hash")
    monkeypatch.chdir(tmp_path)


def test_route_prints_style_scores_and_margin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "제 풀이가 맞는지 봐주세요: log_2 8 = 4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["style"] == "feedback" and set(data["scores"]) == {"direct", "socratic", "scaffolding", "feedback"}
    assert data["margin"] == pytest.approx(sorted(data["scores"].values())[-1] - sorted(data["scores"].values())[-2])
    assert main(["route", "왜 그런 거예요?"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("style: ") and "margin: " in out


def test_router_eval_prints_the_report_and_plots(shared_data: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "confusion.png"
    assert main(["router-eval", str(shared_data / "mathdial_routing_dev.jsonl"), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "n=1521" in out and "macro-F1=" in out and "confusion (rows: true, columns: routed)" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ingest_search_and_collections(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(shared_data / "highmath12.txt"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["added"] == 1
    assert main(["search", "등차수열의 합", "-k", "2", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 2 and all(Path(h["source"]).name == "highmath12.txt" for h in hits)
    assert main(["collections"]) == 0
    assert "neulora" in capsys.readouterr().out


def test_errors_are_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x"}\n')
    assert main(["router-eval", str(bad)]) == 1
    assert "each row needs str 'text' and 'label'" in capsys.readouterr().err
    assert main(["ingest", str(tmp_path / "nothing.md")]) == 1
    assert main(["route", "   "]) == 1
    assert "question is empty" in capsys.readouterr().err


def test_bad_settings_exit_2_with_one_line_naming_the_variable(capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["search", "수열", "--port", "abc"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument chroma_port: expected a port number" in err
    monkeypatch.setenv("NEULORA_K", "abc")
    assert main(["ask", "수열의 합은?"]) == 2
    assert "NEULORA_K: expected a positive int, got 'abc'" in capsys.readouterr().err
    monkeypatch.delenv("NEULORA_K")
    assert main(["route", "x", "--router", "missing-router.json"]) == 1  # a bad router file is not a usage error
    assert "not found" in capsys.readouterr().err
