"""Argument checks, one module: positive ints, finite numbers, temperatures, user text."""

from __future__ import annotations

import math
from typing import Any

from .errors import ConfigError, InvalidInputError, NeuloraError


def check_text(text: Any, *, what: str = "text") -> str:
    """Return ``text`` if it is a non-blank ``str`` that can be encoded, else raise :class:`InvalidInputError`.

    Refused: non-``str`` values, empty or whitespace-only strings, NUL bytes, and lone surrogates
    (which no tokenizer or HTTP body can encode).
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"{what} must be a str, got {type(text).__name__}")
    if not text.strip():
        raise InvalidInputError(f"{what} is empty or whitespace only")
    if "\x00" in text:
        raise InvalidInputError(f"{what} contains a NUL byte at position {text.index(chr(0))}")
    return check_encodable(text, what=what)


def check_encodable(text: str, *, what: str = "text") -> str:
    """``text`` if UTF-8 can encode it, else :class:`InvalidInputError` naming the lone surrogate's position."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{what} contains a lone surrogate at position {exc.start}") from None
    return text


def truncate(text: str, max_chars: int) -> str:
    """Cut ``text`` to at most ``max_chars`` characters (embedding models read only the first few hundred tokens)."""
    return text if len(text) <= max_chars else text[:max_chars]


def check_positive_int(name: str, value: Any, error: type[NeuloraError] = ConfigError) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise error(f"{name} must be a positive int, got {value!r}")


def check_temperature(value: Any, error: type[NeuloraError] = ConfigError) -> None:
    if not (_number(value) and 0 <= value <= 2):
        raise error(f"temperature must be a number between 0 and 2, got {value!r}")


def check_options(*, k: Any, max_question_chars: Any, max_tokens: Any, min_score: Any, temperature: Any,
                  deadline: Any) -> None:
    """Refuse constructor options that could only fail later, naming the option and what it takes."""
    for name, value in (("k", k), ("max_question_chars", max_question_chars), ("max_tokens", max_tokens)):
        check_positive_int(name, value)
    if min_score is not None and not _number(min_score):
        raise ConfigError(f"min_score must be a number (a cosine similarity floor) or None, got {min_score!r}")
    check_temperature(temperature)
    if deadline is not None and not (_number(deadline) and deadline > 0):
        raise ConfigError(f"deadline must be a positive number of seconds (or None), got {deadline!r}")


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
