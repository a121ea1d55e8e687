"""The command line under hostile conditions.

Closed pipes, Ctrl-C, no stdin, multi-line and undecodable input.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from neulora.cli import main
from neulora.testing import ChatStubServer

CLI = [sys.executable, "-m", "neulora"]
NOISE = ("Traceback", "BrokenPipeError", "Exception ignored", "KeyboardInterrupt")


@pytest.fixture(autouse=True)
def offline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in (
        "HF_TOKEN",
        "HF_API_KEY",
        "HF_HUB_OFFLINE",
        "NEULORA_ROUTER",
        "NEULORA_BACKEND",
        "NEULORA_BASE_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NEULORA_EMBEDDER", "hash")
    monkeypatch.setenv("NEULORA_CHROMA_PATH", str(tmp_path / "db"))
    monkeypatch.setenv("NEULORA_SESSIONS_DIR", str(tmp_path / "sessions"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChatStubServer]:
    with ChatStubServer() as server:
        monkeypatch.setenv("NEULORA_BACKEND", "hf")
        monkeypatch.setenv("NEULORA_BASE_URL", server.url)
        yield server


@pytest.fixture
def notes(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(shared_data / "highmath12.txt")]) == 0
    capsys.readouterr()


# -- closed pipes (`neulora ... | head -1`)
# --------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.usefixtures("notes")
@pytest.mark.parametrize(
    "command",
    [
        ["route", "제 풀이가 맞는지 봐주세요", "--json"],
        ["search", "등차수열의 합", "--json", "-k", "8"],
        ["collections"],
    ],
)
def test_output_into_a_pipe_whose_reader_has_gone_ends_quietly_with_exit_1(
    command: list[str],
) -> None:
    proc = subprocess.Popen(
        [*CLI, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader leaves before the first byte arrives, as `| head -0` does
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 1, err
    assert not [word for word in NOISE if word in err], err


# -- Ctrl-C and end of input
# ----------------------------------------------------------------------------
@pytest.mark.slow
def test_a_burst_of_ctrl_c_during_ask_prints_no_traceback() -> None:
    with ChatStubServer(latency=20.0) as server:
        env = {**os.environ, "NEULORA_BACKEND": "hf", "NEULORA_BASE_URL": server.url}
        proc = subprocess.Popen(
            [*CLI, "ask", "로그가 뭐예요?"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while not server.requests and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.requests, "the ask never reached the model"
        # an impatient user: Ctrl-C again and again, through the interpreter's shutdown
        for _ in range(200):
            if proc.poll() is not None:
                break
            proc.send_signal(signal.SIGINT)
            time.sleep(0.002)
        _, err = proc.communicate(timeout=60)
    # 130 from main, or killed by the default SIGINT action once the command is over (shells show
    # 130 too)
    assert proc.returncode in (130, -signal.SIGINT), err
    assert not [word for word in NOISE if word in err], err


SLOW_EXIT = """
import atexit, sys, time

def slow_cleanup():  # an exit handler that takes its time, as filelock's and logging's may
    print("cleaning up", file=sys.stderr, flush=True)
    time.sleep(30)

atexit.register(slow_cleanup)
from neulora.cli import main

