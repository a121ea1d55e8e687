"""The server's ASGI middlewares: the API key, JSON bodies, the body limit."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._wire import (
    error_body,
)


class KeyCheck:
    """ASGI middleware: with a key set, every ``/v1`` call needs ``Authorization: Bearer <key>``.

    Checked before the body is read, so that nothing about a request (its size, its JSON) is
    answered to a caller without it.

    The scheme is case-insensitive and may be followed by any run of spaces (RFC 7235); the key is
    compared in constant time.
    """

    def __init__(self, app: Any, *, api_key: str | None) -> None:
        self.app = app
        self.key = (api_key or "").encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.key or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, credentials = given.strip().partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.key):
            await self.app(scope, receive, send)
            return
        await send_json(
            send,
            401,
            error_body(
                "missing or wrong API key: send 'Authorization: Bearer <key>'", "invalid_api_key"
            ),
            [(b"www-authenticate", b"Bearer")],
        )


class JsonBody:
    """ASGI middleware: a JSON route's body is read as JSON whatever its Content-Type says.

    ``curl -d`` sends ``application/x-www-form-urlencoded``; a body that is not JSON then gets a 400
    that says so.
    """

    ROUTES = ("/v1/chat/completions", "/v1/route", "/v1/search")

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self.ROUTES:
            headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-type"]
            scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: a body over the limit (its Content-Length, or as it streams in) gets 413."""

    def __init__(self, app: Any, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload if scope["path"] == "/v1/documents" else self.max_body
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        started = False
        refused = False

        async def counted() -> Any:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                # Answer 413 here, then tell the app the client has gone: whatever the app makes of
                # that (a framework turns an unfinished body into a 400), its response is never
                # sent.
                refused = True
                if not started:
                    await _too_large(send, limit)
                return {"type": "http.disconnect"}
            return message

        async def watched(message: Any) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not refused:
                raise


async def _too_large(send: Any, limit: int) -> None:
    await send_json(
        send, 413, error_body(f"request body over the limit of {limit} bytes", "body_too_large")
    )


async def send_json(
    send: Any, status: int, body: Mapping[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
