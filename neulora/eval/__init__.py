"""Evaluation: the data a tutor is measured on, a pedagogy scorer, LLM judges.

- Loaders give typed records and refuse a broken file with a :class:`~neulora.errors.DatasetError`
  that names the file and the line or item (:func:`load_mathdial`, :func:`load_mrbench`,
  :func:`load_routing_rows`).
- :class:`PedagogyScorer` labels a tutor response on MRBench's dimensions offline;
  :func:`train_scorer` makes one, :func:`check_scorer` measures one.
- :class:`LLMJudge` asks a chat model for the same labels; :func:`check_judge` measures it.
"""

from __future__ import annotations

from ._agreement import Agreement, AgreementReport, agreement
from ._check import check_scorer
from ._judge import LLMJudge, Verdict, check_judge
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
from ._scorer import REVEALS, LabelScore, PedagogyScorer, PedagogyScores
from ._train import (
    DIMENSIONS,
    NB_HEADS,
    TREE_HEADS,
    NBHead,
    TrainedScorer,
    TreeHead,
    train_scorer,
)

__all__ = [
    "DIMENSIONS",
    "LABELS",
    "MOVE_STYLES",
    "NB_HEADS",
    "REVEALS",
    "TREE_HEADS",
    "Agreement",
    "AgreementReport",
    "Cut",
    "Dialogue",
    "DialogueTurn",
    "LLMJudge",
    "LabelScore",
    "LabelledDialogue",
    "NBHead",
    "PedagogyScorer",
    "PedagogyScores",
    "RoutingRow",
    "TrainedScorer",
    "TreeHead",
    "TutorResponse",
    "Verdict",
    "agreement",
    "check_judge",
    "check_scorer",
    "load_mathdial",
    "load_mrbench",
    "load_routing_rows",
    "train_scorer",
]
