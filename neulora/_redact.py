"""Redaction: secrets out of every message, repr and chained error."""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import (
    UpstreamError,
)


def redacted(exc: BaseException, redact: Callable[[str], str], *, depth: int = 0) -> UpstreamError:
    """A copy of ``exc`` and its causes that holds no secret, to chain typed errors ``from``.

    huggingface_hub's exceptions keep the server's response (a body that may echo the Authorization
    header): chaining them would put the token into every logged traceback, so only their type and
    redacted text travel.
    """
    copy = UpstreamError(f"{type(exc).__module__}.{type(exc).__qualname__}: {redact(str(exc))}")
    inner = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if inner is not None and depth < 8:
        copy.__cause__ = redacted(inner, redact, depth=depth + 1)
    return copy


_USERINFO = re.compile(r"(://[^\s:/@]*:)\S*@")
# what a server or proxy may echo back: an Authorization value, or anything shaped like a Hugging
# Face token
_CREDENTIAL = re.compile(
    r"(\b(?:[Bb]earer|[Bb]asic|[Tt]oken)\s+)[^\s\"',}]{8,}|()\bhf_[A-Za-z0-9]{8,}"
)


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with ``secrets``, credentials and URL passwords as ``***``: the one redaction.

    Each secret goes wherever it appears (one of one or two characters: where it stands as a word),
    as do bearer, basic and token credentials, anything shaped like a Hugging Face token, and the
    password of every URL.

    >>> redact("GET http://u:pw@h/ failed: Bearer hf_abcdefgh1234 (key sekrit)", "sekrit")
    'GET http://u:***@h/ failed: Bearer *** (key ***)'
    """
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
        elif secret:  # one or two characters: as a word only, or every "a" of a message would go
            text = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", "***", text)
    return redact_url(_CREDENTIAL.sub(lambda m: (m.group(1) or "") + "***", text))


def redact_url(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` in it replaced by ``***``.

    >>> redact_url("http://user:s3cret@engine:8080/v1")
    'http://user:***@engine:8080/v1'
    """
    # Greedy up to the last "@" of the word: a password may hold "/" or "@"; hiding too much beats
    # too little.
    return _USERINFO.sub(r"\1***@", text)
