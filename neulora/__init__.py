"""neulora: style-routed tutoring RAG.

Each learner question is routed to a teaching style (direct, socratic, scaffolding, feedback), context is
retrieved from ChromaDB, and a style-specific model answers.

>>> from neulora import CentroidRouter, ChromaRetriever, HFStyleClient, Pipeline  # doctest: +SKIP
>>> pipeline = Pipeline.from_env()  # doctest: +SKIP
>>> pipeline.ask("로그함수의 성질을 알려줘").style  # doctest: +SKIP
"""

from __future__ import annotations

import logging

from .errors import (
    AuthError,
    ConfigError,
    EmbedderMismatchError,
    EmbeddingError,
    EndpointTimeoutError,
    GenerationError,
    InvalidInputError,
    ModelUnavailableError,
    NeuloraError,
    QuotaError,
    RateLimitError,
    RetrievalError,
    RouterFileError,
    SessionError,
    StreamInterruptedError,
)
from .metrics import RouterReport, StyleScore
from .retrieval import ChromaRetriever, IngestReport, Passage, format_context
from .router import DEFAULT_STYLES, CentroidRouter, RouteBatch, RouteDecision

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_STYLES",
    "AuthError",
    "CentroidRouter",
    "ChromaRetriever",
    "ConfigError",
    "EmbedderMismatchError",
    "EmbeddingError",
    "EndpointTimeoutError",
    "GenerationError",
    "IngestReport",
    "InvalidInputError",
    "ModelUnavailableError",
    "NeuloraError",
    "Passage",
    "QuotaError",
    "RateLimitError",
    "RetrievalError",
    "RouteBatch",
    "RouteDecision",
    "RouterFileError",
    "RouterReport",
    "SessionError",
    "StreamInterruptedError",
    "StyleScore",
    "format_context",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
