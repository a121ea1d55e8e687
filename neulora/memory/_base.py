"""Conversation memory: the protocol, and what it stores (sessions of turns).

>>> from neulora.memory import InMemoryMemory
>>> memory = InMemoryMemory(max_sessions=2, max_turns=3)
>>> _ = memory.append("s1", Turn("question", "answer", "direct"))
>>> len(memory.get("s1").turns)
1
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import InvalidInputError

MAX_SESSION_ID = 200  # characters, as Pipeline accepts


def check_session_id(session_id: Any) -> str:
    """``session_id`` if it is a non-blank ``str`` of at most 200 characters that UTF-8 encodes.

    Every memory applies this one rule (Pipeline checks the same), so a bad id fails the same way
    whatever memory is plugged in, with :class:`InvalidInputError`.
    """
    if (
        not isinstance(session_id, str)
        or not session_id.strip()
        or len(session_id) > MAX_SESSION_ID
    ):
        raise InvalidInputError(
            f"session_id must be a non-empty str of at most {MAX_SESSION_ID} characters, "
            f"got {type(session_id).__name__}"
        )
    try:
        session_id.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"session_id contains a lone surrogate at position {exc.start}: it cannot be stored; "
            "use a plain text id"
        ) from None
    return session_id


@dataclass(frozen=True, slots=True)
class Turn:
    """One exchange: the learner's question, the tutor's answer, and the style used.

    ``meta``: what else was known about the turn (scores, margin, sources, timings, model: the
    ``neulora`` object of ``neulora serve``), kept so that a page reloaded later shows the turn as
    it was first shown.
    """

    question: str
    answer: str
    style: str
    meta: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Session:
    """What memory holds for one session.

    Its turns (oldest first), its teaching policy, turns ever taken.
    """

    turns: tuple[Turn, ...] = ()
    policy: str | None = None
    total_turns: int = 0


class Memory(Protocol):
    """Where sessions live. Implementations must be safe to call from several threads."""

    def get(self, session_id: str) -> Session:
        """The session (an empty one if unknown)."""
        ...

    def append(self, session_id: str, turn: Turn) -> Session:
        """Add a finished turn; returns the session after it."""
        ...

    def set_policy(self, session_id: str, policy: str | None) -> None:
        """Set or clear the session's teaching policy."""
        ...

    def reset(self, session_id: str) -> None:
        """Forget the session."""
        ...


def turn_of(raw: object) -> Turn:
    """A :class:`Turn` from its JSON form, or ValueError saying what is wrong."""
    fields = ("question", "answer", "style")
    if not isinstance(raw, dict) or not all(isinstance(raw.get(f), str) for f in fields):
        raise ValueError(
            f"a turn must be an object with string fields {', '.join(fields)}, found "
            f"{json.dumps(raw)[:80]}"
        )
    meta = raw.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise ValueError(f"a turn's 'meta' must be an object or null, found {type(meta).__name__}")
    return Turn(raw["question"], raw["answer"], raw["style"], meta)
