"""HFStyleClient against a real engine (llama.cpp serving SmolLM2 under one alias per style)."""

from __future__ import annotations

import pytest

from neulora.llm import HFStyleClient

from .engine import STYLES

pytestmark = [pytest.mark.slow, pytest.mark.engine]

ASK = [
    {"role": "system", "content": "You are a patient math tutor."},
    {"role": "user", "content": "What is a logarithm? Answer in one sentence."},
]


@pytest.fixture(scope="module")
def client(engine_url: str) -> HFStyleClient:
    return HFStyleClient(
        {s: s for s in STYLES}, base_url=engine_url, token="local-engine", fallback=None
    )


@pytest.mark.parametrize("style", STYLES)
def test_generate_returns_real_text_for_each_style(client: HFStyleClient, style: str) -> None:
    g = client.generate(style, ASK, max_tokens=32, temperature=0.0)
    assert g.model == style and g.style == style
    assert len(g.text.split()) >= 3
    assert g.usage is not None and 0 < g.usage["completion_tokens"] <= 32
    assert g.finish_reason in ("stop", "length")
    assert "<|im_end|>" not in g.text and "<|im_start|>" not in g.text


@pytest.mark.parametrize("style", ["socratic", "feedback"])
def test_stream_returns_real_text_delta_by_delta(client: HFStyleClient, style: str) -> None:
    stream = client.stream(style, ASK, max_tokens=32, temperature=0.0)
    deltas = list(stream)
    assert len(deltas) > 3
    assert "".join(deltas).strip() == stream.result.text
    assert stream.result.model == style and stream.result.finish_reason in ("stop", "length")
    same = client.generate(style, ASK, max_tokens=32, temperature=0.0)
    assert same.text == stream.result.text  # greedy decoding: streaming changes nothing


LONG = [{"role": "user", "content": "Explain logarithms in detail, with three worked examples."}]


def test_an_answer_cut_at_max_tokens_says_length_whole_and_streamed(client: HFStyleClient) -> None:
    whole = client.generate("direct", LONG, max_tokens=6, temperature=0.0)
    assert whole.finish_reason == "length"
    assert (
        whole.usage is not None
        and whole.usage["completion_tokens"] == 6
        and whole.usage["prompt_tokens"] > 5
    )
    stream = client.stream("direct", LONG, max_tokens=6, temperature=0.0)
    assert "".join(stream).strip() == stream.result.text == whole.text
    assert stream.result.finish_reason == "length"
    # llama-cpp-python's server ignores stream_options.include_usage: no count is sent, and none is
    # invented
    assert stream.result.usage is None


def test_an_answer_that_ends_by_itself_says_stop(client: HFStyleClient) -> None:
    short = [{"role": "user", "content": "Reply with the single word OK."}]
    whole = client.generate("direct", short, max_tokens=48, temperature=0.0)
    stream = client.stream("direct", short, max_tokens=48, temperature=0.0)
    list(stream)
    assert whole.finish_reason == stream.result.finish_reason == "stop"
    assert whole.usage is not None and whole.usage["completion_tokens"] < 48
