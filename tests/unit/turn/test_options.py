"""TurnOptions and QuestionRules.

How a turn runs and how a question is read, each option checked once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from neulora import ConfigError, InvalidInputError, Pipeline, TurnOptions
from neulora.embedders import HashingEmbedder
from neulora.testing import FakeRetriever, FakeRouter, FakeStyleClient
from neulora.turn import QuestionRules, Relevance


def make(**parts: Any) -> tuple[Pipeline, FakeStyleClient]:
    embedder = HashingEmbedder(dim=32)
    client = FakeStyleClient("an answer")
    return Pipeline(FakeRouter(embedder), FakeRetriever(embedder), client, **parts), client


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("k", 0, "k must be a positive int, got 0"),
        ("k", True, "k must be a positive int, got True"),
        ("max_tokens", 2.5, "max_tokens must be a positive int"),
        ("temperature", 3, "temperature must be a number between 0 and 2"),
        ("temperature", float("nan"), "temperature must be a number between 0 and 2"),
        ("deadline", -1, "deadline must be a positive number of seconds"),
        ("deadline", float("inf"), "deadline must be a positive number of seconds"),
        ("where", {}, "where must be a non-empty dict"),
        ("policy", "  ", "policy is empty"),
        ("history", "not messages", "history must be a list"),
    ],
)
def test_a_bad_option_is_a_config_error_when_made_and_an_input_error_for_one_call(
    field: str, value: Any, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        TurnOptions(**{field: value})
    pipeline, client = make()
    with pytest.raises(InvalidInputError, match=message):
        pipeline.ask("What is a logarithm?", **{field: value})
    assert client.history == [], "nothing ran"


def test_an_unknown_option_names_the_known_ones() -> None:
    pipeline, _ = make()
    with pytest.raises(
        InvalidInputError, match=r"unknown turn option\(s\) \['top_k'\]: use \['style', 'k'"
    ):
        pipeline.ask("What is a logarithm?", top_k=3)  # type: ignore[call-arg]


def test_a_call_changes_only_what_it_names_and_none_means_the_pipelines_default() -> None:
    defaults = TurnOptions(k=2, max_tokens=99, temperature=0.1, deadline=30.0)
    changed = defaults.changed(style="socratic", k=None, max_tokens=None, deadline=None)
    assert changed == TurnOptions(
        style="socratic", k=2, max_tokens=99, temperature=0.1, deadline=None
    )
    assert repr(TurnOptions(k=3)) == "TurnOptions(k=3)"


def test_the_pipelines_options_reach_the_model_and_a_calls_own_win_for_that_turn() -> None:
    pipeline, client = make(options=TurnOptions(k=1, max_tokens=64, temperature=0.0))
    sent: list[dict[str, Any]] = []
    generate = client.generate

    def recording(style: str, messages: Any, **params: Any) -> Any:
        sent.append(params)
        return generate(style, messages, **params)

    client.generate = recording  # type: ignore[method-assign]
    pipeline.ask("What is a logarithm?")
    pipeline.ask("What is a logarithm?", max_tokens=8, style="direct")
    assert sent[0]["max_tokens"] == 64 and sent[0]["temperature"] == 0.0
    assert sent[1]["max_tokens"] == 8 and client.history[1][0] == "direct"
    assert 0 < sent[0]["deadline"] <= 120.0


def test_a_forced_style_the_router_does_not_know_is_refused_when_made_and_per_call() -> None:
    with pytest.raises(ConfigError, match="unknown style 'chatty'"):
        make(options=TurnOptions(style="chatty"))
    pipeline, _ = make()
    with pytest.raises(InvalidInputError, match="unknown style 'chatty'"):
        pipeline.stream("What is a logarithm?", style="chatty")


def test_relevance_takes_auto_a_floor_a_rule_or_none_and_nothing_else() -> None:
    assert make(relevance=0.3)[0].relevance == Relevance(floor=0.3)
    assert make(relevance=None)[0].relevance == Relevance.none()
    rule = Relevance(floor=0.1, margin=0.2)
    assert make(relevance=rule)[0].relevance is rule
    for bad in ("high", float("nan"), True):
        with pytest.raises(ConfigError, match="relevance must be 'auto', a score floor"):
            make(relevance=bad)


def test_question_rules_are_checked_and_the_limit_applies_to_each_call() -> None:
    with pytest.raises(ConfigError, match="small_talk must be callable"):
        QuestionRules(small_talk="hello")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="route_with_history must be True or False"):
        QuestionRules(route_with_history=1)  # type: ignore[arg-type]
    pipeline, _ = make(rules=QuestionRules(max_chars=10))
    with pytest.raises(InvalidInputError, match="question is 11 characters; the limit is 10"):
        pipeline.ask("x" * 11)


def test_options_and_rules_must_be_their_own_types() -> None:
    with pytest.raises(ConfigError, match="options must be a TurnOptions, got dict"):
        make(options={"k": 2})
    with pytest.raises(ConfigError, match="rules must be a QuestionRules, got dict"):
        make(rules={"max_chars": 10})


def test_ask_asks_for_a_whole_answer_and_the_other_three_stream_as_they_always_did() -> None:
    pipeline, client = make()
    client.enqueue("one two", "one two", "three four", "three four")
    streamed: list[str] = []
    client_stream = client.stream

    def recording_stream(style: str, messages: Any, **params: Any) -> Any:
        streamed.append(style)
        return client_stream(style, messages, **params)

    client.stream = recording_stream  # type: ignore[method-assign]
    whole = pipeline.ask("What is a logarithm?", "s1")
    awhole = asyncio.run(pipeline.aask("What is a logarithm?", "s2"))
    assert whole.text == awhole.text == "one two" and len(streamed) == 1  # aask streamed

    events = [e.kind for e in pipeline.stream("What is a logarithm?", "s3")]

    async def read() -> list[str]:
        return [e.kind async for e in pipeline.astream("What is a logarithm?", "s4")]

    assert events == asyncio.run(read()) == ["route", "passages", "delta", "delta", "done"]
    assert len(streamed) == 3


def test_options_keep_their_own_copies_and_copy_and_pickle_like_any_value() -> None:
    import copy
    import pickle

    where = {"$and": [{"source": "a.md"}]}
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    options = TurnOptions(where=where, history=history)
    where["$and"].append({"page": 2})
    history[0]["content"] = "changed"
    assert options.where == {"$and": [{"source": "a.md"}]}
    assert options.history is not None and options.history[0]["content"] == "hi"
    assert copy.deepcopy(options) == options == pickle.loads(pickle.dumps(options))


def test_options_given_to_from_settings_win_whole(tmp_path: Any) -> None:
    from neulora.settings import Settings

    settings = Settings.load(
        overrides={"backend": "hf", "embedder": "hash", "chroma_path": str(tmp_path), "k": 7},
        environ={"HF_TOKEN": "hf_x"},
    )
    assert Pipeline.from_settings(settings).options.k == 7
    assert Pipeline.from_settings(settings, options=TurnOptions(k=4)).options.k == 4
