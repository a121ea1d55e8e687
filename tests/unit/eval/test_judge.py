"""LLM judges against an OpenAI-compatible server on loopback: agreement measured as it is, and a
reply that is not the asked JSON counted as a failure, never guessed."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from neulora.eval import LABELS, LLMJudge, check_judge, load_mrbench
from neulora.eval._judge import JUDGED
from neulora.llm import HFStyleClient
from neulora.testing import ChatStubServer

FOUR = ("Mistake_Identification", "Mistake_Location", "Providing_Guidance", "Actionability")


@pytest.fixture(scope="module")
def dialogues(shared_data: Path) -> list:
    return load_mrbench(shared_data / "mrbench" / "mrbench_v3_dev.json")[:12]


def _responses(dialogues: list) -> dict[str, dict[str, str]]:
    return {r.text: dict(r.labels) for d in dialogues for r in d.responses}


def _judged(body: dict) -> str:
    prompt = body["messages"][1]["content"]
    match = re.search(r"Tutor's response to evaluate:\n(.*)\n\nLabel the response", prompt, re.S)
    assert match is not None
    return match.group(1)


def _client(url: str, model: str) -> HFStyleClient:
    return HFStyleClient({"judge": model}, token="hf_x", base_url=url, fallback=None)


def _judge(url: str, model: str) -> LLMJudge:
    return LLMJudge(_client(url, model), dimensions=FOUR)


def _wrong(dimension: str, label: str) -> str:
    return next(x for x in LABELS[dimension] if x != label)


def test_measured_agreement_matches_the_share_the_judge_gets_right(dialogues: list) -> None:
    humans = _responses(dialogues)
    texts = sorted(humans)
    right = {t for i, t in enumerate(texts) if i % 4 != 0}  # three in four

    def respond(body: dict) -> str:
        text = _judged(body)
        labels = humans[text]
        return json.dumps({d: labels[d] if text in right else _wrong(d, labels[d]) for d in FOUR})

    items = sum(len(d.responses) for d in dialogues)
    share = sum(r.text in right for d in dialogues for r in d.responses) / items
    with ChatStubServer(responder=respond) as server:
        judge = _judge(server.url, "judge-model")
        report = asyncio.run(check_judge(judge, dialogues, concurrency=3))
        assert {r["model"] for r in server.requests} == {"judge-model"}
        assert len(server.requests) == items
    for dimension in FOUR:
        a = report[dimension]
        assert (a.n, a.failures) == (items, 0)
        assert a.accuracy == pytest.approx(share)
        assert 0 < a.kappa < 1


def test_a_judge_answering_prose_is_counted_as_failures(dialogues: list) -> None:
    with ChatStubServer(responder=lambda body: "I think the tutor did well overall.") as server:
        judge = _judge(server.url, "m")
        report = asyncio.run(check_judge(judge, dialogues, limit=5))
        assert len(server.requests) == 10  # each asked once more, then given up
        # the second request shows the judge its reply and asks for the JSON again
        again = [r["body"]["messages"] for r in server.requests if len(r["body"]["messages"]) > 2]
        assert len(again) == 5
        assert again[0][-2] == {
            "role": "assistant",
            "content": "I think the tutor did well overall.",
        }
    for dimension in FOUR:
        assert (report[dimension].n, report[dimension].failures) == (0, 5)


def test_a_reply_nested_past_the_parsers_depth_is_a_failure(dialogues: list) -> None:
    with ChatStubServer(responder=lambda body: "[" * 5000) as server:
        verdict = _judge(server.url, "m").judge(dialogues[0].cut, "Check your second step.")
        assert len(server.requests) == 2
    assert not verdict.ok and verdict.attempts == 2 and verdict.failure


def test_one_bad_reply_is_asked_again_and_a_fenced_object_counts(dialogues: list) -> None:
    cut = dialogues[0].cut
    labels = {d: "Yes" for d in FOUR}
    with ChatStubServer() as server:
        server.enqueue(text='{"Mistake_Identification": "Maybe"}')  # not a label string
        server.enqueue(text="```json\n" + json.dumps(labels) + "\n```")
        judge = _judge(server.url, "m")
        verdict = judge.judge(cut, "Check your second step.")
    assert verdict.ok and verdict.attempts == 2 and dict(verdict.labels) == labels


def test_a_failed_call_is_a_failure_with_its_reason(dialogues: list) -> None:
    with ChatStubServer() as server:
        server.enqueue(status=404, body={"error": "Model not found"})
        judge = _judge(server.url, "missing")
        verdict = judge.judge(dialogues[0].cut, "Check your second step.")
    assert not verdict.ok and "call failed" in str(verdict.failure)
    assert "hf_x" not in str(verdict.failure)


def test_the_prompt_carries_the_taxonomy_and_every_label_string(dialogues: list) -> None:
    judge = LLMJudge(HFStyleClient({"judge": "m"}, base_url="http://127.0.0.1:9", fallback=None))
    prompt = judge.messages(dialogues[0].cut, "Check your second step.")[1]["content"]
    for dimension in JUDGED:
        assert f'"{dimension}"' in prompt
        for label in LABELS[dimension]:
            assert f'"{label}"' in prompt
    assert dialogues[0].cut.learner[:40] in prompt


def test_unknown_dimensions_are_refused() -> None:
    from neulora.errors import ConfigError

    with pytest.raises(ConfigError, match="dimensions must be MRBench's"):
        LLMJudge(_client("http://127.0.0.1:9", "m"), dimensions=["Helpfulness"])
    with pytest.raises(ConfigError, match="a target named 'judge'"):
        LLMJudge(HFStyleClient({"direct": "m"}, base_url="http://127.0.0.1:9", fallback=None))
