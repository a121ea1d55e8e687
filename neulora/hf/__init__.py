"""The one edge to Hugging Face.

The token, clients, retries, error mapping, reading chat completions.

Everything neulora says to Hugging Face (or to a server that speaks its protocol) goes through this
package: the embedder of the Inference API, the style client, and the router download. Nothing else
imports ``huggingface_hub`` or ``httpx2``.
"""

from __future__ import annotations

from typing import Any

from ._auth import HFAuth
from ._policy import RetryPolicy

__all__ = ["HFAuth", "RetryPolicy"]


def __getattr__(name: str) -> Any:
    from .._compat import moved  # names this module held before the parts became folders

    return moved(__name__, name)
