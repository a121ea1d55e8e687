"""neulora: style-routed tutoring RAG.

Each learner question is routed to a teaching style (direct, socratic, scaffolding, feedback), context is
retrieved from ChromaDB, and a style-specific model answers.

>>> from neulora import CentroidRouter, ChromaRetriever, HFStyleClient, Pipeline  # doctest: +SKIP
>>> pipeline = Pipeline.from_env()  # doctest: +SKIP
>>> pipeline.ask("로그함수의 성질을 알려줘").style  # doctest: +SKIP
"""

from __future__ import annotations

import logging

from .embeddings import EmbedderSpec, HashingEmbedder, HFInferenceEmbedder, TransformersEmbedder
from .errors import (
    AuthError,
    CollectionNotFoundError,
    ConfigError,
    DocumentError,
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
from .pipeline import Answer, Event, Pipeline, PolicyAdvisor, TurnStream
from .prompts import PromptSet
from .protocols import Embedder, Memory, Retriever, Router, StyleClient
from .retrieval import ChromaRetriever, IngestReport, Passage, format_context
from .retry import RetryPolicy
from .router import CentroidRouter, FallbackRule, RouteBatch, RouteDecision
from .settings import Settings
from .styles import DEFAULT_STYLES, STYLES

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_STYLES",
    "STYLES",
    "Answer",
    "AuthError",
    "CentroidRouter",
    "ChromaRetriever",
    "CollectionNotFoundError",
    "ConfigError",
    "DocumentError",
    "Embedder",
    "EmbedderMismatchError",
    "EmbedderSpec",
    "EmbeddingError",
    "EndpointTimeoutError",
    "Event",
    "FallbackChain",
    "FallbackRule",
    "FileMemory",
    "Generation",
    "GenerationError",
    "GenerationStream",
    "HFInferenceEmbedder",
    "HFStyleClient",
    "HashingEmbedder",
    "InMemoryMemory",
    "IngestReport",
    "InvalidInputError",
    "Memory",
    "ModelUnavailableError",
    "NeuloraError",
    "Passage",
    "Pipeline",
    "PolicyAdvisor",
    "PromptSet",
    "QuotaError",
    "RateLimitError",
    "RetrievalError",
    "Retriever",
    "RetryPolicy",
    "RouteBatch",
    "RouteDecision",
    "Router",
    "RouterFileError",
    "RouterReport",
    "SessionError",
    "Settings",
    "StreamInterruptedError",
    "StyleClient",
    "StyleScore",
    "TransformersEmbedder",
    "TransformersStyleClient",
    "TurnStream",
    "format_context",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
