"""Fakes for tests of code that uses neulora: they script their output and record their calls."""

from __future__ import annotations

from typing import Any

from ._fakes import CountingEmbedder, FakeRetriever, FakeRouter, FakeStyleClient
from ._stub_server import ChatStubServer

__all__ = ["ChatStubServer", "CountingEmbedder", "FakeRetriever", "FakeRouter", "FakeStyleClient"]


def __getattr__(name: str) -> Any:
    from .._compat import moved  # names this module held before the parts became folders

    return moved(__name__, name)
