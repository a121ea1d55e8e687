"""Style routing: a question goes to the best-scoring of four styles, unless the rule falls back.

The router's parts live in :mod:`neulora.routing`; this module is what a user composes.

>>> from neulora.router import STYLES, FallbackRule
>>> STYLES
('direct', 'socratic', 'scaffolding', 'feedback')
>>> FallbackRule(min_margin=0.02).min_margin
0.02
"""

from __future__ import annotations

from typing import Any

from ._styles import DEFAULT_STYLES, STYLES
from .routing import CentroidRouter, DialogueState, FallbackRule, RouteBatch, RouteDecision

__all__ = [
    "DEFAULT_STYLES",
    "STYLES",
    "CentroidRouter",
    "DialogueState",
    "FallbackRule",
    "RouteBatch",
    "RouteDecision",
]


def __getattr__(name: str) -> Any:
    from ._compat import moved

    return moved(__name__, name)
