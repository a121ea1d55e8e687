"""The whole turn with real parts.

HashingEmbedder, embedded Chroma with the Korean notes, the llama.cpp engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from neulora import ChromaRetriever
from neulora.embedders import HashingEmbedder
from neulora.llm import HFStyleClient
from neulora.memory import InMemoryMemory
from neulora.pipeline import Pipeline
from neulora.testing import CountingEmbedder
from neulora.train import exemplar_router
from neulora.turn import TurnOptions

from .engine import STYLES

pytestmark = [pytest.mark.slow, pytest.mark.engine]


@pytest.fixture(scope="module")
def pipeline(
    engine_url: str, shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Pipeline:
    embedder = CountingEmbedder(HashingEmbedder())
    retriever = ChromaRetriever(embedder, path=tmp_path_factory.mktemp("e2e") / "db")
    retriever.ingest([shared_data / "highmath12.txt"], progress=False)
    client = HFStyleClient(
        {s: s for s in STYLES}, base_url=engine_url, token="local-engine", fallback=None
    )
    options = TurnOptions(max_tokens=48, temperature=0.0)
    memory = InMemoryMemory(max_turns=6)
    return Pipeline(
        exemplar_router(embedder), retriever, client, memory=memory, options=options, relevance=0.1
    )


def test_ask_returns_real_text_the_right_sources_and_the_routed_style(pipeline: Pipeline) -> None:
    embedder = pipeline.router.embedder
    assert isinstance(embedder, CountingEmbedder)
    before = embedder.calls
    answer = pipeline.ask("왜 로그함수는 지수함수의 역함수예요?", session_id="e2e")
    assert embedder.calls == before + 1
    assert (
        answer.style == "socratic"
        and answer.route.style == "socratic"
        and answer.model == "socratic"
    )
    assert len(answer.text.split()) >= 2
    assert answer.passages and all(Path(p.source).name == "highmath12.txt" for p in answer.passages)
    assert any("로그함수" in p.metadata["section"] for p in answer.passages)
    assert answer.usage is not None and answer.usage["completion_tokens"] > 0


def test_stream_shows_style_and_sources_before_text(pipeline: Pipeline) -> None:
    events = list(pipeline.stream("등차수열의 합 공식을 알려줘", session_id="e2e-stream"))
    assert [e.kind for e in events[:2]] == ["route", "passages"]
    assert events[0].data.style == "direct"
    assert any(p.metadata["section"] == "3. 수열" for p in events[1].data)
    deltas = [e.data for e in events if e.kind == "delta"]
    assert len(deltas) > 2 and events[-1].kind == "done"
    assert events[-1].data.text == "".join(deltas).strip()


def test_a_twelve_turn_conversation_stays_bounded(pipeline: Pipeline) -> None:
    questions = [
        "로그의 정의가 뭐예요?",
        "왜 그래요?",
        "수열 문제 어떻게 시작해요?",
        "제 답은 12입니다. 맞나요?",
    ] * 3
    for i, q in enumerate(questions):
        answer = pipeline.ask(q, session_id="long-e2e", k=1)
        assert answer.text, f"turn {i} came back empty"
    session = pipeline.memory.get("long-e2e")
    assert len(session.turns) == 6 and session.total_turns == 12
    assert [t.question for t in session.turns] == questions[-6:]


def cli_env(engine_url: str, tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "NEULORA_BACKEND": "hf",
        "NEULORA_BASE_URL": engine_url,
        "NEULORA_EMBEDDER": "hash",
        "NEULORA_CHROMA_PATH": str(tmp_path / "db"),
        "NEULORA_MIN_SCORE": "0.1",
        "NEULORA_SESSIONS_DIR": str(tmp_path / "sessions"),
        **{f"NEULORA_MODEL_{s.upper()}": s for s in STYLES},
    }
    env.pop("HF_TOKEN", None)
    env.pop("HF_API_KEY", None)
    return env


def test_cli_ask_json_carries_style_scores_sources_and_timings(
    engine_url: str, shared_data: Path, tmp_path: Path
) -> None:
    env = cli_env(engine_url, tmp_path)
    cli = [sys.executable, "-m", "neulora"]
    subprocess.run(
        [*cli, "ingest", str(shared_data / "highmath12.txt")],
        env=env,
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [*cli, "ask", "로그의 정의가 뭐예요?", "--json", "--session", "cli"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout)
    assert data["style"] == "direct" and data["text"]
    assert set(data["route"]["scores"]) == set(STYLES) and data["route"]["margin"] > 0
    assert data["sources"] and Path(data["sources"][0]["source"]).name == "highmath12.txt"
    assert set(data["timings"]) == {"embed", "route", "retrieve", "generate", "total"}
    forced = subprocess.run(
        [*cli, "ask", "수열의 합은?", "--json", "--session", "cli", "--style", "feedback"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    forced_data = json.loads(forced.stdout)
    assert forced_data["style"] == "feedback" and forced_data["route"]["forced"]
    bad = subprocess.run(
        [*cli, "ask", "x", "--style", "lecture"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 1 and "unknown style 'lecture'" in bad.stderr


def test_cli_chat_keeps_its_session_and_obeys_commands(engine_url: str, tmp_path: Path) -> None:
    script = (
        "안녕하세요\n/style feedback\n제 답은 12입니다\n"
        "/policy 기초 부족 -> 선수 개념부터 단계적 설명\n"
        "/reset\n/quit\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "neulora", "chat", "--session", "repl"],
        input=script,
        env=cli_env(engine_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    lines = out.stdout.splitlines()
    assert lines[0].startswith("session repl.")
    styles = [line for line in lines if line.startswith("style: ")]
    assert (
        len(styles) == 2
        and "(routed;" in styles[0]
        and styles[1].startswith("style: feedback (forced;")
    )
    assert (
        "style now feedback" in lines and "policy updated" in lines and "session cleared" in lines
    )
    assert sum(line.startswith("model: ") for line in lines) == 2
