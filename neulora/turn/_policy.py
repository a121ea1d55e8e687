"""The session's teaching policy, refreshed every few turns by one extra LLM call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..generation._result import StyleClient
from ..memory._base import Turn
from ._prompts import POLICY_TAGS

if TYPE_CHECKING:
    pass


@dataclass
class PolicyAdvisor:
    """Refreshes a session's teaching policy every ``every`` turns with one extra LLM call.

    Off unless given.
    """

    client: StyleClient
    every: int = 10
    style: str = "direct"
    tags: Sequence[str] = POLICY_TAGS

    def advise(self, turns: Sequence[Turn]) -> str | None:
        """One or two policy tags for these turns, or None if the model named none."""
        dialogue = "\n".join(
            f"student: {t.question}\ntutor: {t.answer}" for t in turns[-self.every :]
        )
        prompt = (
            "You analyse a tutoring conversation and choose the tutor's policy for the next "
            "turns.\n\n"
            f"Conversation:\n{dialogue}\n\nChoose the one or two most suitable lines below and "
            "copy them "
            "exactly, one per line, with nothing else:\n" + "\n".join(f"- {t}" for t in self.tags)
        )
        text = self.client.generate(
            self.style, [{"role": "user", "content": prompt}], max_tokens=80, temperature=0.0
        ).text
        chosen = [t for t in self.tags if t in text][:2]
        return "\n".join(chosen) or None
