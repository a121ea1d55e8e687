from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from neulora._styles import STYLES
from neulora.cli import main
from neulora.embedders import HashingEmbedder
from neulora.retrieval import ChromaRetriever
from neulora.testing import ChatStubServer


@pytest.fixture(autouse=True)
def offline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("HF_TOKEN", "HF_API_KEY", "NEULORA_ROUTER", "NEULORA_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NEULORA_EMBEDDER", "hash")
    monkeypatch.chdir(tmp_path)


def test_route_prints_style_scores_and_margin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "제 풀이가 맞는지 봐주세요: log_2 8 = 4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["style"] == "feedback" and set(data["scores"]) == {
        "direct",
        "socratic",
        "scaffolding",
        "feedback",
    }
    assert data["margin"] == pytest.approx(
        sorted(data["scores"].values())[-1] - sorted(data["scores"].values())[-2]
    )
    assert main(["route", "왜 그런 거예요?"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("style: ") and "margin: " in out


def test_router_eval_prints_the_report_and_plots(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "confusion.png"
    assert (
        main(["router-eval", str(shared_data / "mathdial_routing_dev.jsonl"), "--plot", str(png)])
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "n=1521" in out and "macro-F1=" in out and "confusion (rows: true, columns: routed)" in out
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "expected calibration error" in out and "accuracy by margin" in out


def test_router_eval_json_carries_baselines_and_calibration(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["router-eval", str(shared_data / "mathdial_routing_dev.jsonl"), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    for name in ("majority", "previous_style"):
        assert set(report["baselines"][name]) >= {"accuracy", "macro_f1"}
    assert 0.0 <= report["macro_f1"] <= 1.0 and 0.0 <= report["accuracy"] <= 1.0
    calibration = report["calibration"]
    assert 0.0 <= calibration["ece"] <= 1.0
    assert sum(part["n"] for part in calibration["by_margin"]) == report["n"] == 1521
    lows = [part["low"] for part in calibration["by_margin"]]
    assert lows == sorted(lows)
    # the shipped router is below the previous-style baseline there: said in a plain sentence
    assert "below the previous-style baseline" in captured.err


def test_ingest_search_and_collections(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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


def test_bad_settings_exit_2_with_one_line_naming_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["search", "수열", "--port", "abc"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument chroma_port: expected a port number" in err
    monkeypatch.setenv("NEULORA_K", "abc")
    assert main(["ask", "수열의 합은?"]) == 2
    assert "NEULORA_K: expected a positive int, got 'abc'" in capsys.readouterr().err
    monkeypatch.delenv("NEULORA_K")
    # a bad router file is not a usage error
    assert main(["route", "x", "--router", "missing-router.json"]) == 1
    assert "not found" in capsys.readouterr().err


# -- a stub chat server stands in for the Inference API (real HTTP on 127.0.0.1)
# -----------------------
@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ChatStubServer]:
    with ChatStubServer() as server:
        monkeypatch.setenv("NEULORA_BACKEND", "hf")
        monkeypatch.setenv("NEULORA_BASE_URL", server.url)
        monkeypatch.setenv("NEULORA_SESSIONS_DIR", str(tmp_path / "sessions"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield server


def test_search_on_an_empty_collection_says_to_ingest_first_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ChromaRetriever(HashingEmbedder(), path=tmp_path / "db").reset()  # the collection exists, empty
    assert main(["search", "등차수열의 합", "--path", str(tmp_path / "db")]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert (
        "no notes in collection 'neulora'" in captured.err and str(tmp_path / "db") in captured.err
    )
    assert "neulora ingest" in captured.err
    assert main(["search", "등차수열의 합", "--path", str(tmp_path / "db"), "--json"]) == 1


def test_search_says_when_no_passage_reaches_the_score_floor(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(shared_data / "highmath12.txt")]) == 0
    capsys.readouterr()
    monkeypatch.setenv("NEULORA_MIN_SCORE", "0.99")
    assert main(["search", "등차수열의 합", "-k", "2"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("[1] ")  # the passages are still shown, for inspection
    assert "no passage reaches the score floor 0.99 (NEULORA_MIN_SCORE)" in captured.err
    monkeypatch.setenv("NEULORA_MIN_SCORE", "off")
    assert main(["search", "등차수열의 합", "-k", "2"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing/c.png", "folder missing does not exist"),
        ("notes.txt/c.png", "notes.txt is not a folder"),
        ("here", "is a folder"),
        ("c.xyz", "cannot write '.xyz' files"),
        ("confusion", "needs a file name ending in .png"),
    ],
)
def test_router_eval_refuses_a_plot_it_cannot_write_before_evaluating(
    target: str, message: str, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "here").mkdir()
    assert (
        main(["router-eval", str(shared_data / "mathdial_routing_dev.jsonl"), "--plot", target])
        == 2
    )
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before the evaluation ran
    assert captured.err.count("\n") == 1 and message in captured.err and "--plot" in captured.err


def test_router_eval_refuses_a_plot_without_matplotlib_before_evaluating(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the plot extra were not installed
    assert (
        main(["router-eval", str(shared_data / "mathdial_routing_dev.jsonl"), "--plot", "c.png"])
        == 2
    )
    captured = capsys.readouterr()
    assert captured.out == "" and "pip install 'neulora[plot]'" in captured.err


def test_chat_refuses_an_unknown_style_at_once_and_keeps_the_previous_one(
    stub: ChatStubServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        sys, "stdin", io.StringIO("/style feedback\n/style bogus\n제 답은 12입니다\n")
    )
    assert main(["chat"]) == 0
    captured = capsys.readouterr()
    assert "unknown style 'bogus'" in captured.err and all(
        style in captured.err for style in STYLES
    )
    assert "style stays feedback" in captured.err and "style now bogus" not in captured.out
    assert next(
        line for line in captured.out.splitlines() if line.startswith("style: ")
    ).startswith("style: feedback (forced;")
    assert len(stub.requests) == 1


def test_chat_refuses_an_unknown_style_flag_before_starting(
    stub: ChatStubServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("질문\n"))
    assert main(["chat", "--style", "bogus"]) == 1
    captured = capsys.readouterr()
    assert "unknown style 'bogus'" in captured.err and captured.out == "" and stub.requests == []


def test_ask_without_a_session_leaves_no_session_behind(
    stub: ChatStubServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sessions = tmp_path / "sessions"
    for _ in range(2):
        assert main(["ask", "로그가 뭐예요?"]) == 0
    assert not sessions.exists() or list(sessions.iterdir()) == []
    assert main(["ask", "로그가 뭐예요?", "--session", "kept"]) == 0
    assert len(list(sessions.glob("*.json"))) == 1
    assert "Answer from" in capsys.readouterr().out


def test_router_eval_says_in_words_when_the_router_is_below_a_baseline(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["router-eval", str(shared_data / "mathdial_routing_dev.jsonl")]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.split() == list(STYLES))
    assert "scaffolding" in header.split()  # whole names, never "scaffoldi"
    assert "warning: the router is below the majority baseline (always 'scaffolding')" in out
    assert main(["router-eval", str(shared_data / "mathdial_routing_dev.jsonl"), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["accuracy"] < report["baselines"]["majority"]["accuracy"]
    assert (
        report["warning"].startswith("warning: the router is below")
        and "below the majority" in captured.err
    )


def test_every_argument_of_every_command_has_help_text() -> None:
    import argparse

    from neulora.cli._main import _parser

    def commands(parser: argparse.ArgumentParser, prefix: str) -> dict:
        found = {}
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found[f"{prefix}{name}"] = sub
                    found.update(commands(sub, f"{prefix}{name} "))
        return found

    every = commands(_parser(), "")
    assert {"eval scorer-train", "eval scorer-check", "eval judge-check", "eval run"} <= set(every)
    missing = [
        f"{name} {action.dest}"
        for name, sub in every.items()
        for action in sub._actions
        if action.help is None
    ]
    assert missing == []


def test_a_router_file_of_another_embedder_is_refused_in_flags_and_allowed_with_allow_mismatch(
    router_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["route", "hint please", "--router", str(router_file)]) == 1
    err = capsys.readouterr().err
    assert "--allow-mismatch" in err and "allow_mismatch=" not in err and "--embedder" in err
    assert len(err.strip().splitlines()) == 1
    assert (
        main(["route", "hint please", "--router", str(router_file), "--allow-mismatch", "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["style"] in STYLES


def test_folder_ingest_lists_the_files_it_skipped_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "log.md").write_text(
        "# Logarithms\n\nA logarithm answers: to what power?", encoding="utf-8"
    )
    (notes / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (notes / "README").write_text("no suffix", encoding="utf-8")
    assert main(["ingest", str(notes)]) == 0
    out = capsys.readouterr().out
    assert "added 1 file(s), replaced 0, unchanged 0, failed 0, skipped 2" in out
    assert f"skipped: {notes / 'image.png'} (unsupported type .png)" in out
    assert f"skipped: {notes / 'README'} (unsupported type (no suffix))" in out
    assert main(["ingest", str(notes), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [str(notes / "README"), "unsupported type (no suffix)"] in report["skipped"]


@pytest.mark.parametrize(
    "flags",
    [
        ["--max-tokens", "0"],
        ["--temperature", "9"],
        ["--temperature", "nan"],
        ["--max-tokens", "-3"],
    ],
)
def test_chat_and_ask_refuse_bad_generation_flags_at_once_with_exit_2(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chat", *flags]) == 2
    assert main(["ask", "hello", *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("neulora: error: --") for line in err)


@pytest.mark.parametrize("port", ["99999", "-5", "0", "http"])
def test_serve_refuses_a_port_that_is_no_port_with_exit_2(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--port", port])
    assert exit_.value.code == 2 and "--port" in capsys.readouterr().err


def test_serve_on_a_busy_port_says_so_in_one_line_before_loading_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1
        and f"cannot listen on 127.0.0.1:{port}" in err[0]
        and "another --port" in err[0]
    )


def test_a_load_that_lasts_says_loading_on_stderr_and_a_quick_one_says_nothing() -> None:
    import time

    from neulora.cli._chat import loading

    slow = io.StringIO()
    quick = io.StringIO()
    with loading("SmolLM2-135M-Instruct.gguf", after=0.05, out=slow):
        time.sleep(0.3)
    with loading("hash-v1", after=5.0, out=quick):
        pass
    assert (
        slow.getvalue() == "loading SmolLM2-135M-Instruct.gguf\u2026\n" and quick.getvalue() == ""
    )


def test_router_eval_sets_the_router_beside_the_previous_style_baseline(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        json.loads(line)
        for line in (shared_data / "mathdial_routing_dev.jsonl").read_text().splitlines()
    ]
    truth = [r["label"] for r in rows]
    majority = max(set(truth), key=truth.count)
    again = [r["prev_label"] or majority for r in rows]
    expected = sum(a == t for a, t in zip(again, truth, strict=True)) / len(rows)
    assert main(["router-eval", str(shared_data / "mathdial_routing_dev.jsonl"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    previous = report["baselines"]["previous_style"]
    assert previous["accuracy"] == pytest.approx(expected) and 0.40 < previous["accuracy"] < 0.50
    assert set(previous) == {"accuracy", "macro_f1"} and set(report["baselines"]["majority"]) >= {
        "accuracy",
        "macro_f1",
    }
    assert "the previous-style baseline" in report["warning"]


REVEALING = "Natalia sold 48 + 24 = 72 clips altogether. The answer is 72."
CLIPS = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in "
    "May. How many clips did Natalia sell altogether?"
)


def test_ask_and_chat_report_a_broken_style_contract(
    stub: ChatStubServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the flag beats NEULORA_CHECKS=off (set for every test)
    stub.enqueue(text=REVEALING)
    assert main(["ask", CLIPS, "--style", "socratic", "--checks", "on", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["violations"] == ["reveals_answer"] and data["revision"] is None
    assert data["checks"]["reveals_answer"]["label"] == "Yes"
    assert set(data["checks"]["Actionability"]) == {"label", "p"}

    stub.enqueue(text=REVEALING)
    assert main(["ask", CLIPS, "--style", "socratic", "--checks", "on"]) == 0
    captured = capsys.readouterr()
    assert REVEALING in captured.out
    assert captured.err.strip().splitlines()[-1] == (
        "warning: this socratic answer breaks its style's contract: it gives the answer away"
    )

    stub.enqueue(text=REVEALING)
    stub.enqueue(text="What is half of 48?")
    monkeypatch.setattr(sys, "stdin", io.StringIO(CLIPS + "\n" + "And in May?\n"))
    assert main(["chat", "--style", "socratic", "--checks", "on"]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: this socratic answer breaks its style's contract: it gives the answer away"
    ]
    assert len(stub.requests) == 4


def test_ask_with_regenerate_sends_one_more_request_and_says_so(
    stub: ChatStubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.enqueue(text=REVEALING)
    stub.enqueue(text="What is half of 48? Then add April's clips.")
    assert main(["ask", CLIPS, "--style", "socratic", "--checks", "regenerate", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(stub.requests) == 2 and data["violations"] == []
    assert data["revision"]["kept"] == "second" and data["text"].startswith("What is half")


def test_a_bad_checks_flag_is_one_error_line(
    stub: ChatStubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", CLIPS, "--checks", "loudly"]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "off, on, flag, regenerate" in captured.err
    assert stub.requests == []
