"""A router that reads the dialogue's state learns what the text cannot show, keeps it in its file,
and the original router file routes as before."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from neulora.embedders import HashingEmbedder
from neulora.errors import InvalidInputError, RouterFileError
from neulora.router import STYLES, CentroidRouter, DialogueState
from neulora.routing import StateFeatures
from neulora.train import LinearHead
from neulora.train._fit import fit_vectors

# the rule a tutor follows here: the next style depends only on the previous one
NEXT = {"feedback": "scaffolding", "scaffolding": "socratic", "socratic": "direct", None: "direct"}
NEXT["direct"] = "feedback"
WORDS = [
    "add",
    "subtract",
    "apples",
    "spoons",
    "total",
    "left",
    "each",
    "bag",
    "how",
    "many",
    "why",
    "sum",
    "product",
]


def rows(n: int, seed: int) -> tuple[list[str], list[str], list[DialogueState]]:
    rng = random.Random(seed)
    states = [
        DialogueState(rng.choice([*STYLES, None]), turn=rng.randrange(0, 30)) for _ in range(n)
    ]
    texts = [" ".join(rng.choices(WORDS, k=8)) for _ in range(n)]
    return texts, [NEXT[s.previous_style] for s in states], states


@pytest.fixture(scope="module")
def embedder() -> HashingEmbedder:
    return HashingEmbedder(dim=256)


def train(embedder: HashingEmbedder, *, state: bool) -> CentroidRouter:
    texts, labels, states = rows(400, seed=1)
    return fit_vectors(
        embedder.embed(texts),
        labels,
        embedder,
        head=LinearHead(l2=0.003),
        styles=STYLES,
        states=states if state else None,
    )


def test_the_state_head_learns_a_rule_the_text_cannot_show(embedder: HashingEmbedder) -> None:
    texts, labels, states = rows(200, seed=2)
    vectors = embedder.embed(texts)
    with_state = train(embedder, state=True)
    text_only = train(embedder, state=False)
    assert with_state.uses_state and not text_only.uses_state
    chosen = with_state.route_vectors(vectors, states=states).chosen
    assert [STYLES[i] for i in chosen] == labels
    blind = [STYLES[i] for i in text_only.route_vectors(vectors).chosen]
    assert np.mean([a == b for a, b in zip(blind, labels, strict=True)]) < 0.6
    # one question, routed after feedback, then at the start of a dialogue
    decision = with_state.route(texts[0], state=DialogueState("feedback", turn=4))
    assert decision.style == "scaffolding" and "dialogue state" in decision.reason
    assert with_state.route(texts[0]).style == "direct"  # no state: the start of a dialogue


def test_a_state_router_file_round_trips(embedder: HashingEmbedder, tmp_path: Path) -> None:
    router = train(embedder, state=True)
    path = tmp_path / "router.json"
    router.save(path)
    raw = json.loads(path.read_text())
    assert raw["classifier"]["state"] == {"previous": list(STYLES), "turn_cap": 20}
    again = CentroidRouter.from_file(path, embedder)
    assert again.uses_state
    for previous in [*STYLES, None]:
        state = DialogueState(previous, turn=3)
        assert again.route("how many apples", state=state).style == NEXT[previous]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["state"].update(previous=["a", "b", "c", "d"]), "previous styles"),
        (lambda c: c.update(state={"previous": list(STYLES)}), "'state' must hold exactly"),
        (lambda c: [row.pop() for row in c["weight"]], "the state's 6"),
        (lambda c: c.update(extra=1), "got keys"),
    ],
)
def test_a_broken_state_head_is_refused_by_name(
    embedder: HashingEmbedder, tmp_path: Path, change, message: str
) -> None:
    path = tmp_path / "router.json"
    train(embedder, state=True).save(path)
    raw = json.loads(path.read_text())
    change(raw["classifier"])
    path.write_text(json.dumps(raw))
    with pytest.raises(RouterFileError, match=message) as caught:
        CentroidRouter.from_file(path, embedder)
    assert str(path) in str(caught.value)


def test_the_original_router_file_routes_as_before(router_file: Path) -> None:
    router = CentroidRouter.from_file(router_file, HashingEmbedder(dim=1024), allow_mismatch=True)
    assert not router.uses_state
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(20, 1024)).astype(np.float32)
    for v in vectors:
        plain = router.route_vector(v)
        stated = router.route_vector(v, state=DialogueState("feedback", turn=9))
        assert (stated.style, stated.scores) == (plain.style, plain.scores)


def test_states_are_checked(embedder: HashingEmbedder) -> None:
    with pytest.raises(InvalidInputError, match="turn must be an int >= 0"):
        DialogueState("direct", turn=-1)
    with pytest.raises(InvalidInputError, match="not one of this router's"):
        StateFeatures(STYLES).encode([DialogueState("lecture")])
    router = train(embedder, state=True)
    with pytest.raises(InvalidInputError, match="2 vectors but 1 dialogue states"):
        router.route_vectors(embedder.embed(["a b", "c d"]), states=[None])
    from neulora.errors import ConfigError

    with pytest.raises(ConfigError, match="needs a head"):
        fit_vectors(embedder.embed(["a b"] * 4), ["direct"] * 4, embedder, states=[None] * 4)
