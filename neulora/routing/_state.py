"""The dialogue's state, as a router with a state head reads it beside the question vector.

A tutor's next move depends on the dialogue, not only on the learner's last sentence: on MathDial,
the style of the tutor's previous move predicts the next one better than any text router here. A
:class:`DialogueState` carries what a session knows (the style of the tutor message the learner
answered, how many messages came before); :class:`StateFeatures` turns it into the numbers a
trained head reads after the question vector: a one-hot of the previous style (one more column for
"none") and the position, ``min(turn, turn_cap) / turn_cap``.

>>> features = StateFeatures(("direct", "socratic"), turn_cap=10)
>>> features.encode([DialogueState("socratic", turn=5), None]).tolist()
[[0.0, 1.0, 0.0, 0.5], [0.0, 0.0, 1.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import is_int
from ..errors import InvalidInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class DialogueState:
    """What a session knows before routing a learner turn.

    ``previous_style``: the style of the tutor message the learner is answering (None at the start
    or when unknown); ``turn``: how many messages (tutor and learner) the dialogue held before this
    one (MathDial's ``turn_index``, which counts the tutor's greeting; a pipeline, where the learner
    speaks first, counts two per earlier turn); ``last_tutor``: that tutor message's text, where
    known (kept for heads that read it).
    """

    previous_style: str | None = None
    turn: int = 0
    last_tutor: str | None = None

    def __post_init__(self) -> None:
        if self.previous_style is not None and not isinstance(self.previous_style, str):
            raise InvalidInputError(
                f"previous_style must be a style name or None, got {self.previous_style!r}"
            )
        if not is_int(self.turn) or self.turn < 0:
            raise InvalidInputError(f"turn must be an int >= 0, got {self.turn!r}")
        if self.last_tutor is not None and not isinstance(self.last_tutor, str):
            raise InvalidInputError(f"last_tutor must be a str or None, got {self.last_tutor!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"previous_style": self.previous_style, "turn": self.turn}


@dataclass(frozen=True, slots=True)
class StateFeatures:
    """How a :class:`DialogueState` becomes a state head's inputs (see the module docstring)."""

    styles: tuple[str, ...]
    turn_cap: int = 20

    def __post_init__(self) -> None:
        if not self.styles or len(set(self.styles)) != len(self.styles):
            raise ValueError(f"state styles must be distinct names, got {self.styles!r}")
        if not is_int(self.turn_cap) or self.turn_cap < 1:
            raise ValueError(f"turn_cap must be an int >= 1, got {self.turn_cap!r}")

    @property
    def size(self) -> int:
        """How many numbers a state becomes."""
        return len(self.styles) + 2

    def encode(self, states: Sequence[DialogueState | None]) -> NDArray[np.float64]:
        """An ``(len(states), size)`` array; None is the start of a dialogue."""
        out = np.zeros((len(states), self.size), dtype=np.float64)
        for row, given in enumerate(states):
            if given is not None and not isinstance(given, DialogueState):
                raise InvalidInputError(
                    f"a dialogue state must be a DialogueState or None, got {type(given).__name__}"
                )
            state = given or DialogueState()
            previous = state.previous_style
            if previous is not None and previous not in self.styles:
                raise InvalidInputError(
                    f"previous style {previous!r} is not one of this router's {list(self.styles)}"
                )
            column = len(self.styles) if previous is None else self.styles.index(previous)
            out[row, column] = 1.0
            out[row, -1] = min(state.turn, self.turn_cap) / self.turn_cap
        return out

    def to_json(self) -> dict[str, Any]:
        return {"previous": list(self.styles), "turn_cap": self.turn_cap}

    @classmethod
    def from_json(cls, raw: Any) -> StateFeatures:
        if not isinstance(raw, dict) or set(raw) != {"previous", "turn_cap"}:
            raise ValueError("'state' must hold exactly 'previous' (style names) and 'turn_cap'")
        previous = raw["previous"]
        if not isinstance(previous, list) or not all(isinstance(s, str) for s in previous):
            raise ValueError("'state.previous' must be a list of style names")
        return cls(tuple(previous), raw["turn_cap"])
