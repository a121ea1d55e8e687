"""``InferenceClient`` construction: one place builds every client that talks to Hugging Face."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._auth import HFAuth


def inference_client(
    auth: HFAuth,
    *,
    url: str | None = None,
    provider: str | None = None,
    timeout: float | None = 60.0,
    headers: Mapping[str, str] | None = None,
    one_call: bool = False,
) -> Any:
    """An ``InferenceClient`` for a server URL (endpoint, multi-LoRA server) or for a provider.

    ``one_call``: the client serves one call and is closed after it (see :func:`closable`); a
    long-lived client (an embedder's) must not be, or every answer would stay in its exit stack
    until it is closed.
    """
    from huggingface_hub import InferenceClient

    client = InferenceClient(**client_options(auth, url, provider, timeout, headers))
    return closable(client) if one_call else client


def client_options(
    auth: HFAuth,
    url: str | None,
    provider: str | None,
    timeout: float | None,
    headers: Mapping[str, str] | None,
) -> dict[str, Any]:
    """The options of an ``InferenceClient`` or ``AsyncInferenceClient``.

    Where it goes, with which token.
    """
    extra = dict(headers or {})
    token = auth.for_url(url)
    if url is not None and token is None:
        # huggingface_hub adds the saved login to any request without a token: keep it from this
        # server.
        extra["authorization"] = ""
    where: dict[str, Any] = {"base_url": url} if url is not None else {"provider": provider}
    return {**where, "token": token, "timeout": timeout, "headers": extra}


def closable(client: Any) -> Any:
    """``client`` with its whole answers closable from another thread by ``client.close()``.

    Upstream limitation: huggingface_hub's sync ``InferenceClient`` reads a non-streamed answer
    inside a ``with`` of its process-wide session, out of reach; only a streamed response is kept in
    ``client.exit_stack``, which ``close()`` closes. A deadline that gave up on a whole answer
    trickling in could not stop it: the worker kept reading, holding a thread and a connection, and
    the engine kept generating. So the request goes the streamed way (the same request, its response
    kept in the exit stack) and its lines are joined back into the body.
    ``tests/adversarial/test_remote_faults.py`` fails if upstream stops keeping the response there.
    Only for a client closed after its one call: each answer stays in the exit stack until then.
    """
    post = client._inner_post

    def inner_post(request_parameters: Any, *, stream: bool = False) -> Any:
        if stream:
            return post(request_parameters, stream=True)
        return "\n".join(post(request_parameters, stream=True)).encode()

    client._inner_post = inner_post
    return client
