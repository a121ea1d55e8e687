"""The one Hugging Face edge: token precedence, where the token may go, retries for the embedder."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from neulora import ConfigError, EmbeddingError, HFInferenceEmbedder, RetryPolicy
from neulora.hf._auth import HFAuth, is_hf_host
from neulora.testing import ChatStubServer

PACKAGE = Path(__file__).resolve().parents[3] / "neulora"


def test_token_precedence_is_argument_then_hf_token_then_hf_api_key_then_the_saved_login(
    tmp_path: Path,
) -> None:
    env = {"HF_TOKEN": "hf_env", "HF_API_KEY": "hf_alias"}
    assert HFAuth.resolve("hf_arg", environ=env).source == "the token argument"
    assert HFAuth.resolve(environ=env).token == "hf_env"
    assert HFAuth.resolve(environ={"HF_API_KEY": "hf_alias"}).source == "HF_API_KEY"
    assert HFAuth.resolve(environ={}).token is None
    # huggingface_hub's own login (what `hf auth login` writes) is found when nothing else is set; a
    # fresh process, since huggingface_hub reads HF_HOME once, at import
    (tmp_path / "token").write_text("hf_saved_login")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_API_KEY")} | {
        "HF_HOME": str(tmp_path)
    }
    code = (
        "from neulora.hf import HFAuth; a = HFAuth.resolve(); print(a.token, '|', a.source, "
        "'|', repr(a))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert (
        out.strip()
        == "hf_saved_login | the saved login (hf auth login) | HFAuth(token from the saved login "
        "(hf auth login))"
    )
    with pytest.raises(ConfigError):
        HFAuth.resolve("  ")


def test_an_ambient_token_goes_only_to_hugging_face_hosts() -> None:
    ambient = HFAuth("hf_x", "HF_TOKEN")
    given = HFAuth("hf_y", "the token argument", explicit=True)
    for url in (
        "https://router.huggingface.co/v1",
        "https://abc.us-east-1.aws.endpoints.huggingface.cloud",
        "https://me-app.hf.space",
        None,
    ):
        assert ambient.for_url(url) == "hf_x"
    # plain HTTP: an ambient token never travels in clear text
    for url in (
        "http://127.0.0.1:8080",
        "https://huggingface.co.evil.example",
        "https://my-vllm.example.com",
        "http://me-app.hf.space",
    ):
        assert not is_hf_host(url) or url.startswith("http://")
        assert ambient.for_url(url) is None
        assert given.for_url(url) == "hf_y"


def test_the_inference_api_embedder_retries_a_503_while_the_model_loads() -> None:
    dim = 8
    with ChatStubServer() as server:
        server.enqueue(
            status=503, body={"error": "Model BAAI/bge-m3 is loading", "estimated_time": 0.01}
        )
        server.enqueue(status=200, body=[[0.5] * dim])
        waits: list[float] = []
        embedder = HFInferenceEmbedder(
            base_url=server.url, token="hf_local", dim=dim, retry=RetryPolicy(sleep=waits.append)
        )
        vectors = embedder.embed(["수열의 합"])
    assert vectors.shape == (1, dim) and waits == [0.01]
    assert len(server.requests) == 2


def test_a_provider_huggingface_hub_does_not_know_is_refused_at_construction() -> None:
    from neulora import ConfigError
    from neulora.llm import HFStyleClient

    with pytest.raises(
        ConfigError, match=r"unknown inference provider 'no-such-provider'.*together"
    ):
        HFInferenceEmbedder(provider="no-such-provider", token="hf_x", dim=8)
    with pytest.raises(ConfigError, match="no-such-provider"):
        HFStyleClient(provider="no-such-provider", token="hf_x")
    assert HFStyleClient(provider="auto", token="hf_x").provider == "auto"


def test_embedder_failures_that_are_not_retryable_are_typed_and_redacted() -> None:
    with ChatStubServer() as server:
        server.enqueue(status=400, body={"error": "bad input, token hf_local_secret"})
        embedder = HFInferenceEmbedder(base_url=server.url, token="hf_local_secret", dim=8)
        with pytest.raises(EmbeddingError, match="HTTP 400") as err:
            embedder.embed(["x"])
    assert "hf_local_secret" not in str(err.value) and len(server.requests) == 1


def test_only_the_hf_edge_imports_huggingface_hub_or_httpx2_or_reads_hf_token() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "hf":  # the edge: one package
            continue
        text = path.read_text(encoding="utf-8")
        if "HF_TOKEN" in text:
            offenders.append(f"{path.name} mentions HF_TOKEN")
        for node in ast.walk(ast.parse(text)):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [
                f"{path.name} imports {n}"
                for n in names
                if n.split(".")[0] in ("huggingface_hub", "httpx2")
            ]
    assert offenders == []


def _three_streamed_turns(url: str, *, pause_in_first_close: float = 0.0) -> list[str]:
    """Three streamed turns, one ``AsyncInferenceClient`` each over one shared pool.

    ``pause_in_first_close``: the event loop stops that long, 20 ms into closing the first client
    (as a long garbage collection or a busy machine stops it).
    """
    import asyncio
    import time

    from neulora.hf._async_clients import AsyncSessions, async_inference_client

    sessions = AsyncSessions(max_connections=4, shards=1)

    async def run() -> list[str]:
        texts = []
        for turn in range(3):
            client = async_inference_client(HFAuth(None), sessions.get(), url=url)
            try:
                parts = [
                    c.choices[0].delta.content or ""
                    async for c in await client.chat_completion(
                        [{"role": "user", "content": "hi"}], model="m", stream=True
                    )
                ]
                if turn == 0 and pause_in_first_close:
                    asyncio.get_running_loop().call_later(0.02, time.sleep, pause_in_first_close)
            finally:
                await client.close()
            texts.append("".join(parts))
        await sessions.aclose()
        return texts

    return asyncio.run(run())


def test_async_clients_use_the_shared_pool_and_give_finished_streams_back() -> None:
    # What neulora.hf relies on in huggingface_hub (checked for the lowest allowed version too): it
    # reads the pool from ``_async_client``, its default pool's factory and hooks have these names,
    # and it iterates a stream with ``aiter_lines`` (read to the end here, so one connection serves
    # every turn).
    with ChatStubServer() as stub:
        assert _three_streamed_turns(stub.url) == ["Answer from m."] * 3
        assert len({r["client_port"] for r in stub.requests}) == 1


def test_a_pause_of_the_whole_process_while_a_stream_ends_does_not_cost_its_connection() -> None:
    # A garbage collection or a busy machine can stop the process for longer than the grace while
    # the end of the message waits in the socket: that is not the server's silence. A plain
    # ``asyncio.timeout(grace)`` closed the connection then (seen in CI: 2 connections for 3 turns).
    from neulora.hf._async_clients import ReadToTheEnd

    head = (
        b'{"id":"x","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,'
        b'"delta":{"content":"Answer from m."},"finish_reason":"stop"}]}'
    )
    grace = ReadToTheEnd(None).grace
    with ChatStubServer() as stub:
        # the first turn's message ends 0.1 s after its [DONE]; the loop stops 1.5 graces meanwhile
        stub.enqueue(events=[head, b"[DONE]", b"{}"], trickle=0.1)
        turns = _three_streamed_turns(stub.url, pause_in_first_close=grace * 1.5)
        assert turns == ["Answer from m."] * 3
        assert len({r["client_port"] for r in stub.requests}) == 1


def _two_raw_streams(url: str, read: Callable[[Any], Awaitable[list[str]]]) -> list[str]:
    """Two streamed requests through one :class:`ReadToTheEnd` pool, each response read by ``read``.

    What ``read`` leaves running (a task closing the response) finishes before the next request.
    """
    import asyncio

    from neulora.hf._async_clients import AsyncSessions, ReadToTheEnd

    sessions = AsyncSessions(max_connections=4, shards=1)
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}

    async def run() -> list[str]:
        pool = ReadToTheEnd(sessions.get())
        seen = []
        for _ in range(2):
            async with pool.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
                seen += await read(response)
            await asyncio.gather(*(asyncio.all_tasks() - {asyncio.current_task()}))
        await sessions.aclose()
        return seen

    return asyncio.run(run())


def test_a_response_closed_from_another_task_after_done_is_read_to_its_end_first() -> None:
    # huggingface_hub 2.5 closes a streamed response from the finalizer of its line reader, a task
    # of its own, as soon as it stops reading at [DONE]: closed there, before the end of the message
    # came, the connection was lost (CI: 2 connections for 3 turns, 11 for 16).
    import asyncio

    closers = []

    async def read(response: Any) -> list[str]:
        seen = []
        async for line in response.aiter_lines():
            seen.append(line)
            if line.strip() == "data: [DONE]":
                break  # as huggingface_hub stops
        closers.append(asyncio.create_task(response.aclose()))  # as its finalizer closes
        await asyncio.sleep(0)
        return seen

    with ChatStubServer() as stub:
        # each message ends 0.2 s after its [DONE]
        for _ in range(2):
            stub.enqueue(events=[b"{}", b"[DONE]", b"{}"], trickle=0.2)
        assert _two_raw_streams(stub.url, read).count("data: [DONE]") == 2
        assert len({r["client_port"] for r in stub.requests}) == 1


def test_a_stream_read_past_done_to_its_end_is_read_and_closed_as_usual() -> None:
    async def read(response: Any) -> list[str]:
        return [line async for line in response.aiter_lines() if line]

    with ChatStubServer() as stub:
        for _ in range(2):
            stub.enqueue(events=[b"{}", b"[DONE]", b'{"late": true}'])
        assert (
            _two_raw_streams(stub.url, read)
            == [
                "data: {}",
                "data: [DONE]",
                'data: {"late": true}',
            ]
            * 2
        )
        assert len({r["client_port"] for r in stub.requests}) == 1


def test_a_loop_busy_for_good_still_gives_up_on_a_never_ending_message_after_three_graces() -> None:
    # The grace counts the loop's waking time in short ticks (a pause counts for little); a loop
    # whose every turn takes 0.4 s would count its ticks for 4.8 s: three graces of the clock
    # (1.5 s, and the turns it takes to stop) end it all the same.
    import asyncio
    import time

    from neulora.hf._async_clients import _drain

    async def never_ending() -> AsyncIterator[str]:
        while True:
            await asyncio.sleep(0.1)
            yield '{"late": true}'

    async def run() -> float:
        done = asyncio.Event()

        async def busy() -> None:  # the process's other work
            while not done.is_set():
                time.sleep(0.4)
                await asyncio.sleep(0)

        other = asyncio.create_task(busy())
        t0 = time.monotonic()
        await _drain(never_ending(), 0.5)
        elapsed = time.monotonic() - t0
        done.set()
        await other
        return elapsed

    elapsed = asyncio.run(run())
    assert 0.5 <= elapsed < 3.6, f"{elapsed:.1f}s to give up"


def test_the_private_parts_of_huggingface_hub_the_edge_relies_on_are_still_there() -> None:
    # neulora/hf/_auth.py check_provider and neulora/hf/_async_clients.py AsyncSessions._new_pool:
    # no public way exists to list the providers or to build a pool with the hub's own hooks
    from huggingface_hub.inference._providers import PROVIDERS
    from huggingface_hub.utils import _http

    assert "hf-inference" in PROVIDERS and "together" in PROVIDERS
    assert callable(_http.default_async_client_factory) and callable(_http.get_async_session)
    assert hasattr(_http, "_GLOBAL_ASYNC_CLIENT_FACTORY")
    assert callable(_http.async_hf_request_event_hook)
    assert callable(_http.async_hf_response_event_hook)


def test_a_200_that_is_not_vectors_is_an_embedding_error_not_a_raw_one() -> None:
    with ChatStubServer() as server:
        for body in ({"a": 1}, [{"x": 1}]):
            server.enqueue(status=200, body=body)
            embedder = HFInferenceEmbedder(base_url=server.url, token="hf_local_secret", dim=8)
            with pytest.raises(EmbeddingError):
                embedder.embed(["x"])


def test_a_short_token_or_password_is_redacted_too() -> None:
    from neulora._redact import redact
    from neulora.hf import HFAuth

    auth = HFAuth.resolve("abc", environ={})
    assert auth.redact("401: invalid api key abc; Authorization: Bearer abc") == (
        "401: invalid api key ***; Authorization: Bearer ***"
    )
    assert redact("invalid password 'pw'", "pw") == "invalid password '***'"
    assert redact("a pwned account", "pw") == "a pwned account", (
        "a two-letter secret goes as a word"
    )
