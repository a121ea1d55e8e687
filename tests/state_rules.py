"""A router that knows one rule the text cannot show: the next style follows from the previous one.

Tests of dialogue-state routing train it on random questions and check that the rule reaches it.
"""

from __future__ import annotations

import random
from typing import Any

from neulora.router import STYLES, CentroidRouter, DialogueState
from neulora.train import LinearHead
from neulora.train._fit import fit_vectors

# after feedback comes scaffolding, and so on; at the start of a dialogue, direct
NEXT: dict[str | None, str] = {
    "feedback": "scaffolding",
    "scaffolding": "socratic",
    "socratic": "direct",
    "direct": "feedback",
    None: "direct",
}


def rule_router(embedder: Any, *, rows: int = 300, seed: int = 0) -> CentroidRouter:
    """A state router trained on ``rows`` random questions labelled by :data:`NEXT`."""
    rng = random.Random(seed)
    states = [
        DialogueState(rng.choice([*STYLES, None]), turn=rng.randrange(20)) for _ in range(rows)
    ]
    texts = [f"question {rng.randrange(1000)} about {rng.choice(['logs', 'sums'])}" for _ in states]
    return fit_vectors(
        embedder.embed(texts),
        [NEXT[s.previous_style] for s in states],
        embedder,
        head=LinearHead(l2=0.003),
        styles=STYLES,
        states=states,
    )
