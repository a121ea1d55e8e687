"""Answer checks: a style's contract checked by the shipped scorer, against a real HTTP engine."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neulora import ConfigError, InvalidInputError, Pipeline
from neulora._styles import STYLES
from neulora.embedders import HashingEmbedder
from neulora.errors import ScorerFileError
from neulora.eval import PedagogyScorer
from neulora.llm import HFStyleClient
from neulora.testing import ChatStubServer, FakeRouter
from neulora.turn import AnswerChecks, OnViolation, TurnOptions
from neulora.turn._contract import learner_work, shows_work
from neulora.turn._prompts import INSIST

QUESTION = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in "
    "May. How many clips did Natalia sell altogether in April and May?"
)
REVEALING = "Natalia sold 48 + 24 = 72 clips altogether. The answer is 72."
GUIDING = "What is half of 48? Once you know May's number, what do you do with April's?"
WORK = "I got 48 + 24 = 70 clips"
PRAISE = "Great job! Now let's try another problem."
NAMES_MISTAKE = "Check your addition: 48 + 24 is not 70. What is 8 + 4?"


@pytest.fixture(scope="module")
def checks() -> AnswerChecks:
    """The shipped scorer, read once for the module (its encoder takes about a second)."""
    made = AnswerChecks()
    made.warm_up()
    return made


class Engine:
    """A real OpenAI-compatible server on loopback answering from a list, one reply per request."""

    def __init__(self, server: ChatStubServer) -> None:
        self.server = server
        self.replies: list[str] = []

    def answers(self, *replies: str) -> None:
        self.replies = list(replies)

    def respond(self, body: dict[str, Any]) -> str:
        return self.replies[min(len(self.server.requests), len(self.replies)) - 1]

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.server.requests


@pytest.fixture
def engine() -> Iterator[Engine]:
    holder: list[Engine] = []
    with ChatStubServer(responder=lambda body: holder[0].respond(body)) as server:
        holder.append(Engine(server))
        yield holder[0]


def pipeline(engine: Engine, checks: AnswerChecks | None, style: str = "socratic") -> Pipeline:
    client = HFStyleClient(
        {s: f"model-{s}" for s in STYLES}, token="hf_x", base_url=engine.server.url, fallback=None
    )
    embedder = HashingEmbedder(dim=32)
    return Pipeline(
        FakeRouter(embedder, style=style),
        None,
        client,
        options=TurnOptions(checks=checks, max_tokens=64),
    )


def test_a_socratic_answer_giving_the_result_away_is_flagged(
    engine: Engine, checks: AnswerChecks
) -> None:
    engine.answers(REVEALING)
    answer = pipeline(engine, checks).ask(QUESTION, style="socratic")
    assert answer.violations == ("reveals_answer",)
    assert answer.checks is not None
    assert answer.checks["reveals_answer"]["label"] == "Yes"
    assert set(answer.checks) >= {
        "Mistake_Identification",
        "Mistake_Location",
        "Providing_Guidance",
        "Actionability",
        "Revealing_of_the_Answer",
    }
    for verdict in answer.checks.values():
        assert set(verdict) == {"label", "p"} and 0.0 <= verdict["p"] <= 1.0
    assert answer.revision is None and answer.text == REVEALING  # flag: reported only
    assert len(engine.requests) == 1
    as_json = json.loads(json.dumps(answer.to_dict()))
    assert as_json["violations"] == ["reveals_answer"]
    assert as_json["checks"]["reveals_answer"]["label"] == "Yes"


def test_a_guiding_question_keeps_the_contract(engine: Engine, checks: AnswerChecks) -> None:
    engine.answers(GUIDING)
    answer = pipeline(engine, checks).ask(QUESTION, style="scaffolding")
    assert answer.violations == ()
    assert answer.checks is not None and answer.checks["reveals_answer"]["label"] == "No"


def test_direct_answers_promise_nothing(engine: Engine, checks: AnswerChecks) -> None:
    engine.answers(REVEALING)
    answer = pipeline(engine, checks, style="direct").ask(QUESTION)
    assert answer.style == "direct" and answer.violations == ()
    assert answer.checks is not None and answer.checks["reveals_answer"]["label"] == "Yes"


def test_feedback_must_name_the_mistake_when_the_learner_shows_work(
    engine: Engine, checks: AnswerChecks
) -> None:
    engine.answers(PRAISE)
    assert pipeline(engine, checks).ask(WORK, style="feedback").violations == ("misses_mistake",)
    # work that cannot be worked out here may hold a mistake too
    engine.answers(PRAISE)
    unchecked = pipeline(engine, checks).ask("I think it's 70 clips", style="feedback")
    assert unchecked.violations == ("misses_mistake",)
    engine.answers(NAMES_MISTAKE)
    assert pipeline(engine, checks).ask(WORK, style="feedback").violations == ()
    # right work, or no work shown: no mistake to identify
    engine.answers(PRAISE)
    right = "I got 48 + 24 = 72"
    assert pipeline(engine, checks).ask(right, style="feedback").violations == ()
    assert pipeline(engine, checks).ask(QUESTION, style="feedback").violations == ()


def test_regenerate_asks_once_more_stricter_and_keeps_the_answer_that_keeps_the_contract(
    engine: Engine, checks: AnswerChecks
) -> None:
    engine.answers(REVEALING, GUIDING)
    tutor = pipeline(engine, checks.with_policy("regenerate"))
    answer = tutor.ask(QUESTION, "learner-1", style="socratic")
    assert len(engine.requests) == 2
    first_system = engine.requests[0]["body"]["messages"][0]["content"]
    second_system = engine.requests[1]["body"]["messages"][0]["content"]
    assert INSIST["reveals_answer"] not in first_system
    assert INSIST["reveals_answer"] in second_system
    assert engine.requests[1]["model"] == "model-socratic"
    assert answer.text == GUIDING and answer.violations == () and answer.style == "socratic"
    assert answer.revision is not None
    assert answer.revision.to_dict() == {
        "policy": "regenerate",
        "style": "socratic",
        "violations": ["reveals_answer"],
        "kept": "second",
        "error": None,
    }
    assert "revise" in answer.timings and "check" in answer.timings
    # the session keeps the answer the learner got
    assert tutor.memory.get("learner-1").turns[-1].answer == GUIDING


def test_regenerate_keeps_the_first_answer_when_the_second_is_no_better(
    engine: Engine, checks: AnswerChecks
) -> None:
    engine.answers(REVEALING, REVEALING + " Well done.")
    answer = pipeline(engine, checks.with_policy("regenerate")).ask(QUESTION, style="socratic")
    assert len(engine.requests) == 2
    assert answer.text == REVEALING and answer.violations == ("reveals_answer",)
    assert answer.revision is not None and answer.revision.kept == "first"


def test_regenerate_leaves_a_kept_contract_alone(engine: Engine, checks: AnswerChecks) -> None:
    engine.answers(GUIDING)
    answer = pipeline(engine, checks.with_policy("regenerate")).ask(QUESTION, style="socratic")
    assert len(engine.requests) == 1 and answer.revision is None


def test_fallback_changes_the_style_and_says_so(engine: Engine, checks: AnswerChecks) -> None:
    engine.answers(REVEALING, "72 clips: 48 in April and 24 in May.")
    tutor = pipeline(engine, checks.with_policy("fallback:direct"))
    answer = tutor.ask(QUESTION, "learner-2", style="socratic")
    assert [r["model"] for r in engine.requests] == ["model-socratic", "model-direct"]
    assert answer.style == "direct" and answer.model == "model-direct"
    assert answer.route.style == "socratic" and answer.route.forced  # what was asked stays
    assert answer.violations == ()
    assert answer.revision is not None
    assert answer.revision.policy == "fallback:direct" and answer.revision.style == "socratic"
    assert answer.revision.kept == "second"
    info = answer.to_dict()
    assert info["style"] == "direct" and info["revision"]["policy"] == "fallback:direct"
    assert tutor.memory.get("learner-2").turns[-1].style == "direct"


def test_a_routed_turn_falls_back_too(engine: Engine, checks: AnswerChecks) -> None:
    engine.answers(REVEALING, "72 clips.")
    answer = pipeline(engine, checks.with_policy("fallback:direct")).ask(QUESTION)
    assert len(engine.requests) == 2 and answer.style == "direct" and not answer.route.forced
    assert answer.revision is not None and answer.revision.violations == ("reveals_answer",)


def test_both_answers_are_counted_in_the_usage(engine: Engine, checks: AnswerChecks) -> None:
    engine.answers(REVEALING, GUIDING)
    answer = pipeline(engine, checks.with_policy("regenerate")).ask(QUESTION, style="socratic")
    assert answer.usage is not None and answer.usage["prompt_tokens"] == 10
    one = pipeline(engine, checks).ask(QUESTION, style="direct")
    assert one.usage is not None and one.usage["prompt_tokens"] == 5


class Broken:
    """A scorer whose encoder fails: the checks cannot score anything."""

    dimensions = ("Mistake_Identification", "reveals_answer")

    def score(self, context: Any, response: str) -> Any:
        raise RuntimeError("the encoder fell over")


def test_an_answer_that_cannot_be_checked_is_returned_and_remembered_unchecked(
    engine: Engine,
) -> None:
    engine.answers(REVEALING)
    tutor = pipeline(engine, AnswerChecks(Broken(), on_violation="regenerate"))  # type: ignore[arg-type]
    answer = tutor.ask(QUESTION, "learner-3", style="socratic")
    assert answer.text == REVEALING and answer.checks is None and answer.violations == ()
    assert answer.check_error == "the encoder fell over" and len(engine.requests) == 1
    assert tutor.memory.get("learner-3").turns[-1].answer == REVEALING
    events = list(tutor.stream(QUESTION, "learner-3", style="socratic"))
    assert events[-1].data.check_error == "the encoder fell over"
    assert len(tutor.memory.get("learner-3").turns) == 2


def test_a_scorer_that_cannot_be_read_is_not_read_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from neulora.eval._scorer import PedagogyScorer as Scorer

    tries: list[int] = []

    def load(cls: type, *args: Any, **kwargs: Any) -> Any:
        tries.append(1)
        raise ScorerFileError("the shipped scorer: malformed")

    monkeypatch.setattr(Scorer, "load", classmethod(load))
    broken = AnswerChecks()
    with pytest.raises(ScorerFileError, match="malformed"):
        broken.warm_up()
    with pytest.raises(ConfigError, match="could not be read: the shipped scorer: malformed"):
        broken.check("socratic", QUESTION, [], GUIDING)
    assert tries == [1]


def test_a_second_call_failing_in_any_way_leaves_the_first_flagged(
    engine: Engine, checks: AnswerChecks
) -> None:
    class Flaky(HFStyleClient):
        def generate(self, style: str, messages: Any, **options: Any) -> Any:
            if len(engine.requests) >= 1:
                raise KeyError("a bug in a custom client, token hf_abcdefghijklmnop")
            return super().generate(style, messages, **options)

    engine.answers(REVEALING)
    client = Flaky({s: "m" for s in STYLES}, base_url=engine.server.url, fallback=None)
    tutor = Pipeline(
        FakeRouter(HashingEmbedder(dim=32)),
        None,
        client,
        options=TurnOptions(checks=checks.with_policy("regenerate")),
    )
    answer = tutor.ask(QUESTION)
    assert answer.text == REVEALING and answer.revision is not None
    assert answer.revision.kept == "first" and "a bug in a custom client" in answer.revision.error
    assert "hf_abcdefghijklmnop" not in answer.revision.error


def test_a_failed_second_answer_leaves_the_first_flagged(
    engine: Engine, checks: AnswerChecks
) -> None:
    engine.answers(REVEALING)
    engine.server.enqueue(text=REVEALING)
    engine.server.enqueue(status=402, body={"error": "out of credits"})
    answer = pipeline(engine, checks.with_policy("regenerate")).ask(QUESTION, style="socratic")
    assert answer.text == REVEALING and answer.violations == ("reveals_answer",)
    assert answer.revision is not None and answer.revision.kept == "first"
    assert answer.revision.error is not None and "402" in answer.revision.error


def test_a_streamed_turn_reports_the_violation_in_its_final_event_and_is_not_rewritten(
    engine: Engine, checks: AnswerChecks
) -> None:
    engine.answers(REVEALING, GUIDING)
    tutor = pipeline(engine, checks.with_policy("regenerate"))
    events = list(tutor.stream(QUESTION, style="socratic"))
    assert "".join(e.data for e in events if e.kind == "delta") == REVEALING
    done = events[-1]
    assert done.kind == "done" and done.data.violations == ("reveals_answer",)
    assert done.data.revision is None and len(engine.requests) == 1

    async def streamed() -> Any:
        stream = tutor.astream(QUESTION, style="socratic")
        async for _ in stream:
            pass
        return stream.answer

    engine.server.requests.clear()
    engine.answers(REVEALING, GUIDING)
    answer = asyncio.run(streamed())
    assert answer.violations == ("reveals_answer",) and len(engine.requests) == 1


def test_aask_returns_a_whole_answer_so_the_policy_applies(
    engine: Engine, checks: AnswerChecks
) -> None:
    engine.answers(REVEALING, GUIDING)
    tutor = pipeline(engine, checks.with_policy("regenerate"))
    answer = asyncio.run(tutor.aask(QUESTION, style="socratic"))
    assert len(engine.requests) == 2 and answer.text == GUIDING and answer.violations == ()


def test_a_turn_changes_or_drops_the_checks(engine: Engine, checks: AnswerChecks) -> None:
    engine.answers(REVEALING, GUIDING)
    tutor = pipeline(engine, checks)
    unchecked = tutor.ask(QUESTION, style="socratic", checks=None)
    assert unchecked.checks is None and unchecked.violations == ()
    engine.server.requests.clear()
    regenerated = tutor.ask(QUESTION, style="socratic", checks="regenerate")
    assert regenerated.revision is not None and len(engine.requests) == 2
    with pytest.raises(InvalidInputError, match="fallback:<style>"):
        tutor.ask(QUESTION, checks="sometimes")
    with pytest.raises(InvalidInputError, match="does not know"):
        tutor.ask(QUESTION, checks="fallback:lecture")


def test_checks_are_on_by_default_and_off_by_the_environment(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = HFStyleClient({s: "m" for s in STYLES}, base_url=engine.server.url, fallback=None)
    router = FakeRouter(HashingEmbedder(dim=32))
    monkeypatch.delenv("NEULORA_CHECKS")
    default = Pipeline(router, None, client)
    assert isinstance(default.checks, AnswerChecks)
    assert default.checks.on_violation == OnViolation("flag")
    monkeypatch.setenv("NEULORA_CHECKS", "off")
    engine.answers(REVEALING)
    off = Pipeline(router, None, client).ask(QUESTION)
    assert off.checks is None and off.violations == ()
    monkeypatch.setenv("NEULORA_CHECKS", "fallback:direct")
    assert Pipeline(router, None, client).checks.on_violation == OnViolation("fallback", "direct")
    monkeypatch.setenv("NEULORA_CHECKS", "auto")
    assert Pipeline(router, None, client).checks.on_violation == OnViolation("flag")
    monkeypatch.setenv("NEULORA_CHECKS", "loud")
    with pytest.raises(ConfigError, match="NEULORA_CHECKS"):
        Pipeline(router, None, client)
    with pytest.raises(ConfigError, match="does not know"):
        Pipeline(router, None, client, options=TurnOptions(checks="fallback:lecture"))
    with pytest.raises(ConfigError, match="checks must be off, on"):
        TurnOptions(checks="sometimes")
    assert Pipeline(router, None, client, options=TurnOptions(checks=None)).checks is None


def test_the_settings_carry_the_mode(
    monkeypatch: pytest.MonkeyPatch, engine: Engine, tmp_path: Path
) -> None:
    from neulora.settings import Settings

    assert Settings.load(environ={"NEULORA_CHECKS": " Regenerate "}).checks == "regenerate"
    assert Settings.load(environ={"NEULORA_CHECKS": "on"}).checks == "flag"
    assert Settings.load(environ={"NEULORA_CHECKS": "auto"}).checks is None
    assert Settings.load(environ={}).checks is None
    with pytest.raises(ConfigError, match="NEULORA_CHECKS: the mode must be off, on"):
        Settings.load(environ={"NEULORA_CHECKS": "loudly"})
    with pytest.raises(ConfigError, match="config key 'checks'"):
        Settings.load(file={"checks": 3})
    # a pipeline built from settings reads their environment, not this process's
    monkeypatch.setenv("NEULORA_CHECKS", "regenerate")
    environ = {
        "NEULORA_EMBEDDER": "hash",
        "NEULORA_BACKEND": "hf",
        "NEULORA_BASE_URL": engine.server.url,
        "NEULORA_CHROMA_PATH": str(tmp_path / "db"),
    }
    built = Pipeline.from_settings(Settings.load(environ=environ))
    assert built.checks is not None and str(built.checks.on_violation) == "flag"
    fallback = {**environ, "NEULORA_CHECKS": "fallback:lecture"}
    with pytest.raises(ConfigError, match="'lecture', which the router does not know"):
        Pipeline.from_settings(Settings.load(environ=fallback))


def test_bad_checks_are_refused_with_typed_errors(checks: AnswerChecks) -> None:
    import numpy as np

    with pytest.raises(ConfigError, match="unknown promise"):
        AnswerChecks(checks.scorer, contracts={"socratic": ("be_nice",)})
    for contracts in ({"socratic": 5}, {"socratic": None}, {"socratic": [["x"]]}, [("a", "b")]):
        with pytest.raises(ConfigError, match="contracts"):
            AnswerChecks(checks.scorer, contracts=contracts)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="must be a PedagogyScorer"):
        AnswerChecks("scorer.json")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="checks must be off"):
        TurnOptions(checks=np.array([1, 2]))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="on_violation"):
        OnViolation(np.array([1]))  # type: ignore[arg-type]
    for style in (5, "", "  "):
        with pytest.raises(ConfigError, match="names its style"):
            OnViolation("fallback", style)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="reveal_threshold"):
        AnswerChecks(checks.scorer, reveal_threshold=1.5)
    with pytest.raises(ConfigError, match="not off"):
        AnswerChecks(checks.scorer, on_violation="off")
    with pytest.raises(ConfigError, match="names its style"):
        OnViolation("fallback")
    assert str(OnViolation.parse(" FALLBACK:direct ")) == "fallback:direct"
    assert str(OnViolation.parse("fallback:Hint")) == "fallback:Hint"  # a style keeps its case


def test_checks_copy_and_share_their_scorer(checks: AnswerChecks) -> None:
    import copy
    import pickle

    options = TurnOptions(checks=checks)
    copied = copy.deepcopy(options)
    assert isinstance(copied.checks, AnswerChecks) and copied.checks.scorer is checks.scorer
    unread = pickle.loads(pickle.dumps(AnswerChecks(on_violation="regenerate")))
    assert str(unread.on_violation) == "regenerate"


def test_the_answers_checks_are_read_only_and_the_session_keeps_its_own_copy(
    engine: Engine, checks: AnswerChecks
) -> None:
    engine.answers(REVEALING)
    tutor = pipeline(engine, checks)
    answer = tutor.ask(QUESTION, "learner-4", style="socratic")
    assert answer.checks is not None
    with pytest.raises(TypeError):
        answer.checks["reveals_answer"]["label"] = "No"  # type: ignore[index]
    kept = tutor.memory.get("learner-4").turns[-1].meta
    assert kept is not None and kept["checks"]["reveals_answer"]["label"] == "Yes"
    kept["checks"]["reveals_answer"]["label"] = "No"
    assert answer.checks["reveals_answer"]["label"] == "Yes"


def test_a_custom_style_can_be_the_fallback(engine: Engine, checks: AnswerChecks) -> None:
    styles = ("socratic", "Hint")
    client = HFStyleClient({s: s for s in styles}, base_url=engine.server.url, fallback=None)
    router = FakeRouter(HashingEmbedder(dim=32), styles=styles)
    from dataclasses import replace

    from neulora.turn import PromptSet

    prompts = replace(PromptSet(), system={**PromptSet().system, "Hint": "Give one hint."})
    tutor = Pipeline(
        router,
        None,
        client,
        prompts=prompts,
        options=TurnOptions(checks=checks.with_policy("fallback:Hint")),
    )
    engine.answers(REVEALING, "Think about May.")
    answer = tutor.ask(QUESTION)
    assert answer.style == "Hint" and answer.revision is not None


def test_the_reveal_threshold_is_the_scorer_files_chosen_for_precision() -> None:
    scorer = PedagogyScorer.load()
    chosen = scorer.model.thresholds["reveals_answer"]
    assert chosen.label == "Yes" and chosen.precision >= 0.8 and 0.5 < chosen.recall < 1.0
    assert chosen.n > 500
    assert AnswerChecks(scorer).threshold == chosen.p
    assert AnswerChecks(scorer, reveal_threshold=0.3).threshold == 0.3


def test_a_scorer_without_the_heads_the_checks_read_is_refused(tmp_path: Path) -> None:
    from neulora.eval._scorer import ScorerModel

    raw = json.loads((Path(__file__).parents[3] / "neulora/data/scorer.json").read_text())
    del raw["dimensions"]["reveals_answer"]
    del raw["thresholds"]
    scorer = PedagogyScorer(ScorerModel.from_json(raw, "test"), PedagogyScorer.load().embedder)
    with pytest.raises(ScorerFileError, match="no reveals_answer head"):
        AnswerChecks(scorer)


@pytest.mark.parametrize(
    ("text", "shows"),
    [
        ("I got 48 + 24 = 70", True),
        ("48+24=70?", True),
        ("my answer is 12", True),
        ("I think it's 5 apples", True),
        ("답은 12입니다", True),
        ("12가 나왔어요", True),
        ("What is 48 + 24?", False),
        ("How many clips did she sell in 2 months?", False),
        ("I got confused", False),
        ("로그함수의 그래프는 어떻게 그리나요?", False),
    ],
)
def test_shows_work(text: str, shows: bool) -> None:
    assert shows_work(text) is shows


@pytest.mark.parametrize(
    ("text", "work"),
    [
        ("3 x 4 = 13", "wrong"),
        ("I did 3x4=12 so there are 12", "right"),
        ("$7 + $3 = $11", "wrong"),
        ("£3,650 x 0.1 = £365", "right"),
        ("1,200 + 300 = 1,500", "right"),
        ("1/2 + 1/4 = 3/4", "right"),
        ("1/2 + 1/4 = 2/6", "wrong"),
        ("5 - 7 = -2", "right"),
        ("Solve 2x + 3 = 7", "none"),
        ("48 / 2 = 24 / 2 = 12", "right"),
        ("7 + 5 = 12/24 hours", "right"),
        ("1/12 x $50 = $4.17", "right"),
        ("70/26 = 2.69", "right"),
        ("70/26 = 2.68", "wrong"),
        ("7/2 = 4", "wrong"),
        ("1,5 x 2 = 3", "right"),
        ("2 x = 10", "none"),
    ],
)
def test_learner_arithmetic_is_read_as_written(text: str, work: str) -> None:
    assert learner_work(text) == work


def test_turns_asking_for_checks_of_their_own_read_the_scorer_once(
    engine: Engine, checks: AnswerChecks, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neulora.eval._scorer import PedagogyScorer as Scorer

    loads: list[int] = []

    def load(cls: type, *args: Any, **kwargs: Any) -> PedagogyScorer:
        loads.append(1)
        return checks.scorer

    monkeypatch.setattr(Scorer, "load", classmethod(load))
    tutor = pipeline(engine, None)  # the pipeline's checks are off
    engine.answers(REVEALING)
    assert tutor.ask(QUESTION, style="socratic").checks is None
    assert tutor.ask(QUESTION, style="socratic", checks="flag").violations == ("reveals_answer",)
    assert tutor.ask(QUESTION, style="socratic", checks="on").violations == ("reveals_answer",)
    assert tutor.ask(QUESTION, style="socratic", checks="off").checks is None
    assert loads == [1]
