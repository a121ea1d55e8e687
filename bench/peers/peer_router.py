"""semantic-router behind one small face, for its 1.x API (IndexedRouter) and its 0.x API.

SemanticRouter.

1.0 renamed SemanticRouter to IndexedRouter, moved the sync call onto a background asyncio loop, and
dropped ``router(vector=...)``; 0.x (last: 0.3.3) is synchronous and routes a vector publicly. Both
index the utterances in a LocalIndex and score a route by aggregating its hits among the ``top_k``
nearest utterances.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import numpy as np
from pydantic import PrivateAttr
from semantic_router import Route
from semantic_router.encoders import DenseEncoder

from neulora.embedders import HashingEmbedder

try:  # 0.x
    from semantic_router.routers import SemanticRouter
except ImportError:  # 1.x
    SemanticRouter = None


class HashDenseEncoder(DenseEncoder):
    """semantic-router encoder returning neulora's HashingEmbedder vectors.

    Rows of one float32 array.
    """

    name: str = "neulora-hash-v1-1024"
    type: str = "local"
    _embedder: HashingEmbedder = PrivateAttr(default_factory=lambda: HashingEmbedder(dim=1024))

    def __call__(self, docs: list[Any]) -> list[Any]:
        # a list of numpy rows: what its LocalIndex and query path consume without a .tolist() round
        # trip
        return list(self._embedder.embed([str(d) for d in docs]))


class PeerRouter:
    """Route text or a vector to a style with semantic-router, as its installed version allows."""

    def __init__(self, examples: dict[str, list[str]]) -> None:
        routes = [Route(name=s, utterances=u) for s, u in examples.items()]
        self.version = version("semantic-router")
        if SemanticRouter is not None:
            self.router = SemanticRouter(
                encoder=HashDenseEncoder(), routes=routes, auto_sync="local"
            )
            self.cls = "semantic_router.routers.SemanticRouter"
            self.aggregation = str(self.router.aggregation)
            self.vector_path = "public: router(vector=v)"
            self.batched_path = (
                "public: one encoder call, then router(vector=v) per text (as its evaluate() does)"
            )
        else:
            from semantic_router import IndexedRouter
            from semantic_router.routers.indexed import _AGG

            self.router = IndexedRouter(encoder=HashDenseEncoder(), routes=routes)
            self.cls = "semantic_router.IndexedRouter (1.x successor of SemanticRouter)"
            self.aggregation = next(
                (n for n, fn in _AGG.items() if fn is self.router.aggregate), "custom"
            )
            self.vector_path = (
                "private: router._choose(run(router._query(v, None)), 1, None) "
                "(1.0 "
                "dropped vector=)"
            )
            self.batched_path = (
                "private: run(router._scores_many(texts)), the path its fit()/evaluate() use"
            )
        self.top_k = int(self.router.top_k)

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "class": self.cls,
            "vector_path": self.vector_path,
            "batched_path": self.batched_path,
            "aggregation_method": self.aggregation,
            "top_k": self.top_k,
            "aggregation": f"the top_k={self.top_k} utterances nearest by cosine; a route "
            "scores the "
            f"{self.aggregation} of its hits among them (0 without a hit); the best route wins",
        }

    def route(self, text: str) -> str | None:
        return self.router(text).name

    def route_vector(self, vec: np.ndarray) -> str | None:
        if SemanticRouter is not None:
            return self.router(vector=vec).name
        from semantic_router.routers.base import run

        return self.router._choose(run(self.router._query(vec, None)), 1, None).name

    def route_batched(self, texts: list[str]) -> list[str | None]:
        if SemanticRouter is not None:
            return [self.router(vector=v).name for v in self.router.encoder(texts)]
        from semantic_router.routers.base import run

        return [self.router._choose(s, 1, None).name for s in run(self.router._scores_many(texts))]

    def index_query(self, vec: np.ndarray) -> Any:
        """The numpy core alone: cosine against every utterance, top_k.

        No aggregation, no dispatch.
        """
        return self.router.index.query(vector=vec, top_k=self.top_k)

    def batch_calls(self, texts: list[str]) -> dict[str, Callable[[Any], Any]]:
        return {
            "peer_call_loop": lambda _: [self.route(t) for t in texts],
            "peer_batched": lambda _: self.route_batched(texts),
        }
