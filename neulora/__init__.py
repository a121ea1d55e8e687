"""neulora: style-routed tutoring RAG.

Each learner question is routed to a teaching style (direct, socratic, scaffolding, feedback),
context is retrieved from ChromaDB, and a style-specific model answers.

>>> from neulora import CentroidRouter, ChromaRetriever, HFStyleClient, Pipeline  # doctest: +SKIP
>>> pipeline = Pipeline.from_env()  # doctest: +SKIP
>>> pipeline.ask("로그함수의 성질을 알려줘").style  # doctest: +SKIP

Names load when first used (PEP 562): ``import neulora`` costs almost nothing, ``from neulora import
Pipeline`` loads the pipeline and what it needs.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

from . import _compat

if TYPE_CHECKING:
    from .embedders import HashingEmbedder, HFInferenceEmbedder, TransformersEmbedder
    from .errors import (
        AuthError,
        ConfigError,
        EmbeddingError,
        GenerationError,
        InvalidInputError,
        NeuloraError,
        RateLimitError,
        RetrievalError,
        SessionError,
    )
    from .generation import Generation, TransformersStyleClient
    from .hf import RetryPolicy
    from .llm import FallbackChain, HFStyleClient
    from .memory import FileMemory, InMemoryMemory
    from .pipeline import Pipeline
    from .retrieval import ChromaRetriever
    from .router import CentroidRouter, RouteDecision
    from .settings import Settings
    from .store import Passage
    from .turn import Answer, Event, PromptSet, TurnOptions, TurnStream

__version__ = "0.1.0"

# what a user composes, the results, the error root and the errors users catch: name -> where it
# lives
_NAMES = {
    "Pipeline": "pipeline",
    "TurnOptions": "turn",
    "CentroidRouter": "router",
    "ChromaRetriever": "retrieval",
    "HFStyleClient": "llm",
    "FallbackChain": "llm",
    "TransformersStyleClient": "generation",
    "RetryPolicy": "hf",
    "Settings": "settings",
    "PromptSet": "turn",
    "InMemoryMemory": "memory",
    "FileMemory": "memory",
    "HashingEmbedder": "embedders",
    "TransformersEmbedder": "embedders",
    "HFInferenceEmbedder": "embedders",
    "Answer": "turn",
    "Event": "turn",
    "TurnStream": "turn",
    "Generation": "generation",
    "RouteDecision": "router",
    "Passage": "store",
    "NeuloraError": "errors",
    "ConfigError": "errors",
    "InvalidInputError": "errors",
    "EmbeddingError": "errors",
    "RetrievalError": "errors",
    "GenerationError": "errors",
    "AuthError": "errors",
    "RateLimitError": "errors",
    "SessionError": "errors",
}

# names this package exported before its parts became folders: still there for one release, with a
# warning
_FORMER = {
    "DEFAULT_STYLES": "router",
    "STYLES": "router",
    "CollectionNotFoundError": "errors",
    "DocumentError": "errors",
    "EmbedderMismatchError": "errors",
    "EndpointTimeoutError": "errors",
    "ModelUnavailableError": "errors",
    "QuotaError": "errors",
    "RouterFileError": "errors",
    "StreamInterruptedError": "errors",
    "Embedder": "protocols",
    "Memory": "protocols",
    "Retriever": "protocols",
    "Router": "protocols",
    "StyleClient": "protocols",
    "EmbedderSpec": "embedders",
    "FallbackRule": "router",
    "RouteBatch": "router",
    "GenerationStream": "generation",
    "IngestReport": "store",
    "format_context": "store",
    "PolicyAdvisor": "turn",
    "RouterReport": "train",
    "StyleScore": "train",
}

__all__ = [
    "Pipeline",
    "TurnOptions",
    "CentroidRouter",
    "ChromaRetriever",
    "HFStyleClient",
    "FallbackChain",
    "TransformersStyleClient",
    "RetryPolicy",
    "Settings",
    "PromptSet",
    "InMemoryMemory",
    "FileMemory",
    "HashingEmbedder",
    "TransformersEmbedder",
    "HFInferenceEmbedder",
    "Answer",
    "Event",
    "TurnStream",
    "Generation",
    "RouteDecision",
    "Passage",
    "NeuloraError",
    "ConfigError",
    "InvalidInputError",
    "EmbeddingError",
    "RetrievalError",
    "GenerationError",
    "AuthError",
    "RateLimitError",
    "SessionError",
]


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(import_module(f"{__name__}.{_NAMES[name]}"), name)
        globals()[name] = value  # the next lookup is a plain attribute
        return value
    if name in _FORMER:
        import warnings

        place = f"{__name__}.{_FORMER[name]}"
        warnings.warn(
            f"neulora.{name} is deprecated and goes in the next release: import it from {place}",
            DeprecationWarning,
            stacklevel=2,
        )
        value = getattr(import_module(place), name)
        globals()[name] = value  # warned once: ``from neulora import x`` asks twice
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_NAMES])


_compat.install()
logging.getLogger(__name__).addHandler(logging.NullHandler())
