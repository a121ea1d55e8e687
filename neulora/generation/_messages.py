"""Chat messages as a style client takes them: checked once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._checks import check_encodable
from ..errors import InvalidInputError


def check_messages(messages: Any) -> list[dict[str, str]]:
    """Validate chat messages: a non-empty list of ``{"role", "content"}`` with str values."""
    if not isinstance(messages, Sequence) or isinstance(messages, str) or not messages:
        raise InvalidInputError("messages must be a non-empty list of {'role', 'content'} dicts")
    out = []
    for i, m in enumerate(messages):
        if (
            not isinstance(m, Mapping)
            or not isinstance(m.get("role"), str)
            or not isinstance(m.get("content"), str)
        ):
            raise InvalidInputError(f"message {i} must be a dict with str 'role' and 'content'")
        if m["role"] not in ("system", "user", "assistant"):
            raise InvalidInputError(
                f"message {i} has role {m['role'][:40]!r}: use system, user or assistant"
            )
        # refused here: no engine could be sent it
        check_encodable(m["content"], what=f"message {i}")
        out.append({"role": m["role"], "content": m["content"]})
    return out
