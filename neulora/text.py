"""Validation of user text, shared by the router, the retriever and the pipeline."""

from __future__ import annotations

import re
from typing import Any

from .errors import InvalidInputError

__all__ = ["check_encodable", "check_text", "redact", "redact_url", "truncate"]

_USERINFO = re.compile(r"(://[^\s:/@]*:)\S*@")


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


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of ``secret`` in ``text`` (error bodies may echo request headers)."""
    return text.replace(secret, "***") if secret else text


def redact_url(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` in it replaced by ``***``.

    >>> redact_url("http://user:s3cret@engine:8080/v1")
    'http://user:***@engine:8080/v1'
    """
    # Greedy up to the last "@" of the word: a password may hold "/" or "@"; hiding too much beats too little.
    return _USERINFO.sub(r"\1***@", text)
