"""What every embedder shares.

The :class:`Embedder` protocol, unit-norm output, and :class:`EmbedderSpec`.

The implementations live in :mod:`neulora.embedders` (hashing, transformers),
:mod:`neulora.embedders` (the Inference API) and :mod:`neulora.embedders` (the Universal Sentence
Encoder); this module imports none of them, so each can import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-norm float32 vectors."""

    @property
    def name(self) -> str:
        """A stable identifier of the model (recorded next to the vectors it made)."""
        ...

    @property
    def dim(self) -> int:
        """The vector dimension."""
        ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Return an ``(len(texts), dim)`` float32 array of unit-norm rows."""
        ...


def l2_normalize(matrix: NDArray[Any]) -> NDArray[np.float32]:
    """Return ``matrix`` as float32 with unit-norm rows; all-zero rows stay zero."""
    out = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of str, not a single str: wrap it in a list")
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"embed() item {i} is {type(text).__name__}, not str")
    return items
