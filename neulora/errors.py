"""The exception tree of neulora.

Every error neulora raises derives from :class:`NeuloraError`; leaves also inherit the builtin they
refine where callers expect it::

    NeuloraError
    ├── ConfigError (ValueError)        bad settings, bad constructor arguments
    │   ├── RouterFileError             a router file that cannot be used (names the file)
    │   └── ScorerFileError             an unusable pedagogy scorer file (names it)
    ├── InvalidInputError (ValueError)  a question or text that cannot be processed
    ├── EmbeddingError                  an embedder failed (model load, remote call)
    │   └── EmbedderMismatchError       vectors made by one embedder, queried with another
    ├── RetrievalError                  the vector store failed or rejected a request
    │   └── CollectionNotFoundError     a read-only open found no database or collection
    ├── DocumentError                   one file cannot be ingested (the ingest records it)
    ├── DatasetError (ValueError)       an unusable evaluation data file (file, line)
    ├── GenerationError                 the answer could not be generated
    │   ├── AuthError                   401/403: token missing or refused
    │   ├── QuotaError                  402: credits depleted
    │   ├── ModelUnavailableError       404: the model or adapter is not served there
    │   ├── RateLimitError              429 after retries
    │   ├── EndpointTimeoutError        timeouts and 503 "loading" after retries
    │   └── StreamInterruptedError      a stream broke after text came (has the partial)
    ├── SessionError                    memory could not be read or written
    └── UpstreamError                   a third-party exception's redacted copy, chained

Messages never contain a token.
"""

from __future__ import annotations

__all__ = [
    "NeuloraError",
    "ConfigError",
    "RouterFileError",
    "ScorerFileError",
    "InvalidInputError",
    "EmbeddingError",
    "EmbedderMismatchError",
    "RetrievalError",
    "CollectionNotFoundError",
    "DatasetError",
    "DocumentError",
    "GenerationError",
    "AuthError",
    "QuotaError",
    "ModelUnavailableError",
    "RateLimitError",
    "EndpointTimeoutError",
    "StreamInterruptedError",
    "SessionError",
    "UpstreamError",
]


class NeuloraError(Exception):
    """Root of every error neulora raises."""


class ConfigError(NeuloraError, ValueError):
    """Settings or constructor arguments that cannot work."""


class RouterFileError(ConfigError):
    """A router file that is missing, malformed or inconsistent."""


class ScorerFileError(ConfigError):
    """A pedagogy scorer file that is missing, malformed or inconsistent."""


class InvalidInputError(NeuloraError, ValueError):
    """A question or text that neulora refuses to process."""


class EmbeddingError(NeuloraError):
    """An embedder could not produce vectors."""


class EmbedderMismatchError(EmbeddingError, ValueError):
    """A collection or router made with one embedder is used with another.

    ``problem`` says what does not match without saying what to do, so that each caller (the
    library, the settings, the command line) can name its own remedy.
    """

    def __init__(self, message: str, *, problem: str | None = None) -> None:
        super().__init__(message)
        self.problem = problem if problem is not None else message


class RetrievalError(NeuloraError):
    """The vector store failed or rejected a request."""


class CollectionNotFoundError(RetrievalError):
    """A read-only open (``create=False``) found no database or no such collection."""


class DatasetError(NeuloraError, ValueError):
    """An evaluation data file that cannot be used: names the file and the line or item."""


class DocumentError(NeuloraError):
    """One file that cannot be ingested; the ingest records it and goes on with the others."""


class GenerationError(NeuloraError):
    """An answer could not be generated."""


class AuthError(GenerationError):
    """The token is missing, invalid or lacks permission (HTTP 401/403)."""


class QuotaError(GenerationError):
    """The account has no credits left (HTTP 402)."""


class ModelUnavailableError(GenerationError):
    """The model or adapter is not served by the target (HTTP 404)."""


class RateLimitError(GenerationError):
    """Too many requests (HTTP 429), still refused after retries."""


class EndpointTimeoutError(GenerationError):
    """The endpoint timed out or kept loading past the retry deadline."""


class StreamInterruptedError(GenerationError):
    """A stream failed after text had arrived; ``partial_text`` holds what came."""

    def __init__(self, message: str, partial_text: str) -> None:
        super().__init__(message)
        self.partial_text = partial_text


class SessionError(NeuloraError):
    """Conversation memory could not be read or written."""


class UpstreamError(NeuloraError):
    """A third-party exception (huggingface_hub, httpx2) copied without secrets.

    The ``__cause__`` of typed errors.

    Its message is ``module.Type: redacted text``; the original, which may hold the server's
    response, is not kept.
    """
