"""The pieces of one turn: options, prompts, relevance, follow-ups, the policy, what it returns."""

from __future__ import annotations

from typing import Any

from ._answer import Answer, AsyncTurnStream, Event, TurnStream
from ._contract import CONTRACTS, AnswerChecks, CheckResult, OnViolation, Revision
from ._follow_up import FollowUp
from ._options import QuestionRules, TurnOptions
from ._policy import PolicyAdvisor
from ._prompts import PromptSet
from ._relevance import Relevance
from ._small_talk import SmallTalkRule

__all__ = [
    "CONTRACTS",
    "Answer",
    "AnswerChecks",
    "CheckResult",
    "OnViolation",
    "Revision",
    "AsyncTurnStream",
    "Event",
    "FollowUp",
    "QuestionRules",
    "TurnOptions",
    "PolicyAdvisor",
    "PromptSet",
    "Relevance",
    "SmallTalkRule",
    "TurnStream",
]


def __getattr__(name: str) -> Any:
    from .._compat import moved  # names this module held before the parts became folders

    return moved(__name__, name)
