"""The style client and the API embedder against a real loopback server that misbehaves.

Secrets in echoed bodies, hanging and trickling servers, malformed 200 responses, odd retry hints,
and a fallback chain where every target fails.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from neulora import GenerationError, HFInferenceEmbedder, NeuloraError
from neulora.errors import EndpointTimeoutError, StreamInterruptedError
from neulora.hf import RetryPolicy
from neulora.llm import FallbackChain, HFStyleClient
from neulora.testing import ChatStubServer

TOKEN = "hf_SECRETabcdefghijklmnop0123"
MODELS = {
    "direct": "direct",
    "socratic": "socratic",
    "scaffolding": "scaffolding",
    "feedback": "feedback",
}
ASK = [{"role": "user", "content": "What is a logarithm?"}]


@pytest.fixture
def server() -> Iterator[ChatStubServer]:
    with ChatStubServer() as s:
        yield s


def quick(**kwargs: Any) -> RetryPolicy:
    return RetryPolicy(**{"backoff": 0.01, "jitter": 0.0, "max_attempts": 2, **kwargs})


def client(server: ChatStubServer, **kwargs: Any) -> HFStyleClient:
    kwargs.setdefault("retry", quick())
    kwargs.setdefault("fallback", FallbackChain(style="direct", base_model="base"))
    return HFStyleClient(MODELS, base_url=server.url, token=TOKEN, **kwargs)


def everything_printed(err: BaseException) -> str:
    chain = []
    seen = err
    # every link, suppressed context included, as a logger or debugger may show them
    while seen is not None:
        chain += [str(seen), repr(seen), *map(str, getattr(seen, "__notes__", []))]
        seen = seen.__cause__ or seen.__context__
    return "".join(traceback.format_exception(err)) + "".join(chain)


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422, 503])
def test_no_token_in_any_traceback_when_the_server_echoes_it(
    server: ChatStubServer, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(8):
        server.enqueue(
            status=status, body={"error": f"Bearer {TOKEN} is not allowed", "echo": TOKEN}
        )
    with pytest.raises(GenerationError) as info:
        client(server).generate("socratic", ASK)
    assert TOKEN not in everything_printed(info.value)
    assert info.value.__cause__ is not None and info.value.__context__ is None
    assert TOKEN not in caplog.text


def test_no_token_in_the_embedders_traceback(server: ChatStubServer) -> None:
    server.enqueue(status=401, body={"error": f"Authorization: Bearer {TOKEN}"})
    emb = HFInferenceEmbedder("BAAI/bge-m3", base_url=server.url, token=TOKEN, retry=quick())
    with pytest.raises(NeuloraError) as info:
        emb.embed(["a question"])
    assert "HTTP 401" in str(info.value) and TOKEN not in everything_printed(info.value)


def test_the_deadline_covers_the_whole_fallback_chain(server: ChatStubServer) -> None:
    for model in ("socratic", "direct", "base"):
        for _ in range(4):
            server.enqueue(model=model, delay=5.0)
    c = client(server, timeout=1.0, retry=quick(deadline=2.0, max_attempts=4))
    t0 = time.monotonic()
    with pytest.raises(EndpointTimeoutError):
        c.generate("socratic", ASK)
    assert time.monotonic() - t0 < 2.8


def test_a_trickling_stream_is_cut_at_the_deadline(server: ChatStubServer) -> None:
    server.enqueue(text=" ".join(["word"] * 60), trickle=0.1)
    stream = client(server, timeout=1.0).stream("socratic", ASK, deadline=1.5)
    t0 = time.monotonic()
    with pytest.raises(StreamInterruptedError) as info:
        for _ in stream:
            pass
    assert time.monotonic() - t0 < 2.3
    assert info.value.partial_text.startswith("word word")


def test_a_trickling_body_is_cut_at_the_deadline(server: ChatStubServer) -> None:
    server.enqueue(
        raw=b'{"choices": [{"message": {"content": "slow"}, "finish_reason": "stop"}]}'
        + b" " * 200,
        trickle=0.05,
    )
    t0 = time.monotonic()
    with pytest.raises(EndpointTimeoutError, match="deadline"):
        client(server, timeout=1.0, fallback=None).generate("socratic", ASK, deadline=1.0)
    assert time.monotonic() - t0 < 1.8


MALFORMED = [
    pytest.param({"raw": b"<html>gateway says hi</html>"}, id="not-json"),
    pytest.param({"body": {"choices": []}}, id="empty-choices"),
    pytest.param({"body": {"choices": "abc"}}, id="choices-not-a-list"),
    pytest.param({"body": {"choices": [{"message": {"content": 5}}]}}, id="content-not-text"),
    pytest.param({"body": [1, 2, 3]}, id="json-array"),
]


@pytest.mark.parametrize("reply", MALFORMED)
def test_a_malformed_200_is_retried_then_falls_back(
    server: ChatStubServer, reply: dict[str, Any]
) -> None:
    server.enqueue(model="socratic", **reply)
    server.enqueue(model="socratic", **reply)
    g = client(server).generate("socratic", ASK)
    assert g.text == "Answer from direct." and g.fallback_from == "socratic:socratic"


BAD_STREAMS = [
    pytest.param([b"{not json"], id="bad-sse-line"),
    pytest.param([b"[1, 2]"], id="sse-json-array"),
    pytest.param([b'{"choices": "x"}'], id="choices-not-a-list"),
    pytest.param([b'{"choices": [{"delta": {"content": 7}}]}'], id="delta-not-text"),
    pytest.param([b"[DONE]"], id="no-finish-reason"),
]


@pytest.mark.parametrize("events", BAD_STREAMS)
def test_a_malformed_stream_is_typed_and_falls_back(
    server: ChatStubServer, events: list[bytes]
) -> None:
    server.enqueue(model="socratic", events=events)
    server.enqueue(model="socratic", events=events)
    stream = client(server).stream("socratic", ASK)
    assert (
        "".join(stream) == "Answer from direct."
        and stream.result.fallback_from == "socratic:socratic"
    )
    server.enqueue(events=events)
    server.enqueue(events=events)
    with pytest.raises(GenerationError, match=r"malformed|could not be read"):
        "".join(client(server, fallback=None).stream("socratic", ASK))


@pytest.mark.parametrize("hint", [b"-5", b"NaN", b'"soon"'])
def test_odd_retry_hints_fall_back_to_our_backoff(server: ChatStubServer, hint: bytes) -> None:
    import json

    server.enqueue(
        status=503, body=json.loads(b'{"error": "loading", "estimated_time": ' + hint + b"}")
    )
    waits: list[float] = []
    c = client(server, retry=quick(sleep=waits.append))
    assert c.generate("socratic", ASK).text == "Answer from socratic."
    # at once or our own backoff, never the odd hint
    assert len(waits) == 1 and 0.0 <= waits[0] <= 0.01


def test_when_every_target_fails_the_error_names_each(server: ChatStubServer) -> None:
    for _ in range(2):
        server.enqueue(model="socratic", status=503, body={"error": "socratic is loading"})
        server.enqueue(model="direct", status=404, body={"error": "no such adapter"})
        server.enqueue(model="base", status=500, body={"error": "base crashed"})
    with pytest.raises(NeuloraError) as info:
        client(server).generate("socratic", ASK)
    message = str(info.value)
    for part in (
        "socratic:socratic: HTTP 503: socratic is loading",
        "direct:direct: HTTP 404: no such adapter",
        "base:base: HTTP 500: base crashed",
        "3 targets failed",
    ):
        assert part in message


OFFLINE = """
import sys
from neulora import NeuloraError
from neulora.llm import HFStyleClient
c = HFStyleClient({"direct": "direct"}, base_url=sys.argv[1], fallback=None)
try:
    c.generate("direct", [{"role": "user", "content": "hi"}])
