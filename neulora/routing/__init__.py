"""Routing a question to a teaching style: the router, its decisions, and its file."""

from __future__ import annotations

from ._centroid import CentroidRouter, format_router_input, format_router_inputs
from ._decision import FallbackRule, RouteBatch, RouteDecision
from ._file import RouterSpec, load_spec
from ._state import DialogueState, StateFeatures

__all__ = [
    "CentroidRouter",
    "DialogueState",
    "FallbackRule",
    "RouteBatch",
    "RouteDecision",
    "RouterSpec",
    "StateFeatures",
    "format_router_input",
    "format_router_inputs",
    "load_spec",
]
