"""The collaborators a :class:`~neulora.pipeline.Pipeline` is assembled from, as protocols.

Any object with these methods fits; neulora's own classes are one implementation each:

===============  ==============================================  ==============================
protocol         methods                                          neulora's implementations
===============  ==============================================  ==============================
``Embedder``     ``name``, ``dim``, ``embed(texts)``                HashingEmbedder, ...
``Router``       ``route``, ``route_vector``                        CentroidRouter
``Retriever``    ``retrieve``, ``retrieve_vector``                  ChromaRetriever
``StyleClient``  ``generate``, ``stream``                           HFStyleClient, ...
``Memory``       ``get``, ``append``, ``set_policy``, ``reset``      InMemoryMemory, FileMemory
===============  ==============================================  ==============================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .embedders._base import Embedder
from .generation._result import StyleClient
from .memory._base import Memory

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from .routing._decision import RouteDecision
    from .store._passage import Passage

__all__ = ["Embedder", "Memory", "Retriever", "Router", "StyleClient"]


class Router(Protocol):
    """Chooses a teaching style for a question (:class:`~neulora.routing.CentroidRouter` fits)."""

    embedder: Embedder
    styles: tuple[str, ...]

    def route(self, text: str, history: Sequence[Any] | None = None) -> RouteDecision:
        """Embed ``text`` (with ``history``) and decide."""
        ...

    def route_vector(self, vector: NDArray[Any]) -> RouteDecision:
        """Decide for an embedding the caller already has."""
        ...


class Retriever(Protocol):
    """Finds the passages for a question (:class:`~neulora.retrieval.ChromaRetriever` fits)."""

    embedder: Embedder

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        *,
        where: Mapping[str, Any] | None = None,
        min_score: float | None = None,
    ) -> list[Passage]:
        """Embed ``query`` and return the best passages (``where``: a Chroma metadata filter)."""
        ...

    def retrieve_vector(
        self,
        vector: NDArray[Any],
        k: int | None = None,
        *,
        where: Mapping[str, Any] | None = None,
        min_score: float | None = None,
    ) -> list[Passage]:
        """Return the best passages for an embedding the caller already has."""
        ...
