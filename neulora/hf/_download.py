"""Downloads from the Hub (cached), failures typed."""

from __future__ import annotations

import logging

from .._redact import redacted
from ..errors import NeuloraError
from ._auth import HFAuth
from ._errors import HubFailure, hub_errors

logger = logging.getLogger(__name__)


def download(
    repo_id: str, filename: str, *, revision: str | None, auth: HFAuth, error: type[NeuloraError]
) -> str:
    """``hf_hub_download`` (cached) with its failures raised as ``error``.

    Returns the local path.
    """
    from huggingface_hub import hf_hub_download

    logger.info("downloading %s from %s", filename, repo_id)
    where = f"cannot download {filename} from {repo_id}"
    try:
        with hub_errors(auth.redact):
            token = auth.for_url(None)
            return str(hf_hub_download(repo_id, filename, revision=revision, token=token))
    except HubFailure as exc:
        failed = error(f"{where}: {exc.failure.message}")
        cause = exc.cause
    except OSError as exc:  # the cache: not writable, full, or the file is not there offline
        failed = error(f"{where}: {type(exc).__name__}: {auth.redact(str(exc))}")
        cause = redacted(exc, auth.redact)
    raise failed from cause  # outside the except clause: the hub's exception is not chained
