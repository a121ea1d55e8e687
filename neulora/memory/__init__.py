"""Conversation memory: the protocol, and memory in the process, in files and in Redis."""

from __future__ import annotations

from typing import Any

from ._base import Memory, Session, Turn
from ._file import FileMemory
from ._inprocess import InMemoryMemory
from ._redis import RedisMemory

__all__ = ["FileMemory", "InMemoryMemory", "Memory", "RedisMemory", "Session", "Turn"]


def __getattr__(name: str) -> Any:
    from .._compat import moved  # names this module held before the parts became folders

    return moved(__name__, name)
