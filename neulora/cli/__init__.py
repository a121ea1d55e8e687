"""The ``neulora`` command."""

from __future__ import annotations

from typing import Any

from ._main import main

__all__ = ["main"]


def __getattr__(name: str) -> Any:
    from .._compat import moved  # names this module held before the parts became folders

    return moved(__name__, name)
