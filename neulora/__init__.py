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
from .generation import Generation, GenerationStream
from .llm import FallbackChain, HFStyleClient
from .local_llm import TransformersStyleClient
from .memory import FileMemory, InMemoryMemory
from .metrics import RouterReport, StyleScore
from .pipeline import Answer, Event, Pipeline, PolicyAdvisor
from .prompts import PromptSet
from .retrieval import ChromaRetriever, IngestReport, Passage, format_context
from .retry import RetryPolicy
from .router import DEFAULT_STYLES, CentroidRouter, RouteBatch, RouteDecision

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_STYLES",
    "Answer",
    "AuthError",
    "CentroidRouter",
    "ChromaRetriever",
    "ConfigError",
    "EmbedderMismatchError",
    "EmbeddingError",
    "EndpointTimeoutError",
    "Event",
    "FallbackChain",
    "FileMemory",
    "Generation",
    "GenerationError",
    "GenerationStream",
    "HFStyleClient",
    "InMemoryMemory",
    "IngestReport",
    "InvalidInputError",
    "ModelUnavailableError",
    "NeuloraError",
    "Passage",
    "Pipeline",
    "PolicyAdvisor",
    "PromptSet",
    "QuotaError",
    "RateLimitError",
    "RetrievalError",
    "RetryPolicy",
    "RouteBatch",
    "RouteDecision",
    "RouterFileError",
    "RouterReport",
    "SessionError",
    "StreamInterruptedError",
    "StyleScore",
    "TransformersStyleClient",
    "format_context",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
