"""Evaluation: the data a tutor is measured on (MathDial dialogues, MRBench's labelled responses).

Loaders give typed records and refuse a broken file with a :class:`~neulora.errors.DatasetError`
that names the file and the line or item.
"""

from __future__ import annotations

from ._load import load_mathdial, load_mrbench, load_routing_rows
from ._records import (
    LABELS,
    MOVE_STYLES,
    Cut,
    Dialogue,
    DialogueTurn,
    LabelledDialogue,
    RoutingRow,
    TutorResponse,
)

__all__ = [
    "LABELS",
    "MOVE_STYLES",
    "Cut",
    "Dialogue",
    "DialogueTurn",
    "LabelledDialogue",
    "RoutingRow",
    "TutorResponse",
    "load_mathdial",
    "load_mrbench",
    "load_routing_rows",
]
