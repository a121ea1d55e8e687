"""HFStyleClient against a real HTTP server on loopback: /v1/chat/completions, scripted faults."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from neulora import AuthError, GenerationError, InvalidInputError, RateLimitError
from neulora.errors import (
    EndpointTimeoutError,
    ModelUnavailableError,
    QuotaError,
    StreamInterruptedError,
)
from neulora.hf import RetryPolicy
from neulora.llm import FallbackChain, HFStyleClient
from neulora.testing import ChatStubServer

TOKEN = "hf_unit_test_secret_0123456789"
MODELS = {
    "direct": "adapter-direct",
    "socratic": "adapter-socratic",
    "scaffolding": "adapter-scaffolding",
    "feedback": "adapter-feedback",
}
ASK = [
    {"role": "system", "content": "You are a tutor."},
    {"role": "user", "content": "What is a logarithm?"},
]


class FakeClock:
    """A clock that advances only when the policy sleeps: waits are measured, never spent."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[ChatStubServer]:
    with ChatStubServer() as s:
        yield s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def client_for(server: ChatStubServer, clock: FakeClock, **kwargs: Any) -> HFStyleClient:
    policy = kwargs.pop("retry", None) or RetryPolicy(
        sleep=clock.sleep, clock=clock, jitter=0.0, backoff=0.5
    )
    kwargs.setdefault("fallback", FallbackChain(style="direct", base_model="base-model"))
    return HFStyleClient(MODELS, base_url=server.url, token=TOKEN, retry=policy, **kwargs)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_every_retryable_status_recovers_within_the_policy(
    server: ChatStubServer, clock: FakeClock, status: int
) -> None:
    server.enqueue(status=status, body={"error": "transient"})
    server.enqueue(status=status, body={"error": "transient"})
    g = client_for(server, clock).generate("socratic", ASK)
    assert g.text == "Answer from adapter-socratic." and g.model == "adapter-socratic"
    assert g.attempts == 3 and g.fallback_from is None
    assert clock.waits == [0.5, 1.0]
    assert [r["model"] for r in server.requests] == ["adapter-socratic"] * 3


def test_connection_errors_and_timeouts_are_retried(clock: FakeClock) -> None:
    with ChatStubServer() as s:
        url = s.url
    policy = RetryPolicy(sleep=clock.sleep, clock=clock, jitter=0.0, max_attempts=3)
    client = HFStyleClient(MODELS, base_url=url, token=TOKEN, retry=policy, fallback=None)
    with pytest.raises(GenerationError, match="ConnectError") as info:
        client.generate("direct", ASK)
    assert len(clock.waits) == 2
    assert TOKEN not in str(info.value)


def test_retry_after_and_estimated_time_are_honoured(
    server: ChatStubServer, clock: FakeClock
) -> None:
    server.enqueue(status=503, body={"error": "Model is loading", "estimated_time": 7.5})
    server.enqueue(status=429, headers={"Retry-After": "3"}, body={"error": "slow down"})
    g = client_for(server, clock).generate("direct", ASK)
    assert clock.waits == [7.5, 3.0] and g.attempts == 3


def test_backoff_grows_exponentially_with_bounded_jitter(
    server: ChatStubServer, clock: FakeClock
) -> None:
    for _ in range(4):
        server.enqueue(status=503, body={"error": "busy"})
    policy = RetryPolicy(sleep=clock.sleep, clock=clock, jitter=0.25, backoff=1.0, max_attempts=5)
    client_for(server, clock, retry=policy).generate("direct", ASK)
    assert len(clock.waits) == 4
    for i, wait in enumerate(clock.waits):
        assert 2**i <= wait <= 2**i * 1.25


def test_a_hint_beyond_the_deadline_gives_up_at_once(
    server: ChatStubServer, clock: FakeClock
) -> None:
    server.enqueue(status=429, headers={"Retry-After": "300"}, body={"error": "quota window"})
    policy = RetryPolicy(sleep=clock.sleep, clock=clock, deadline=60.0)
    with pytest.raises(RateLimitError, match="HTTP 429"):
        client_for(server, clock, retry=policy, fallback=None).generate("direct", ASK)
    assert clock.waits == [] and len(server.requests) == 1