sys.argv = ["neulora", *sys.argv[1:]]
raise SystemExit(main())
"""


@pytest.mark.slow
def test_ctrl_c_while_the_interpreter_runs_its_exit_handlers_ends_the_process_quietly() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_EXIT, "route", "왜 그런 거예요?"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    # the command is over; the interpreter is shutting down
    assert proc.stderr.readline() == "cleaning up\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    # ended by the signal itself: the shell reports 130
    assert proc.returncode == -signal.SIGINT, err
    assert out.startswith("style: ") and not [word for word in NOISE if word in err], err


def test_ctrl_c_at_the_chat_prompt_exits_130_without_a_traceback(
    stub: ChatStubServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Interrupted(io.StringIO):
        def readline(self, size: int | None = -1) -> str:
            raise KeyboardInterrupt

    monkeypatch.setattr(sys, "stdin", Interrupted())
    assert main(["chat"]) == 130
    assert "Traceback" not in capsys.readouterr().err


def test_end_of_input_leaves_the_chat_with_exit_0(
    stub: ChatStubServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("로그가 뭐예요?"))  # no final newline, then EOF
    assert main(["chat"]) == 0
    captured = capsys.readouterr()
    assert "Answer from" in captured.out and captured.err == ""


@pytest.mark.slow
def test_chat_with_no_stdin_at_all_leaves_cleanly(stub: ChatStubServer) -> None:
    # `neulora chat <&-`: Python sets sys.stdin to None
    proc = subprocess.run(
        [*CLI, "chat"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.close(0),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("session ") and proc.stderr == ""
    assert stub.requests == []


# -- every error is one line
# ------------------------------------------------------------------------------
SERVER_TRACE = (
    'Traceback (most recent call last):\n  File "server.py", line 3\nValueError: bad adapter'
)


def test_a_multi_line_error_from_the_server_is_one_line_on_stderr(
    stub: ChatStubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.enqueue(status=400, body={"error": SERVER_TRACE})
    assert main(["ask", "로그가 뭐예요?"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("neulora: error: ")
    assert "HTTP 400" in err and "ValueError: bad adapter" in err


def test_chat_reports_each_error_on_one_stderr_line_and_goes_on(
    stub: ChatStubServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.enqueue(status=400, body={"error": SERVER_TRACE})
    monkeypatch.setattr(
        sys, "stdin", io.StringIO("첫 질문\n/policy bad\x00policy\n/frobnicate\n둘째 질문\n")
    )
    assert main(["chat"]) == 0
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert len(errors) == 3, captured.err
    assert "ValueError: bad adapter" in errors[0] and "policy contains a NUL byte" in errors[1]
    assert "unknown command /frobnicate" in errors[2] and "/quit" in errors[2]
    # the second question answered
    assert "error" not in captured.out and captured.out.count("Answer from") == 1


def test_router_eval_on_a_file_that_is_not_text_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "rows.jsonl"
    binary.write_bytes(b'{"text": "\xff\xfe", "label": "direct"}\n')
    assert main(["router-eval", str(binary)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rows.jsonl" in err and "UTF-8" in err


def test_read_only_commands_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from neulora import ChromaRetriever
    from neulora.embedders import HashingEmbedder

    monkeypatch.delenv("NEULORA_CHROMA_PATH")  # the default, ./chroma_db
    assert main(["search", "logarithms"]) == 1
    assert "no notes in collection 'neulora'" in capsys.readouterr().err
    assert main(["collections"]) == 0
    assert "no collections at" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no ./chroma_db appeared
    assert main(["ingest", "--collection", "other", str(_note(tmp_path))]) == 0
    capsys.readouterr()
    # listing checks no embedder
    assert main(["collections", "--collection", "other", "--embedder", "api"]) == 0
    assert capsys.readouterr().out.startswith("other")
    # collection 'neulora' still absent, and still not created
    assert main(["search", "logarithms"]) == 1
    listed = ChromaRetriever(
        HashingEmbedder(), path=tmp_path / "chroma_db", create=False
    ).collections()
    assert [c["name"] for c in listed] == ["other"]


def _note(folder: Path) -> Path:
    path = folder / "notes" / "log.md"
    path.parent.mkdir()
    path.write_text("# Logarithms\n\nA logarithm undoes an exponent.", encoding="utf-8")
    return path


@pytest.mark.slow
def test_an_engine_failure_is_one_error_line_without_the_engines_body(tmp_path: Path) -> None:
    body = (
        "Traceback (most recent call last):\n  File engine.py\nValueError: adapter exploded\n"
        + "x" * 3000
    )
    with ChatStubServer() as engine:
        for _ in range(20):
            engine.enqueue(status=503, body={"error": body})
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEULORA_", "HF_"))}
        env.update(
            NEULORA_BACKEND="hf",
            NEULORA_BASE_URL=engine.url,
            NEULORA_EMBEDDER="hash",
            NEULORA_CHROMA_PATH=str(tmp_path / "db"),
            **{
                f"NEULORA_MODEL_{s.upper()}": s
                for s in ("direct", "socratic", "scaffolding", "feedback")
            },
        )
        done = subprocess.run(
            [sys.executable, "-m", "neulora", "ask", "hint please"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    # a load that lasts (the scorer's, on a busy machine) is announced on a line of its own
    lines = [
        line
        for line in done.stderr.strip().splitlines()
        if not re.fullmatch(r"loading [^:]+\u2026", line)
    ]
    assert done.returncode == 1 and len(lines) == 1 and lines[0].startswith("neulora: error: "), (
        done.stderr
    )
    assert "WARNING" not in done.stderr and "x" * 300 not in done.stderr and len(lines[0]) <= 620
    assert "adapter exploded" in lines[0]  # what went wrong is still said
