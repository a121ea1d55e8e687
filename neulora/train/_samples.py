"""Material shipped with neulora: sample course notes and example learner utterances for each style.

Both were written for neulora (Korean and English). The exemplar router trained from the utterances
is the default router of the offline setup (hashing embedder), since the original router file lives
in bge-m3 space.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..embedders._base import Embedder
    from ..routing._centroid import CentroidRouter


def corpus_dir() -> Path:
    """The folder of the sample corpus (Korean and English math notes written for neulora)."""
    return Path(str(resources.files("neulora") / "data" / "corpus"))


def style_examples() -> dict[str, list[str]]:
    """Example learner utterances for each style, written for neulora."""
    text = (resources.files("neulora") / "data" / "style_examples.json").read_text(encoding="utf-8")
    data: dict[str, list[str]] = json.loads(text)
    return data


def exemplar_router(embedder: Embedder) -> CentroidRouter:
    """A nearest-centroid router trained on :func:`style_examples` with ``embedder``."""
    from ._fit import from_examples

    return from_examples(style_examples(), embedder)
