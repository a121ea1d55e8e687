"""Downloads from the Hub (cached), failures typed."""

from __future__ import annotations

import logging

from .._redact import redacted
from ..errors import (
    NeuloraError,
)
from ._auth import HFAuth
from ._errors import http_errors

logger = logging.getLogger(__name__)

def download(repo_id: str, filename: str, *, revision: str | None, auth: HFAuth,
             error: type[NeuloraError]) -> str:
    """``hf_hub_download`` (cached) with its failures raised as ``error``; returns the local path."""
    from huggingface_hub import hf_hub_download

    logger.info("downloading %s from %s", filename, repo_id)
    errors: tuple[type[Exception], ...] = (*http_errors(), OSError, ValueError)
    try:
        return str(hf_hub_download(repo_id, filename, revision=revision, token=auth.for_url(None)))
    except errors as exc:
        failed = error(f"cannot download {filename} from {repo_id}: {type(exc).__name__}: {auth.redact(str(exc))}")
        cause = redacted(exc, auth.redact)
    raise failed from cause  # outside the except clause: the hub's exception is not chained
