"""The pipeline with fake router, retriever and client.

The calls it makes, the prompts it builds, its memory.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from neulora import GenerationError, InvalidInputError, Passage
from neulora.embedders import HashingEmbedder
from neulora.memory import InMemoryMemory, Turn
from neulora.pipeline import Pipeline
from neulora.testing import CountingEmbedder, FakeRetriever, FakeRouter, FakeStyleClient
from neulora.turn import Event, PolicyAdvisor, QuestionRules, SmallTalkRule
from neulora.turn._prompts import POLICY_TAGS, PromptSet

PASSAGES = [
    Passage(
        "로그함수는 지수함수의 역함수이다.",
        0.82,
        "/notes/log.md",
        None,
        "p1",
        {"section": "로그함수"},
    ),
    Passage("등차수열의 합 공식.", 0.41, "/notes/seq.md", 3, "p2", {"section": "수열"}),
    Passage("unrelated", 0.05, "/notes/x.md", None, "p3", {}),
]


def make(
    style: str = "socratic", **kwargs: Any
) -> tuple[Pipeline, CountingEmbedder, FakeRouter, FakeRetriever, FakeStyleClient]:
    embedder = CountingEmbedder(HashingEmbedder(dim=64))
    router = FakeRouter(embedder, style=style)
    retriever = FakeRetriever(embedder, PASSAGES)
    client = FakeStyleClient()
    return Pipeline(router, retriever, client, **kwargs), embedder, router, retriever, client


def test_one_embedding_and_one_llm_call_per_turn() -> None:
    pipeline, embedder, router, retriever, client = make(relevance=0.2)
    answer = pipeline.ask("로그함수의 그래프를 설명해줘", session_id="s1")
    assert embedder.calls == 1
    assert len(client.history) == 1
    assert [c[0] for c in router.calls] == ["route_vector"] and [c[0] for c in retriever.calls] == [
        "retrieve_vector"
    ]
    assert (
        answer.style == "socratic" and answer.route.style == "socratic" and not answer.route.forced
    )
    assert [p.id for p in answer.passages] == ["p1", "p2"]  # relevance by score, not by an LLM
    assert answer.model == "fake-socratic" and answer.session_id == "s1"
    assert set(answer.timings) == {"embed", "route", "retrieve", "generate", "total"}
    assert answer.timings["total"] >= answer.timings["embed"]


def test_different_embedders_each_embed_once() -> None:
    router_embedder = CountingEmbedder(HashingEmbedder(dim=64))
    retriever_embedder = CountingEmbedder(HashingEmbedder(dim=32))
    client = FakeStyleClient()
    pipeline = Pipeline(
        FakeRouter(router_embedder), FakeRetriever(retriever_embedder, PASSAGES), client
    )
    pipeline.ask("수열의 합")
    assert (router_embedder.calls, retriever_embedder.calls, len(client.history)) == (1, 1, 1)


def test_forced_style_is_used_and_said_so() -> None:
    pipeline, embedder, router, _, client = make(style="socratic")
    answer = pipeline.ask("로그함수 정의", style="direct")
    assert answer.style == "direct" and answer.route.forced
    assert answer.route.reason == "style forced by the caller (the router chose socratic)"
    assert client.history[0][0] == "direct"
    # the vector retrieval needs anyway is scored (the learner sees how the question scored): no
    # extra embedding
    assert [c[0] for c in router.calls] == ["route_vector"] and embedder.calls == 1
    assert (
        answer.route.scores and max(answer.route.scores, key=answer.route.scores.get) == "socratic"
    )


def test_small_talk_skips_retrieval_without_an_llm_call() -> None:
    pipeline, embedder, _, retriever, client = make()
    answer = pipeline.ask("안녕하세요!")
    assert answer.passages == () and retriever.calls == []
    assert len(client.history) == 1 and embedder.calls == 1
    assert "No course notes matched" in client.history[0][1][0]["content"]
    rule = SmallTalkRule()
    assert rule("thanks!") and rule("고마워요~") and rule("Hello")
    assert not rule("hello, what is a logarithm?") and not rule("감사합니다 그런데 수열의 합은요?")
    forced_small_talk = make()[0]
    forced_small_talk.ask("thank you", style="direct")
    assert forced_small_talk.router.embedder.calls == 0  # type: ignore[attr-defined]


def test_context_history_and_policy_reach_the_prompt_within_limits() -> None:
    prompts = PromptSet(max_history_turns=3, max_history_chars=100)
    # a plain floor: this test is about prompts
    pipeline, _, _, _, client = make(prompts=prompts, relevance=0.2)
    for i in range(5):
        client.enqueue(f"answer {i}")
        pipeline.ask(f"question {i}", session_id="s")
    pipeline.set_policy("s", POLICY_TAGS[0])
    pipeline.ask("수열의 합은?", session_id="s")
    system, *rest = client.history[-1][1]
    assert (
        "[1] (log.md, 로그함수)" in system["content"]
        and "[2] (seq.md, p. 3, 수열)" in system["content"]
    )
    assert "unrelated" not in system["content"]
    assert f"Teaching policy for this learner: {POLICY_TAGS[0]}" in system["content"]
    assert [m["content"] for m in rest] == [
        "question 2",
        "answer 2",
        "question 3",
        "answer 3",
        "question 4",
        "answer 4",
        "수열의 합은?",
    ]
    pipeline.ask("one more", session_id="s", policy="심화 학습 필요 -> 난이도 높은 질문 유도")
    assert "심화 학습 필요" in client.history[-1][1][0]["content"]
    assert POLICY_TAGS[0] not in client.history[-1][1][0]["content"]


def test_history_character_budget_drops_the_oldest_first() -> None:
    prompts = PromptSet(max_history_turns=6, max_history_chars=2000)
    turns = [Turn("q" * 400, "a" * 400, "direct") for _ in range(4)]
    kept = prompts.history(turns)
    assert len(kept) == 2 and kept == turns[-2:]
    assert sum(len(t.question) + len(t.answer) for t in kept) <= 2000


def test_a_failing_client_leaves_memory_untouched() -> None:
    pipeline, _, _, _, client = make()
    pipeline.ask("first", session_id="s")
    before = pipeline.memory.get("s")
    client.enqueue(GenerationError("endpoint down"))
    with pytest.raises(GenerationError, match="endpoint down"):
        pipeline.ask("second", session_id="s")
    assert pipeline.memory.get("s") == before
    client.enqueue(GenerationError("down again"))
    with pytest.raises(GenerationError):
        list(pipeline.stream("third", session_id="s"))
    assert pipeline.memory.get("s") == before


def test_concurrent_sessions_do_not_mix() -> None:
    pipeline, _, _, _, _ = make()
    errors: list[BaseException] = []

    class EchoClient(FakeStyleClient):
        def _next(self, style: str, messages: Any) -> str:
            return "echo:" + messages[-1]["content"]

    pipeline.client = EchoClient()

    def learner(n: int) -> None:
        try:
            for i in range(15):
                pipeline.ask(f"learner{n} question{i}", session_id=f"learner{n}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=learner, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for n in range(8):
        session = pipeline.memory.get(f"learner{n}")
        assert [t.question for t in session.turns] == [f"learner{n} question{i}" for i in range(15)]
        assert all(t.answer == "echo:" + t.question for t in session.turns)


def test_memory_is_bounded_in_sessions_and_turns() -> None:
    memory = InMemoryMemory(max_sessions=3, max_turns=4)
    pipeline, *_ = make(memory=memory)
    for s in range(5):
        for i in range(6):
            pipeline.ask(f"q{i}", session_id=f"s{s}")
    assert len(memory) == 3 and memory.get("s0").turns == ()
    assert [t.question for t in memory.get("s4").turns] == ["q2", "q3", "q4", "q5"]
    assert memory.get("s4").total_turns == 6


def test_stream_emits_route_and_passages_before_the_first_token() -> None:
    events: list[Event] = []
    pipeline, _, _, _, client = make(on_event=events.append)
    client.enqueue("Let us think step by step.")
    streamed = list(pipeline.stream("로그함수?", session_id="s"))
    kinds = [e.kind for e in streamed]
    assert (
        kinds[:2] == ["route", "passages"] and kinds[-1] == "done" and set(kinds[2:-1]) == {"delta"}
    )
    assert "".join(e.data for e in streamed if e.kind == "delta") == "Let us think step by step."
    answer = streamed[-1].data
    assert answer.text == "Let us think step by step." and answer.style == "socratic"
    assert [e.kind for e in events] == kinds
    assert all(a.elapsed_s <= b.elapsed_s for a, b in itertools.pairwise(events))
    assert pipeline.memory.get("s").turns[-1].answer == "Let us think step by step."


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"question": ""}, InvalidInputError, "question is empty"),
        (
            {"question": "x" * 5000},
            InvalidInputError,
            "question is 5000 characters; the limit is 4000",
        ),
        ({"question": 7}, InvalidInputError, "question must be a str"),
        ({"question": "ok", "style": "lecture"}, InvalidInputError, "unknown style 'lecture'"),
        (
            {"question": "ok", "session_id": 42},
            InvalidInputError,
            "session_id must be a non-empty str",
        ),
        (
            {"question": "ok", "session_id": ""},
            InvalidInputError,
            "session_id must be a non-empty str",
        ),
        ({"question": "ok", "k": 0}, InvalidInputError, "k must be a positive int"),
    ],
)
def test_bad_input_is_refused_and_the_session_untouched(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    pipeline, embedder, _, _, client = make()
    pipeline.ask("warm up", session_id="s")
    before = pipeline.memory.get("s")
    kwargs.setdefault("session_id", "s")
    with pytest.raises(error, match=message):
        pipeline.ask(**kwargs)
    assert pipeline.memory.get("s") == before and len(client.history) == 1 and embedder.calls == 1


def test_policy_advisor_refreshes_every_n_turns_with_one_extra_call() -> None:
    pipeline, _, _, _, client = make()
    pipeline.policy_advisor = PolicyAdvisor(client, every=3)
    for i in range(3):
        client.enqueue(f"answer {i}")
    client.enqueue(f"- {POLICY_TAGS[1]}\n- {POLICY_TAGS[6]}")
    for i in range(3):
        pipeline.ask(f"q{i}", session_id="s")
    assert len(client.history) == 4  # three answers + one advice
    assert pipeline.memory.get("s").policy == f"{POLICY_TAGS[1]}\n{POLICY_TAGS[6]}"
    client.enqueue("a", "b", "c", GenerationError("advisor down"))
    for i in range(3):
        pipeline.ask(f"again {i}", session_id="s")  # never crashes: the previous policy stays
    assert pipeline.memory.get("s").policy == f"{POLICY_TAGS[1]}\n{POLICY_TAGS[6]}"
    assert len(pipeline.memory.get("s").turns) == 6


def test_twelve_turns_never_crash_and_keep_memory_bounded() -> None:
    memory = InMemoryMemory(max_turns=8)
    pipeline, *_ = make(memory=memory)
    pipeline.policy_advisor = PolicyAdvisor(pipeline.client, every=10)
    for i in range(12):
        answer = pipeline.ask(f"turn {i}", session_id="long")
        assert answer.text
    assert len(memory.get("long").turns) == 8 and memory.get("long").total_turns == 12


def test_routing_on_history_is_opt_in_and_costs_one_more_embedding() -> None:
    pipeline, embedder, router, _, _ = make(rules=QuestionRules(route_with_history=True))
    pipeline.ask("first question", session_id="h")
    assert embedder.calls == 1 and router.calls[-1][0] == "route_vector"  # no history yet
    pipeline.ask("and why?", session_id="h")
    assert router.calls[-1] == (
        "route",
        "and why?",
        [
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "fake answer"},
        ],
    )
    assert embedder.calls == 3  # the router embeds its history text, retrieval embeds the question
