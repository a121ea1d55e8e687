"""Checking a pedagogy scorer against human labels it may not have seen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import DatasetError
from ._agreement import AgreementReport, agreement
from ._train import examples

if TYPE_CHECKING:
    from ._records import LabelledDialogue
    from ._scorer import PedagogyScorer


def check_scorer(
    scorer: PedagogyScorer, dialogues: Sequence[LabelledDialogue], *, batch: int = 256
) -> AgreementReport:
    """Each dimension's agreement between ``scorer`` and the human labels of ``dialogues``.

    Only dimensions both the scorer and the data have are reported; ``reveals_answer`` is checked
    against MRBench's ``Revealing_of_the_Answer`` folded to two ways (any "Yes ..." is "Yes").
    """
    items = examples(dialogues)
    if not items:
        raise DatasetError("no labelled tutor response to check the scorer on")
    predicted = []
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        predicted.extend(scorer.score_many([(e.context, e.response) for e in chunk]))
    report = {}
    for dimension in scorer.dimensions:
        labelled = [i for i, e in enumerate(items) if e.label(dimension) is not None]
        if not labelled:
            continue
        truth = [str(items[i].label(dimension)) for i in labelled]
        given: list[str | None] = [predicted[i][dimension].label for i in labelled]
        report[dimension] = agreement(truth, given)
    return AgreementReport(report)
