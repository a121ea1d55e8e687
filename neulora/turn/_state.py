"""A turn in progress (what each step has decided so far); a conversation's messages as turns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._checks import check_encodable
from ..errors import InvalidInputError, NeuloraError
from ..memory._base import Turn
from ..routing._decision import RouteDecision
from ..store._passage import Passage
from ._answer import Event


@dataclass
class TurnState:
    """A turn in progress (internal to the pipeline): what each step has decided so far."""

    session_id: str
    question: str
    history: list[Turn]
    policy: str | None
    forced: str | None
    k: int
    remember: bool
    started: float
    timings: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("embed", "route", "retrieve", "generate"), 0.0)
    )
    generation: dict[str, Any] = field(default_factory=dict)
    deadline: float | None = None
    where: dict[str, Any] | None = None
    search: str = (
        ""  # what retrieval searches: the question, or the question with the turn it leans on
    )
    decision: RouteDecision | None = None
    passages: tuple[Passage, ...] = ()
    messages: list[dict[str, str]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    earlier: int = 0  # how many turns the dialogue had before this one (memory may keep fewer)


def turns_of(history: Any, error: type[NeuloraError] = InvalidInputError) -> list[Turn]:
    """OpenAI-style messages (``user``/``assistant`` pairs, ``system`` ignored) as Turns."""
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Sequence):
        raise error(
            f"history must be a list of {{'role', 'content'}} messages, got "
            f"{type(history).__name__}"
        )
    turns: list[Turn] = []
    pending: str | None = None
    for i, m in enumerate(history):
        if (
            not isinstance(m, Mapping)
            or not isinstance(m.get("role"), str)
            or not isinstance(m.get("content"), str)
        ):
            raise error(f"history message {i} must be a dict with str 'role' and 'content'")
        check_encodable(m["content"], what=f"history message {i}", error=error)
        if m["role"] == "user":
            pending = m["content"] if pending is None else f"{pending}\n{m['content']}"
        elif m["role"] == "assistant":
            turns.append(Turn(pending or "", m["content"], "direct"))
            pending = None
        elif m["role"] != "system":
            raise error(
                f"history message {i} has role {m['role']!r}: use user, assistant or system"
            )
    return turns
