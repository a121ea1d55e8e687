"""The token: where it comes from, where it may go, and how it is kept out of every message.

Everything neulora says to Hugging Face (or to a server that speaks its protocol) goes through here:
the embedder of the Inference API, the style client, and the router download. Nothing else imports
``huggingface_hub`` or ``httpx2``.

The token is looked up in one order: the ``token`` argument, ``HF_TOKEN``, ``HF_API_KEY`` (an alias
kept for the original app), then the token huggingface_hub itself finds (``hf auth login``). It is
sent to Hugging Face hosts (the providers' router, ``*.huggingface.co``, ``*.hf.space``, Inference
Endpoints) and to a custom URL only when it was given explicitly as the ``token`` argument: an
ambient ``HF_TOKEN`` never reaches a server you merely named in ``base_url``.

>>> auth = HFAuth.resolve("hf_example", environ={})
>>> auth
HFAuth(token from the token argument)
>>> auth.redact("echoed: Bearer hf_example")
'echoed: Bearer ***'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .._checks import check_seconds
from .._redact import redact, redact_url
from ..errors import (
    ConfigError,
)

_HF_HOST_SUFFIXES = ("huggingface.co", "hf.co", "hf.space", "huggingface.cloud")


def is_hf_host(url: str) -> bool:
    """Whether ``url`` points at a Hugging Face host.

    The Hub, its router, Spaces, Inference Endpoints.
    """
    host = (urlsplit(url).hostname or "").lower()
    return any(host == s or host.endswith("." + s) for s in _HF_HOST_SUFFIXES)


@dataclass(frozen=True)
class HFAuth:
    """A resolved token, where it came from, and whether it was given explicitly (repr hides it)."""

    token: str | None = field(default=None, repr=False)
    source: str = "none"
    explicit: bool = False

    @classmethod
    def resolve(
        cls, token: str | None = None, *, environ: Mapping[str, str] | None = None
    ) -> HFAuth:
        """The token: the argument, ``HF_TOKEN``, ``HF_API_KEY``, then huggingface_hub's login."""
        if token is not None:
            if not isinstance(token, str) or not token.strip():
                raise ConfigError("token must be a non-empty str")
            return cls(token.strip(), "the token argument", explicit=True)
        env = os.environ if environ is None else environ
        for var in ("HF_TOKEN", "HF_API_KEY"):
            if env.get(var, "").strip():
                return cls(env[var].strip(), var)
        if environ is None:  # the saved login is part of the real environment only
            from huggingface_hub import get_token

            saved = get_token()
            if saved:
                return cls(saved, "the saved login (hf auth login)")
        return cls()

    def __repr__(self) -> str:
        return f"HFAuth(token from {self.source})" if self.token else "HFAuth(no token)"

    def for_url(self, url: str | None) -> str | None:
        """The token to send to ``url`` (None: the providers' router); None if it must not go.

        An ambient token goes to Hugging Face hosts over HTTPS only; an explicit one wherever it was
        given for.
        """
        if self.token is None or url is None or self.explicit:
            return self.token
        return self.token if is_hf_host(url) and url.lower().startswith("https://") else None

    def redact(self, text: str) -> str:
        """``text`` with the token, any ``hf_…`` token and any bearer credential as ``***``."""
        return redact(text, self.token)

    def hint(self, url: str | None = None) -> str:
        """Which token a request to ``url`` carried and where it came from, for error messages.

        Never the token.
        """
        if not self.token:
            return "no token: set HF_TOKEN or run 'hf auth login'"
        if self.for_url(url) is None:
            shown = redact_url(url or "")
            return (
                f"no token was sent: {shown} is not a Hugging Face host, and the token from "
                f"{self.source} goes "
                "there only when passed explicitly (token=...)"
            )
        return f"token from {self.source}"


def check_url(url: str, what: str = "URL") -> str:
    """``url`` without a trailing slash, if it is an http(s) URL with a host and a valid port.

    Else ConfigError.
    """
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        ok = parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)
        # raises ValueError for a port that is not 0-65535
        _ = parts.port if parts is not None else None
    except ValueError:
        ok = False
    if not ok:
        # a password in the URL is never repeated
        shown = redact_url(url) if isinstance(url, str) else url
        raise ConfigError(
            f"{what} must be an http:// or https:// URL with a host (and a port from 0 to 65535), "
            f"got {shown!r}"
        )
    return url.rstrip("/")


@dataclass(frozen=True)
class RemoteOptions:
    """The options every client of a remote model shares, checked once.

    Where to send, how long to wait.
    """

    token: str | None = field(default=None, repr=False)
    provider: str | None = None
    base_url: str | None = None
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.token is not None and (not isinstance(self.token, str) or not self.token.strip()):
            raise ConfigError("token must be a non-empty str")
        check_provider(self.provider)
        if self.base_url is not None:
            object.__setattr__(self, "base_url", check_url(self.base_url, "base_url"))
        check_seconds("timeout", self.timeout)


def check_provider(provider: str | None) -> str | None:
    """``provider`` if huggingface_hub knows it (or ``auto``), else a ConfigError listing them."""
    if provider is None:
        return None
    # Upstream limitation: the providers huggingface_hub knows are listed only in its private
    # ``inference._providers`` (``tests/unit/hf/test_hf_edge.py`` fails if that list goes)
    from huggingface_hub.inference._providers import PROVIDERS

    if not isinstance(provider, str) or (provider != "auto" and provider not in PROVIDERS):
        raise ConfigError(
            f"unknown inference provider {provider!r}: use 'auto' or one of {sorted(PROVIDERS)}"
        )
    return provider
