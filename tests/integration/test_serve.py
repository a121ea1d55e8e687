"""A real ``neulora serve`` process, spoken to by the ``openai`` client and huggingface_hub's.

Behind it: a stub engine on loopback (the four styles as model names), the hashing embedder and
embedded Chroma holding ``highmath12.txt``. Two replicas sharing a real Redis continue one learner's
session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from neulora.testing import ChatStubServer

from ..servers import ManagedServer, background_server, free_port, require_system

pytestmark = pytest.mark.slow

KEY = "neulora-test-key-0123"
STYLES = ("direct", "socratic", "scaffolding", "feedback")


@pytest.fixture(scope="module")
def engine() -> Iterator[ChatStubServer]:
    with ChatStubServer() as stub:
        yield stub


def serve_env(tmp: Path, engine: ChatStubServer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEULORA_", "HF_"))}
    env.update(
        {
            "NEULORA_BACKEND": "hf",
            "NEULORA_BASE_URL": engine.url,
            "NEULORA_EMBEDDER": "hash",
            "NEULORA_CHROMA_PATH": str(tmp / "db"),
            "NEULORA_SESSIONS_DIR": str(tmp / "sessions"),
            "NEULORA_UPLOADS_DIR": str(tmp / "uploads"),
            "NEULORA_MIN_SCORE": "0.1",
            **{f"NEULORA_MODEL_{s.upper()}": s for s in STYLES},
            **extra,
        }
    )
    return env


def start(tmp: Path, env: dict[str, str], name: str = "neulora serve") -> Any:
    port = free_port()
    argv = [sys.executable, "-m", "neulora", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return background_server(
        argv, port, log=tmp / f"{name.replace(' ', '-')}-{port}.log", name=name, env=env, timeout=90
    )


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, engine: ChatStubServer, shared_data: Path
) -> Iterator[ManagedServer]:
    tmp = tmp_path_factory.mktemp("serve")
    env = serve_env(tmp, engine, NEULORA_API_KEY=KEY, NEULORA_MAX_BODY="65536")
    subprocess.run(
        [sys.executable, "-m", "neulora", "ingest", str(shared_data / "highmath12.txt")],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    with start(tmp, env) as server:
        yield server


def base(server: ManagedServer) -> str:
    return f"http://127.0.0.1:{server.port}/v1"


def openai_client(server: ManagedServer, key: str = KEY) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=base(server), api_key=key, max_retries=0)


def test_openai_client_routed_and_forced_with_and_without_a_session(
    served: ManagedServer, engine: ChatStubServer
) -> None:
    client = openai_client(served)
    question = [{"role": "user", "content": "등비수열의 합은 어떻게 구해요?"}]
    routed = client.chat.completions.create(model="neulora", messages=question)
    info = routed.model_extra["neulora"]
    assert info["style"] in STYLES and set(info["scores"]) == set(STYLES) and not info["forced"]
    assert routed.choices[0].message.content == f"Answer from {info['style']}."
    assert any(s["section"] and "수열" in s["section"] for s in info["sources"])
    assert {"file", "section", "page", "score"} <= set(info["sources"][0]) and "generate" in info[
        "timings"
    ]
    forced = client.chat.completions.create(
        model="neulora/feedback", messages=question, user="learner-7"
    )
    assert forced.model_extra["neulora"]["forced"] and forced.model == "neulora/feedback"
    assert engine.requests[-1]["model"] == "feedback"
    follow = client.chat.completions.create(
        model="neulora", messages=[{"role": "user", "content": "그 다음은요?"}], user="learner-7"
    )
    sent = engine.requests[-1]["body"]["messages"]
    assert any("등비수열의 합은 어떻게 구해요?" in m["content"] for m in sent), (
        "the session's history is in the prompt"
    )
    assert follow.model_extra["neulora"]["session_id"] == "learner-7"
    stateless = [
        {"role": "user", "content": "What is a log?"},
        {"role": "assistant", "content": "An exponent."},
        {"role": "user", "content": "And ln?"},
    ]
    client.chat.completions.create(model="neulora", messages=stateless)
    assert any(m["content"] == "An exponent." for m in engine.requests[-1]["body"]["messages"])


def test_openai_client_streams_with_the_neulora_object_first(
    served: ManagedServer, engine: ChatStubServer
) -> None:
    client = openai_client(served)
    chunks = list(
        client.chat.completions.create(
            model="neulora/socratic",
            messages=[{"role": "user", "content": "로그함수의 그래프는?"}],
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"X-Session-Id": "stream-1"},
        )
    )
    first = chunks[0]
    assert (
        first.model_extra["neulora"]["style"] == "socratic" and first.choices[0].delta.content == ""
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Answer from socratic."
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert (
        finish[-1].choices[0].finish_reason == "stop"
        and "timings" in finish[-1].model_extra["neulora"]
    )
    assert (
        chunks[-1].choices == []
        and chunks[-1].usage is not None
        and chunks[-1].usage.total_tokens > 0
    )
    # asked of the engine too
    assert engine.requests[-1]["body"]["stream_options"] == {"include_usage": True}


REVEALING = "Natalia sold 48 + 24 = 72 clips altogether. The answer is 72."
CLIPS = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in "
    "May. How many clips did Natalia sell altogether?"
)


def test_the_neulora_object_carries_the_answer_checks_whole_and_streamed(
    served: ManagedServer, engine: ChatStubServer
) -> None:
    # the server runs with the default checks (on: the scorer's encoder is installed; flag)
    client = openai_client(served)
    question = [{"role": "user", "content": CLIPS}]
    engine.enqueue(model="socratic", text=REVEALING)
    whole = client.chat.completions.create(model="neulora/socratic", messages=question)
    info = whole.model_extra["neulora"]
    assert info["violations"] == ["reveals_answer"] and info["revision"] is None
    assert info["checks"]["reveals_answer"]["label"] == "Yes"
    assert whole.choices[0].message.content == REVEALING

    engine.enqueue(model="socratic", text=REVEALING)
    chunks = list(
        client.chat.completions.create(model="neulora/socratic", messages=question, stream=True)
    )
    assert "checks" not in chunks[0].model_extra["neulora"]  # known only after the text
    final = [c for c in chunks if c.choices and c.choices[0].finish_reason][-1]
    assert final.model_extra["neulora"]["violations"] == ["reveals_answer"]

    plain = client.chat.completions.create(model="neulora/direct", messages=question)
    assert plain.model_extra["neulora"]["violations"] == []
    assert set(plain.model_extra["neulora"]["checks"]) >= {"Actionability", "reveals_answer"}


def test_a_server_told_to_regenerate_rewrites_a_whole_answer(
    tmp_path: Path, engine: ChatStubServer
) -> None:
    env = serve_env(tmp_path, engine, NEULORA_CHECKS="regenerate")
    with start(tmp_path, env) as server:
        client = openai_client(server)
        engine.enqueue(model="socratic", text=REVEALING)
        engine.enqueue(model="socratic", text="What is half of 48? Then add April's clips.")
        before = len(engine.requests)
        answer = client.chat.completions.create(
            model="neulora/socratic", messages=[{"role": "user", "content": CLIPS}]
        )
        info = answer.model_extra["neulora"]
        assert len(engine.requests) == before + 2
        assert info["revision"]["kept"] == "second" and info["violations"] == []
        assert answer.choices[0].message.content.startswith("What is half of 48?")


def test_huggingface_hub_client_talks_to_it(served: ManagedServer) -> None:
    from huggingface_hub import InferenceClient

    hub = InferenceClient(base_url=base(served), api_key=KEY)
    out = hub.chat_completion(
        [{"role": "user", "content": "미분이 뭐예요?"}], model="neulora/direct"
    )
    assert out.choices[0].message.content == "Answer from direct."
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in hub.chat_completion(
            [{"role": "user", "content": "미분이 뭐예요?"}], model="neulora", stream=True
        )
        if c.choices
    )
    assert streamed.startswith("Answer from ")


def test_a_wrong_key_is_401_and_a_bad_body_is_422_naming_the_field(served: ManagedServer) -> None:
    from openai import AuthenticationError, UnprocessableEntityError

    with pytest.raises(AuthenticationError):
        openai_client(served, key="wrong").chat.completions.create(
            model="neulora", messages=[{"role": "user", "content": "hi"}]
        )
    assert httpx.get(f"{base(served)}/models").status_code == 401
    with pytest.raises(UnprocessableEntityError) as info:
        openai_client(served).chat.completions.create(
            model="neulora", messages=[{"role": "robot", "content": "x"}]
        )
    assert "messages.0.role" in str(info.value)
    headers = {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(
        f"{base(served)}/chat/completions",
        headers=headers,
        json={"model": "neulora", "messages": []},
    )
    assert r.status_code == 422 and r.json()["error"]["param"] == "messages"
    r = httpx.post(
        f"{base(served)}/chat/completions",
        headers=headers,
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    r = httpx.post(f"{base(served)}/chat/completions", headers=headers, content=b"x" * 70_000)
    assert r.status_code == 413


def test_models_route_search_documents_sessions_and_health(
    served: ManagedServer, tmp_path: Path
) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base(served), headers=headers, timeout=60) as http:
        ids = [m["id"] for m in http.get("/models").json()["data"]]
        assert ids == ["neulora", *(f"neulora/{s}" for s in STYLES)]
        routed = http.post(
            "/route", json={"input": ["이 풀이 맞나요? 2+2=5", "hint please"]}
        ).json()["data"]
        assert len(routed) == 2 and all(d["style"] in STYLES for d in routed)
        hits = http.post("/search", json={"query": "등비수열의 합", "k": 3}).json()["data"]
        assert len(hits) == 3 and any("수열" in (h["section"] or "") for h in hits)
        note = (
            "# Vectors\n\nA vector has a size and a direction. The dot product of orthogonal "
            "vectors is zero."
        )
        report = http.post(
            "/documents", params={"filename": "vectors.md"}, content=note.encode()
        ).json()
        assert report["added"] == 1 and report["file"] == "vectors.md"
        hits = http.post(
            "/search", json={"query": "dot product of orthogonal vectors", "k": 1}
        ).json()["data"]
        assert hits[0]["source"].endswith("vectors.md")
        bad = http.post("/documents", params={"filename": "../evil.md"}, content=b"x")
        assert bad.status_code == 400 and "file name" in bad.json()["error"]["message"]
        assert (
            http.get("/sessions/learner-7").json()["turns"][0]["question"]
            == "등비수열의 합은 어떻게 구해요?"
        )
        assert http.get("/sessions/nobody").status_code == 404
    health = httpx.get(f"http://127.0.0.1:{served.port}/healthz").json()
    assert health["status"] == "ok" and health["checks"]["chroma"]["chunks"] > 0
    page = httpx.get(f"http://127.0.0.1:{served.port}/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert KEY not in served.log.read_text(encoding="utf-8", errors="replace")


def test_upstream_failures_map_to_openai_errors(
    served: ManagedServer, engine: ChatStubServer
) -> None:
    from openai import APIStatusError

    client = openai_client(served)
    # 402 and 401 are final at once; 404 falls back to the base model, which is not served either
    for status, replies in ((402, 1), (404, 2), (401, 1), (429, 8)):
        for _ in range(replies):
            engine.enqueue(status=status, body={"error": f"scripted {status}"})
        with pytest.raises(APIStatusError) as info:
            client.chat.completions.create(
                model="neulora/direct", messages=[{"role": "user", "content": "hi"}]
            )
        assert info.value.status_code == status, info.value
        assert engine.pending() == 0


def test_two_replicas_sharing_redis_continue_one_session(
    tmp_path: Path, engine: ChatStubServer
) -> None:
    redis_server = shutil.which("redis-server")
    require_system("redis-server", redis_server is not None)
    assert redis_server is not None
    port = free_port()
    argv = [
        redis_server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    with background_server(argv, port, log=tmp_path / "redis.log", name="redis-server"):
        env = serve_env(tmp_path, engine, NEULORA_REDIS_URL=f"redis://127.0.0.1:{port}/0")
        with start(tmp_path, env, "replica a") as a, start(tmp_path, env, "replica b") as b:
            ask = {"model": "neulora", "user": "shared-learner"}
            first = httpx.post(
                f"{base(a)}/chat/completions",
                timeout=60,
                json={**ask, "messages": [{"role": "user", "content": "로그의 정의는?"}]},
            )
            assert first.status_code == 200, first.text
            second = httpx.post(
                f"{base(b)}/chat/completions",
                timeout=60,
                json={**ask, "messages": [{"role": "user", "content": "그럼 밑은요?"}]},
            )
            assert second.status_code == 200, second.text
            sent = json.dumps(engine.requests[-1]["body"]["messages"], ensure_ascii=False)
            assert "로그의 정의는?" in sent, "replica b saw replica a's turn"
            turns = httpx.get(f"{base(a)}/sessions/shared-learner").json()["turns"]
            assert [t["question"] for t in turns] == ["로그의 정의는?", "그럼 밑은요?"]


def _redis(tmp_path: Path) -> Any:
    redis_server = shutil.which("redis-server")
    require_system("redis-server", redis_server is not None)
    assert redis_server is not None
    port = free_port()
    argv = [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    server = background_server(argv, port, log=tmp_path / "redis.log", name="redis-server")
    return server, f"redis://127.0.0.1:{port}/0"


def test_a_state_router_gets_the_previous_style_across_replicas_sharing_redis(
    tmp_path: Path, engine: ChatStubServer
) -> None:
    from neulora.embedders import HashingEmbedder

    from ..state_rules import rule_router

    # a router that knows one rule the text cannot show: after feedback comes scaffolding
    router = rule_router(HashingEmbedder())
    router_path = tmp_path / "state-router.json"
    router.save(router_path)
    redis, url = _redis(tmp_path)
    with redis:
        env = serve_env(tmp_path, engine, NEULORA_REDIS_URL=url, NEULORA_ROUTER=str(router_path))
        with start(tmp_path, env, "replica a") as a, start(tmp_path, env, "replica b") as b:

            def ask(server: ManagedServer, model: str, user: str) -> str:
                reply = httpx.post(
                    f"{base(server)}/chat/completions",
                    timeout=60,
                    json={
                        "model": model,
                        "user": user,
                        "messages": [{"role": "user", "content": "question 7"}],
                    },
                )
                assert reply.status_code == 200, reply.text
                return str(reply.json()["neulora"]["style"])

            assert ask(a, "neulora", "fresh") == "direct"  # nothing before: the start
            assert ask(a, "neulora/feedback", "learner") == "feedback"
            assert ask(b, "neulora", "learner") == "scaffolding"  # b read a's turn from Redis
            assert ask(a, "neulora", "learner") == "socratic"


def test_start_up_summary_names_what_is_served_and_warns_about_an_empty_collection(
    tmp_path: Path, engine: ChatStubServer
) -> None:
    secret_url = engine.url.replace("http://", "http://learner:pa55word@")
    env = serve_env(
        tmp_path,
        engine,
        NEULORA_BASE_URL=secret_url,
        NEULORA_COLLECTION="empty-notes",
        NEULORA_API_KEY=KEY,
    )
    with start(tmp_path, env) as server:
        health = httpx.get(f"{server.url}/healthz", timeout=30).json()
        log = server.log.read_text(encoding="utf-8", errors="replace")
    summary = next(line for line in log.splitlines() if "neulora serve: backend" in line)
    for part in (
        "one engine at",
        "models: direct=direct",
        "embedder: hash",
        "router: centroid head",
        "collection: empty-notes",
        "chunks: 0",
        "sessions: InMemoryMemory",
        "api key: required",
        "answer checks: flag",
        str(tmp_path / "db"),
    ):
        assert part in summary, (part, summary)
    assert "pa55word" not in log and "learner:***@" in summary
    warning = next(line for line in log.splitlines() if "is empty" in line)
    assert "WARNING" in warning and "neulora ingest" in warning and "--notes" in warning
    # /healthz answers without a key: the count and the warning, never the engine's address or
    # password
    assert (
        health["chunks"] == 0
        and len(health["warnings"]) == 1
        and "neulora ingest" in health["warnings"][0]
    )
    assert "pa55word" not in json.dumps(health) and engine.url.split("//")[1] not in json.dumps(
        health
    )


def test_serve_notes_ingests_before_serving(
    tmp_path: Path, engine: ChatStubServer, shared_data: Path
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    shutil.copy(shared_data / "highmath12.txt", notes / "highmath12.txt")
    (notes / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    env = serve_env(tmp_path, engine, NEULORA_COLLECTION="served-notes")
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "neulora",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--notes",
        str(notes),
    ]
    with background_server(
        argv,
        port,
        log=tmp_path / "serve-notes.log",
        name="neulora serve --notes",
        env=env,
        timeout=90,
    ) as server:
        health = httpx.get(f"{server.url}/healthz", timeout=30).json()
        hits = httpx.post(
            f"{server.url}/v1/search", json={"query": "등비수열의 합", "k": 1}, timeout=30
        ).json()
        log = server.log.read_text(encoding="utf-8", errors="replace")
    assert health["chunks"] > 0 and health["warnings"] == []
    assert hits["data"][0]["source"].endswith("highmath12.txt")
    assert "notes ingested: added 1 file(s)" in log and "skipped: " in log and "image.png" in log
