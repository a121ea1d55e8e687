"""The least a Python server on neulora's stack does per streamed turn.

The floor under ``neulora serve``.

Two ASGI apps, served by uvicorn exactly as ``neulora serve`` is (same loop, same HTTP parser, no
access log, the same garbage-collector settings):

- ``asgi``: raw ASGI, no upstream: reads the body, waits the engine's 300 ms itself, streams three
  text chunks. What uvicorn and the event loop cost.
- ``proxy``: a Starlette route that forwards the turn through huggingface_hub's
  ``AsyncInferenceClient`` (the same shared pools and per-request client as neulora) and re-emits
  the chunks as SSE. What the mandated stack costs before any routing, retrieval or session.

    python bench/serve_floor.py asgi|proxy PORT [ENGINE_URL]
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import uvicorn

DONE = b"data: [DONE]\n\n"


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


def _chunk(text: str | None, finish: str | None = None) -> bytes:
    delta = {"content": text} if text is not None else {}
    return _event(
        {
            "id": "floor",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "floor",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await asyncio.sleep(0.3)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream")],
        }
    )
    for part in ("Answer", " from", " floor."):
        await send({"type": "http.response.body", "body": _chunk(part), "more_body": True})
    await send(
        {"type": "http.response.body", "body": _chunk(None, "stop") + DONE, "more_body": False}
    )


def proxy_app(engine: str) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    from neulora.hf import HFAuth
    from neulora.hf._async_clients import AsyncSessions, async_inference_client

    sessions = AsyncSessions()
    auth = HFAuth(None)

    async def chat(request: Request) -> StreamingResponse:
        body = await request.json()
        client = async_inference_client(auth, sessions.get(), url=engine)

        async def events() -> Any:
            try:
                async for out in await client.chat_completion(
                    body["messages"], model="direct", stream=True
                ):
                    choice = out.choices[0]
                    yield _chunk(choice.delta.content, choice.finish_reason)
                yield DONE
            finally:
                await client.close()

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


if __name__ == "__main__":
    from neulora.server._app import GCTuning

    kind = sys.argv[1]
    port = int(sys.argv[2])
    app = asgi_app if kind == "asgi" else proxy_app(sys.argv[3])
    GCTuning().apply()  # as neulora serve does: the floors run under the same collector settings
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=75,
    )
