"""The async API: the sync one's turns, a loop never blocked, cancellation reaching upstream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from neulora import GenerationError, Pipeline
from neulora.embedders import HashingEmbedder
from neulora.hf import RetryPolicy
from neulora.llm import FallbackChain, HFStyleClient
from neulora.store import Passage
from neulora.testing import ChatStubServer, FakeRetriever, FakeRouter, FakeStyleClient

MODELS = {s: s for s in ("direct", "socratic", "scaffolding", "feedback")}


def fakes(client: object) -> Pipeline:
    e = HashingEmbedder(dim=32)
    passage = Passage(
        "Logarithms undo exponents.", 0.8, "notes.md", None, "p1", {"section": "Logs"}
    )
    return Pipeline(FakeRouter(e), FakeRetriever(e, [passage]), client)  # type: ignore[arg-type]


@pytest.fixture
def stub() -> Iterator[ChatStubServer]:
    with ChatStubServer() as server:
        yield server


def test_aask_and_astream_give_what_ask_and_stream_give() -> None:
    sync = fakes(FakeStyleClient("Why do you think so?"))
    asyn = fakes(FakeStyleClient("Why do you think so?"))
    a = sync.ask("is 2+2=5?", session_id="s1")
    b = asyncio.run(asyn.aask("is 2+2=5?", session_id="s1"))
    assert (b.text, b.style, b.passages, b.route) == (a.text, a.style, a.passages, a.route)
    kinds = [e.kind for e in sync.stream("and 3+3?", session_id="s1")]

    async def read() -> tuple[list[str], str, int]:
        stream = asyn.astream("and 3+3?", session_id="s1")
        seen = [e.kind async for e in stream]
        return seen, stream.answer.text, len(asyn.memory.get("s1").turns)

    seen, text, remembered = asyncio.run(read())
    assert seen == kinds and text == "Why do you think so?" and remembered == 2


def test_a_history_given_is_used_and_nothing_is_remembered() -> None:
    client = FakeStyleClient("ok")
    pipeline = fakes(client)
    history = [
        {"role": "user", "content": "what is a log?"},
        {"role": "assistant", "content": "an exponent"},
    ]
    answer = asyncio.run(pipeline.aask("and ln?", session_id="s9", history=history))
    assert answer.text == "ok" and len(pipeline.memory.get("s9").turns) == 0
    sent = [m["content"] for m in client.history[0][1]]
    assert "what is a log?" in sent and "an exponent" in sent


def test_a_failed_async_turn_leaves_memory_untouched() -> None:
    client = FakeStyleClient()
    client.enqueue(GenerationError("upstream down"))
    pipeline = fakes(client)
    with pytest.raises(GenerationError, match="upstream down"):
        asyncio.run(pipeline.aask("hello there, what is pi?", session_id="s2"))
    assert pipeline.memory.get("s2").turns == ()


def test_agenerate_and_astream_match_the_sync_client(stub: ChatStubServer) -> None:
    client = HFStyleClient(MODELS, base_url=stub.url, token="hf_x", fallback=None)
    ask = [{"role": "user", "content": "hi"}]
    sync = client.generate("socratic", ask)

    async def run() -> tuple[str, list[str], str]:
        g = await client.agenerate("socratic", ask)
        stream = client.astream("socratic", ask)
        deltas = [d async for d in stream]
        await client.aclose()
        return g.text, deltas, stream.result.text

    text, deltas, streamed = asyncio.run(run())
    assert text == sync.text == streamed == "".join(deltas) == "Answer from socratic."
    assert len(deltas) > 1


def test_async_retries_and_fallback_follow_the_same_policy(stub: ChatStubServer) -> None:
    stub.enqueue(model="socratic", status=503, body={"error": "loading"})
    stub.enqueue(model="socratic", status=404, body={"error": "no adapter"})
    client = HFStyleClient(
        MODELS,
        base_url=stub.url,
        token="hf_x",
        fallback=FallbackChain(base_model=None),
        retry=RetryPolicy(backoff=0.01, jitter=0.0),
    )
    g = asyncio.run(client.agenerate("socratic", [{"role": "user", "content": "hi"}]))
    assert (
        g.text == "Answer from direct."
        and g.fallback_from == "socratic:socratic"
        and g.attempts == 3
    )


def test_100_concurrent_turns_do_not_block_the_loop() -> None:
    with ChatStubServer(latency=0.3) as slow:
        pipeline = fakes(HFStyleClient(MODELS, base_url=slow.url, token="hf_x", fallback=None))

        async def run() -> float:
            t0 = time.monotonic()
            answers = await asyncio.gather(
                *(pipeline.aask(f"question {i}?", session_id=f"s{i}") for i in range(100))
            )
            assert {a.text for a in answers} == {"Answer from socratic."}
            return time.monotonic() - t0

        elapsed = asyncio.run(run())
    assert elapsed < 6.0, f"100 turns of 300 ms took {elapsed:.1f}s: the loop is blocked"


def test_a_cancelled_stream_closes_its_upstream_connection(stub: ChatStubServer) -> None:
    stub.enqueue(text=" ".join(["word"] * 200), trickle=0.05)
    pipeline = fakes(HFStyleClient(MODELS, base_url=stub.url, token="hf_x", fallback=None))

    async def run() -> None:
        async def read() -> None:
            async for event in pipeline.astream("tell me a long story", session_id="c1"):
                if event.kind == "delta":
                    await asyncio.sleep(0)

        task = asyncio.create_task(read())
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(40):  # the server notices at its next write
            if stub.disconnects:
                return
            await asyncio.sleep(0.05)

    asyncio.run(run())
    assert stub.disconnects == 1
    assert pipeline.memory.get("c1").turns == ()


def test_finished_streams_give_their_connection_back(stub: ChatStubServer) -> None:
    # huggingface_hub stops reading at [DONE], one chunk before the end of the message: every
    # streamed turn used to open a new connection to the engine (16 turns, 16 connections).
    client = HFStyleClient(MODELS, base_url=stub.url, token="hf_x", fallback=None)

    async def run() -> None:
        for _ in range(16):
            assert (
                "".join(
                    [d async for d in client.astream("direct", [{"role": "user", "content": "hi"}])]
                )
                == "Answer from direct."
            )
        await client.aclose()

    asyncio.run(run())
    ports = [r["client_port"] for r in stub.requests]
    # at most one connection per pool of the client
    assert len(ports) == 16 and len(set(ports)) <= 8


def test_a_server_that_never_ends_its_message_after_done_costs_only_the_grace(
    stub: ChatStubServer,
) -> None:
    head = (
        b'{"id":"x","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,'
        b'"delta":{"content":"Done here."},"finish_reason":"stop"}]}'
    )
    stub.enqueue(events=[head, b"[DONE]", *[b'{"late": true}'] * 40], trickle=0.1)
    client = HFStyleClient(MODELS, base_url=stub.url, token="hf_x", fallback=None)

    async def run() -> tuple[str, float]:
        t0 = time.monotonic()
        text = "".join(
            [d async for d in client.astream("direct", [{"role": "user", "content": "hi"}])]
        )
        return text, time.monotonic() - t0

    text, elapsed = asyncio.run(run())
    assert text == "Done here."
    assert elapsed < 3.0, f"{elapsed:.1f}s: the 4 s of events after [DONE] were waited for"


def test_more_than_100_concurrent_streams_reach_the_engine_through_one_pool() -> None:
    # httpx's default pool (100 connections) made the 101st learner of a busy server wait for a free
    # one.
    from neulora.hf import HFAuth
    from neulora.hf._async_clients import AsyncSessions, async_inference_client

    sessions = AsyncSessions(max_connections=200, shards=1)
    with ChatStubServer(latency=1.0) as slow:

        async def one(i: int) -> str:
            client = async_inference_client(HFAuth(None), sessions.get(), url=slow.url)
            try:
                return "".join(
                    [
                        c.choices[0].delta.content or ""
                        async for c in await client.chat_completion(
                            [{"role": "user", "content": f"q{i}"}], model="direct", stream=True
                        )
                    ]
                )
            finally:
                await client.close()

        async def run() -> list[str]:
            try:
                return await asyncio.gather(*(one(i) for i in range(150)))
            finally:
                await sessions.aclose()

        assert asyncio.run(run()) == ["Answer from direct."] * 150
        assert slow.max_in_flight == 150


def test_the_garbage_collector_is_tuned_only_for_a_server_that_asks() -> None:
    import gc

    from fastapi.testclient import TestClient

    from neulora.server._app import GCTuning, ServeOptions, create_app

    before = gc.get_threshold()
    pipeline = fakes(FakeStyleClient())
    try:
        # an app mounted in someone's process: left alone
        with TestClient(create_app(pipeline)) as client:
            assert client.get("/v1/models").status_code == 200
            assert gc.get_threshold() == before
        with TestClient(
            create_app(pipeline, ServeOptions(gc=GCTuning((12345, 11, 12), freeze=False)))
        ) as client:
            assert client.get("/v1/models").status_code == 200
            assert gc.get_threshold() == (12345, 11, 12)
    finally:
        gc.set_threshold(*before)
