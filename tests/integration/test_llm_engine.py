"""HFStyleClient against a real engine (llama.cpp serving SmolLM2 under one alias per style)."""

from __future__ import annotations

import pytest

from neulora.llm import HFStyleClient

from .engine import STYLES

pytestmark = [pytest.mark.slow, pytest.mark.engine]

ASK = [{"role": "system", "content": "You are a patient math tutor."},
       {"role": "user", "content": "What is a logarithm? Answer in one sentence."}]


@pytest.fixture(scope="module")
def client(engine_url: str) -> HFStyleClient:
    return HFStyleClient({s: s for s in STYLES}, base_url=engine_url, token="local-engine", fallback=None)


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
