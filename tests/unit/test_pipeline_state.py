"""The pipeline hands a state router the real previous style from its memory, sync and async."""

from __future__ import annotations

import asyncio

import pytest

from neulora import Pipeline
from neulora.embedders import HashingEmbedder
from neulora.router import STYLES, DialogueState
from neulora.testing import FakeRetriever, FakeStyleClient

from ..state_rules import rule_router


@pytest.fixture(scope="module")
def pipeline_parts():
    embedder = HashingEmbedder(dim=256)
    return rule_router(embedder), embedder


def build(parts) -> Pipeline:
    router, embedder = parts
    return Pipeline(router, FakeRetriever(embedder), FakeStyleClient("Why do you think so?"))


def test_sync_turns_route_on_the_previous_answers_style(pipeline_parts) -> None:
    pipeline = build(pipeline_parts)
    first = pipeline.ask("question 1 about sums", "learner")
    assert first.style == "direct"  # the start of a dialogue
    chain = [first.style]
    for _ in range(4):
        chain.append(pipeline.ask("question 2 about logs", "learner").style)
    assert chain == ["direct", "feedback", "scaffolding", "socratic", "direct"]
    forced = pipeline.ask("question 3 about logs", "other", style="feedback")
    assert forced.style == "feedback"
    assert pipeline.ask("question 4 about logs", "other").style == "scaffolding"


def test_async_turns_do_the_same(pipeline_parts) -> None:
    pipeline = build(pipeline_parts)

    async def dialogue() -> list[str]:
        await pipeline.aask("question 5 about sums", "a", style="scaffolding")
        second = await pipeline.aask("question 6 about sums", "a")
        stream = pipeline.astream("question 7 about sums", "a")
        async for _ in stream:
            pass
        return [second.style, stream.answer.style]

    assert asyncio.run(dialogue()) == ["socratic", "direct"]


def test_a_turn_with_its_own_history_has_no_known_previous_style(pipeline_parts) -> None:
    pipeline = build(pipeline_parts)
    history = [
        {"role": "user", "content": "question 8 about logs"},
        {"role": "assistant", "content": "What do you notice?"},
    ]
    assert pipeline.ask("question 9 about logs", history=history).style == "direct"


def test_a_trimmed_memory_still_counts_every_turn(pipeline_parts) -> None:
    from neulora.memory import InMemoryMemory

    router, embedder = pipeline_parts
    seen: list[DialogueState] = []

    class Watching:
        uses_state = True
        styles = router.styles
        embedder = router.embedder

        def route(self, text, history=None, *, state=None):
            seen.append(state)
            return router.route(text, history, state=state)

        def route_vector(self, vector, *, state=None):
            seen.append(state)
            return router.route_vector(vector, state=state)

    pipeline = Pipeline(
        Watching(),
        FakeRetriever(embedder),
        FakeStyleClient("Why?"),
        memory=InMemoryMemory(max_turns=2),
    )
    for _ in range(5):
        pipeline.ask("question 10 about sums", "trimmed")
    assert [s.turn for s in seen] == [0, 2, 4, 6, 8]
    assert seen[0].previous_style is None and seen[1].previous_style == "direct"


def test_a_router_that_reads_state_must_take_it() -> None:
    from neulora.errors import ConfigError, InvalidInputError

    embedder = HashingEmbedder(dim=32)

    class Claims:
        uses_state = True
        styles = STYLES

        def route(self, text, history=None):
            raise AssertionError("never called")

        def route_vector(self, vector):
            raise AssertionError("never called")

    with pytest.raises(ConfigError, match="takes no state= keyword"):
        Pipeline(Claims(), FakeRetriever(embedder), FakeStyleClient("Why?"))
    from neulora.routing import StateFeatures

    with pytest.raises(InvalidInputError, match="must be a DialogueState or None, got dict"):
        StateFeatures(STYLES).encode([{"previous_style": "direct"}])
