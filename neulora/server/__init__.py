"""``neulora serve``: the pipeline behind an OpenAI-compatible API, with a chat page at ``/``."""

from __future__ import annotations

from ._app import GCTuning, ServeOptions, create_app, run

__all__ = ["GCTuning", "ServeOptions", "create_app", "run"]