def test_exhausted_retries_raise_endpoint_timeout(server: ChatStubServer, clock: FakeClock) -> None:
    for _ in range(4):
        server.enqueue(status=503, body={"error": "Model is loading", "estimated_time": 1.0})
    with pytest.raises(
        EndpointTimeoutError, match="style 'feedback' via feedback:adapter-feedback"
    ):
        client_for(server, clock, fallback=None).generate("feedback", ASK)
    assert len(server.requests) == 4 and clock.waits == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (400, GenerationError, "HTTP 400"),
        (401, AuthError, "token was refused \\(token from the token argument\\)"),
        (402, QuotaError, "credits are depleted"),
        (403, AuthError, "HTTP 403"),
        (404, ModelUnavailableError, "dedicated Inference Endpoint"),
        (422, GenerationError, "HTTP 422"),
    ],
)
def test_non_retryable_statuses_raise_typed_errors_at_once(
    server: ChatStubServer, clock: FakeClock, status: int, error: type[Exception], message: str
) -> None:
    server.enqueue(status=status, body={"error": f"scripted {status}"})
    with pytest.raises(error, match=message) as info:
        client_for(server, clock, fallback=None).generate("socratic", ASK)
    assert "socratic" in str(info.value) and "adapter-socratic" in str(info.value)
    assert len(server.requests) == 1 and clock.waits == []


@pytest.mark.parametrize("status", [401, 402, 400])
def test_auth_quota_and_bad_requests_never_fall_back(
    server: ChatStubServer, clock: FakeClock, status: int
) -> None:
    server.enqueue(status=status, body={"error": "no"})
    with pytest.raises(GenerationError):
        client_for(server, clock).generate("socratic", ASK)
    assert len(server.requests) == 1


def test_fallback_chain_is_taken_and_recorded(server: ChatStubServer, clock: FakeClock) -> None:
    server.enqueue(model="adapter-socratic", status=404, body={"error": "adapter not loaded"})
    g = client_for(server, clock).generate("socratic", ASK)
    assert g.style == "socratic" and g.model == "adapter-direct"
    assert g.fallback_from == "socratic:adapter-socratic"
    assert g.path == (
        "socratic:adapter-socratic: HTTP 404: adapter not loaded",
        "direct:adapter-direct: ok",
    )
    for _ in range(4):
        server.enqueue(model="adapter-scaffolding", status=503, body={"error": "loading"})
        server.enqueue(model="adapter-direct", status=503, body={"error": "loading"})
    g2 = client_for(server, clock).generate("scaffolding", ASK)
    assert g2.model == "base-model" and g2.fallback_from == "scaffolding:adapter-scaffolding"
    assert len(g2.path) == 3 and g2.path[-1] == "base:base-model: ok" and g2.attempts == 9


def test_fallback_none_disables_the_chain(server: ChatStubServer, clock: FakeClock) -> None:
    server.enqueue(model="adapter-socratic", status=404, body={"error": "gone"})
    with pytest.raises(ModelUnavailableError):
        client_for(server, clock, fallback=None).generate("socratic", ASK)


def test_stream_yields_deltas_and_keeps_the_result(
    server: ChatStubServer, clock: FakeClock
) -> None:
    server.enqueue(text="A logarithm answers the question: what power gives this number?")
    stream = client_for(server, clock).stream("direct", ASK)
    deltas = list(stream)
    assert len(deltas) > 3
    assert "".join(deltas) == "A logarithm answers the question: what power gives this number?"
    assert stream.result.text == "".join(deltas) and stream.result.finish_reason == "stop"
    assert stream.result.usage == {"prompt_tokens": 5, "completion_tokens": 10, "total_tokens": 15}
    assert list(stream) == deltas and len(server.requests) == 1  # a second iteration replays
    assert server.requests[0]["body"]["stream"] is True


def test_stream_failures_before_the_first_token_retry_and_fall_back(
    server: ChatStubServer, clock: FakeClock
) -> None:
    server.enqueue(
        model="adapter-direct", status=503, body={"error": "loading", "estimated_time": 2.0}
    )
    stream = client_for(server, clock).stream("direct", ASK)
    assert stream.text() == "Answer from adapter-direct." and stream.result.attempts == 2
    assert clock.waits == [2.0]
    server.enqueue(model="adapter-feedback", status=404, body={"error": "nope"})
    fb = client_for(server, clock).stream("feedback", ASK)
    assert (
        fb.text() == "Answer from adapter-direct."
        and fb.result.fallback_from == "feedback:adapter-feedback"
    )