except NeuloraError as exc:
    print(type(exc).__name__, exc)
"""


def test_hf_hub_offline_with_a_local_server_is_a_typed_error_that_says_what_to_do(
    server: ChatStubServer,
) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE, server.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.startswith("GenerationError") and "unset it" in done.stdout
    assert server.requests == []


def test_a_whole_answer_trickling_past_the_deadline_is_abandoned_not_read_to_its_end() -> None:
    import json
    import threading

    from neulora.errors import EndpointTimeoutError

    body = json.dumps(
        {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "direct",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "slow"},
                    "finish_reason": "stop",
                }
            ],
        }
    ).encode()
    with ChatStubServer() as engine:
        # about 8 s to send, a byte at a time: no read ever times out
        engine.enqueue(raw=body, trickle=0.05)
        slow = HFStyleClient({"direct": "direct"}, base_url=engine.url, token=TOKEN, fallback=None)
        before = {t.ident for t in threading.enumerate()}
        started = time.monotonic()
        with pytest.raises(EndpointTimeoutError):
            slow.generate("direct", [{"role": "user", "content": "hi"}], deadline=1.0)
        assert time.monotonic() - started < 1.8
        wait_until = time.monotonic() + 3
        while (
            engine.disconnects == 0
            or any(
                t.ident not in before for t in threading.enumerate() if t.name.startswith("neulora")
            )
        ) and time.monotonic() < wait_until:
            time.sleep(0.05)
        assert engine.disconnects == 1, "the engine kept sending to a caller that had given up"
        assert not [
            t.name
            for t in threading.enumerate()
            if t.ident not in before and t.name.startswith("neulora")
        ]


def test_only_a_one_call_client_keeps_its_answer_where_close_reaches_it() -> None:
    from neulora.hf import HFAuth
    from neulora.hf._clients import inference_client

    auth = HFAuth.resolve("t")
    with ChatStubServer() as engine:
        # an embedder's: it lives as long as the embedder
        shared = inference_client(auth, url=engine.url)
        # as upstream made it: answers are not kept for a close()
        assert "_inner_post" not in vars(shared)
        # a style call's: closed after its call
        once = inference_client(auth, url=engine.url, one_call=True)
        assert "_inner_post" in vars(once)
        once.chat_completion([{"role": "user", "content": "hi"}], model="direct")
        # the whole answer, where close() reaches it
        assert len(once.exit_stack._exit_callbacks) >= 1
        once.close()
        assert len(once.exit_stack._exit_callbacks) == 0
