"""The wire format of ``neulora serve``.

OpenAI-compatible request models, responses, chunks and errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from ..errors import (
    AuthError,
    CollectionNotFoundError,
    ConfigError,
    DocumentError,
    EmbedderMismatchError,
    EndpointTimeoutError,
    InvalidInputError,
    ModelUnavailableError,
    NeuloraError,
    QuotaError,
    RateLimitError,
    SessionError,
)
from ..turn._answer import turn_info

if TYPE_CHECKING:
    from ..routing._decision import RouteDecision
    from ..store._passage import Passage
    from ..turn._answer import Answer


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """What OpenAI clients send; fields neulora does not use (``top_p``, ``n``, ...) are ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = "neulora"
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(default=None, min_length=1, max_length=200)
    max_tokens: int | None = Field(default=None, ge=1, le=32768)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=32768)
    temperature: float | None = Field(default=None, ge=0, le=2)


class RouteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: str | list[str] = Field(min_length=1)
    history: list[dict[str, str]] | None = None


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1)
    k: int = Field(default=5, ge=1, le=100)
    where: dict[str, Any] | None = None
    min_score: float | None = Field(default=None, ge=-1, le=1)


def style_of_model(model: str, styles: Sequence[str]) -> str | None:
    """``neulora`` routes (None); ``neulora/<style>`` forces the style; anything else is a 404."""
    if model == "neulora":
        return None
    if model.startswith("neulora/") and model.split("/", 1)[1] in styles:
        return model.split("/", 1)[1]
    raise ModelUnavailableError(
        f"model {model[:80]!r} does not exist: use 'neulora' or one of "
        f"{[f'neulora/{s}' for s in styles]}"
    )


class Asked(NamedTuple):
    """The learner's question and the messages before it."""

    question: str
    history: list[dict[str, str]]


class ApiError(NamedTuple):
    """An error as the API answers it: the HTTP status and the OpenAI-style body."""

    status: int
    body: dict[str, Any]


def question_and_history(messages: list[Message]) -> Asked:
    """The last message is the learner's question.

    The user and assistant messages before it, the history.
    """
    if messages[-1].role != "user" or not messages[-1].text().strip():
        raise InvalidInputError(
            "the last message must be the learner's question (role 'user', with text)"
        )
    earlier = [
        {"role": m.role, "content": m.text()}
        for m in messages[:-1]
        if m.role in ("user", "assistant")
    ]
    return Asked(messages[-1].text(), earlier)


def neulora_object(
    route: RouteDecision, passages: Sequence[Passage], answer: Answer | None = None
) -> dict[str, Any]:
    """What neulora knows about a turn.

    The route and the sources, then (when done) timings and fallbacks.
    """
    return turn_info(route, passages, answer)


def completion(cid: str, created: int, answer: Answer) -> dict[str, Any]:
    """A ``chat.completion`` for a finished turn."""
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": f"neulora/{answer.style}",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text},
                "finish_reason": answer.finish_reason or "stop",
            }
        ],
        "usage": answer.usage,
        "neulora": neulora_object(answer.route, answer.passages, answer),
    }


def chunk(
    cid: str, created: int, model: str, delta: dict[str, Any], finish: str | None, **extra: Any
) -> dict[str, Any]:
    """One ``chat.completion.chunk``."""
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


_STATUS: list[tuple[type[NeuloraError], int, str, str]] = [
    (AuthError, 401, "authentication_error", "upstream_auth"),
    (QuotaError, 402, "insufficient_quota", "upstream_quota"),
    (ModelUnavailableError, 404, "invalid_request_error", "model_not_found"),
    (RateLimitError, 429, "rate_limit_error", "upstream_rate_limit"),
    (EndpointTimeoutError, 504, "api_error", "upstream_timeout"),
    (EmbedderMismatchError, 500, "api_error", "embedder_mismatch"),
    (InvalidInputError, 400, "invalid_request_error", "invalid_value"),
    (DocumentError, 400, "invalid_request_error", "invalid_document"),
    (CollectionNotFoundError, 404, "invalid_request_error", "collection_not_found"),
    (SessionError, 503, "api_error", "session_store"),
    (ConfigError, 500, "api_error", "server_config"),
]


def api_error(exc: NeuloraError) -> ApiError:
    """The HTTP status and OpenAI-style error body for an error.

    Upstream failures 502 unless named above.
    """
    for kind, status, type_, code in _STATUS:
        if isinstance(exc, kind):
            return ApiError(status, error_body(str(exc), code, type_=type_))
    return ApiError(502, error_body(str(exc), "upstream_error", type_="api_error"))


def error_body(
    message: str, code: str, *, type_: str = "invalid_request_error", param: str | None = None
) -> dict[str, Any]:
    """The OpenAI error JSON every failure of ``neulora serve`` answers with.

    >>> error_body("no such route: /v2", "not_found")["error"]["type"]
    'invalid_request_error'
    """
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
