"""What style clients share (a :class:`Generation`, its stream, cleaning) and the local client."""

from __future__ import annotations

from typing import Any

from ._cleaning import clean_answer
from ._messages import check_messages
from ._result import AsyncGenerationStream, Generation, GenerationStream, StyleClient
from ._transformers import TransformersStyleClient

__all__ = [
    "AsyncGenerationStream",
    "Generation",
    "GenerationStream",
    "StyleClient",
    "TransformersStyleClient",
    "check_messages",
    "clean_answer",
]


def __getattr__(name: str) -> Any:
    from .._compat import moved  # names this module held before the parts became folders

    return moved(__name__, name)