def test_a_stream_that_breaks_after_three_tokens_raises_with_the_partial_text(
    server: ChatStubServer, clock: FakeClock
) -> None:
    server.enqueue(text="one two three four five six seven", break_after=3)
    stream = client_for(server, clock).stream("socratic", ASK)
    with pytest.raises(StreamInterruptedError) as info:
        list(stream)
    assert info.value.partial_text == "one two three"
    assert "style 'socratic'" in str(info.value) and len(server.requests) == 1
    with pytest.raises(GenerationError, match="abandoned or failed"):
        list(stream)


def test_the_token_is_sent_but_never_logged_shown_or_raised(
    server: ChatStubServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_for(server, clock, fallback=None)
    client.generate("direct", ASK)
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {TOKEN}"
    # a server that echoes the token
    server.enqueue(status=401, body={"error": f"invalid token {TOKEN}"})
    with pytest.raises(AuthError) as info:
        client.generate("direct", ASK)
    assert "invalid token ***" in str(info.value)
    server.enqueue(status=503, body={"error": f"busy {TOKEN}"})
    client.generate("direct", ASK)
    for text in (str(info.value), repr(info.value), repr(client), caplog.text):
        assert TOKEN not in text
    assert "HTTP Request" in caplog.text or "chat_completion" in caplog.text


def test_an_ambient_token_is_not_sent_to_a_custom_server_but_an_explicit_one_is(
    server: ChatStubServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_ambient_secret")
    client = HFStyleClient(
        MODELS,
        base_url=server.url,
        retry=RetryPolicy(sleep=clock.sleep, clock=clock),
        fallback=None,
    )
    client.generate("direct", ASK)
    # 127.0.0.1 is not Hugging Face
    assert "hf_ambient_secret" not in str(server.requests[-1]["headers"])
    server.enqueue(status=401, body={"error": "bad"})
    with pytest.raises(
        AuthError, match=r"no token was sent: http://127.0.0.1:\d+ is not a Hugging Face host"
    ):
        client.generate("direct", ASK)
    HFStyleClient(MODELS, base_url=server.url, token="hf_given_for_this_server").generate(
        "direct", ASK
    )
    assert server.requests[-1]["headers"]["authorization"] == "Bearer hf_given_for_this_server"
    assert "hf_ambient" not in repr(client) and "hf_given" not in repr(client)


def test_endpoint_urls_per_style_and_scale_up_header(
    server: ChatStubServer, clock: FakeClock
) -> None:
    models = {s: f"{server.url}/endpoints/{s}" for s in MODELS}
    policy = RetryPolicy(sleep=clock.sleep, clock=clock, scale_up_timeout=600)
    HFStyleClient(models, token=TOKEN, retry=policy).generate("scaffolding", ASK)
    request = server.requests[0]
    assert request["path"] == "/endpoints/scaffolding/v1/chat/completions"
    assert request["headers"]["x-scale-up-timeout"] == "600"


def test_answers_are_cleaned_of_template_leftovers(
    server: ChatStubServer, clock: FakeClock
) -> None:
    server.enqueue(text="<|im_start|>assistant\nA log is an exponent.<|im_end|><|endoftext|>")
    assert client_for(server, clock).generate("direct", ASK).text == "A log is an exponent."
    server.enqueue(text="assistant: Think: what power of 2 gives 8?<|im_end|>")
    assert (
        client_for(server, clock).stream("socratic", ASK).text()
        == "Think: what power of 2 gives 8?"
    )


def test_bad_calls_are_refused_before_any_request(server: ChatStubServer, clock: FakeClock) -> None:
    client = client_for(server, clock)
    with pytest.raises(InvalidInputError, match="unknown style 'lecture'"):
        client.generate("lecture", ASK)
    with pytest.raises(InvalidInputError, match="non-empty list"):
        client.generate("direct", [])
    with pytest.raises(InvalidInputError, match="role 'robot'"):
        client.stream("direct", [{"role": "robot", "content": "x"}])
    assert server.requests == []
