"""A chat-completion server on loopback for tests: scripted answers, recorded requests."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


class ChatStubServer:
    """An OpenAI-compatible ``/v1/chat/completions`` server on loopback: scripted replies, faults.

    Each request takes the next scripted reply queued for its ``model`` (or for any model); without
    one it answers what ``responder`` says of the request's JSON body (when given and not None), or
    ``"Answer from <model>."``. Requests are recorded in ``requests``. ``latency``
    delays every reply.

    >>> with ChatStubServer() as server:  # doctest: +SKIP
    ...     server.enqueue(status=503, body={"error": "Model is loading", "estimated_time": 2.0})
    ...     HFStyleClient(base_url=server.url, models={...}).generate(...)
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        responder: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        import threading
        from http.server import ThreadingHTTPServer

        self.latency = latency
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self.disconnects = 0  # replies the client hung up on before they were complete
        self.in_flight = self.max_in_flight = (
            0  # requests being answered now, and the most at once so far
        )
        self._script: dict[str | None, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        # a listen backlog for hundreds of clients connecting at once (the default of 5 resets the
        # rest)
        server_class = type("StubHTTPServer", (ThreadingHTTPServer,), {"request_queue_size": 1024})
        self._httpd = server_class(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def enqueue(
        self,
        *,
        model: str | None = None,
        status: int = 200,
        body: Any = None,
        headers: dict[str, str] | None = None,
        text: str | None = None,
        break_after: int | None = None,
        raw: bytes | None = None,
        events: list[bytes] | None = None,
        delay: float = 0.0,
        trickle: float = 0.0,
    ) -> None:
        """Script the next reply (for ``model``, or for any model).

        ``raw`` is sent as the body of a 200 exactly as given, ``events`` as the stream's SSE
        payloads (each framed as ``data: ...``); ``delay`` holds the reply back, and ``trickle``
        spaces the stream's events (or, with ``raw``, the body's bytes) by that many seconds: a
        server that never stops but never finishes.
        """
        reply = {
            "status": status,
            "body": body,
            "headers": headers or {},
            "text": text,
            "break_after": break_after,
            "raw": raw,
            "events": events,
            "delay": delay,
            "trickle": trickle,
        }
        with self._lock:
            self._script.setdefault(model, []).append(reply)

    def next_reply(self, model: str) -> dict[str, Any]:
        with self._lock:
            for key in (model, None):
                if self._script.get(key):
                    return self._script[key].pop(0)
        return {
            "status": 200,
            "body": None,
            "headers": {},
            "text": None,
            "break_after": None,
            "raw": None,
            "events": None,
            "delay": 0.0,
            "trickle": 0.0,
        }

    def pending(self) -> int:
        """How many scripted replies have not been sent yet."""
        with self._lock:
            return sum(len(v) for v in self._script.values())

    def record(self, request: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(request)

    def close(self) -> None:
        """Stop the server."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ChatStubServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handler_for(server: ChatStubServer) -> Any:
    return type("Handler", (_StubHandler,), {"stub": server})


class _StubHandler(BaseHTTPRequestHandler):
    """The request handler of :class:`ChatStubServer` (``stub`` is set on a subclass per server)."""

    stub: ChatStubServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def log_message(self, *args: Any) -> None:
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            # the client gave up on this reply: count it
            with self.stub._lock:
                self.stub.disconnects += 1

    def do_GET(self) -> None:
        # what engines list, and what health checks probe
        if self.path.rstrip("/").endswith("/models"):
            self._send(
                200,
                json.dumps(
                    {"object": "list", "data": [{"id": "stub", "object": "model"}]}
                ).encode(),
                {},
            )
        else:
            self._send(404, json.dumps({"error": "not found"}).encode(), {})

    def do_POST(self) -> None:
        with self.stub._lock:
            self.stub.in_flight += 1
            self.stub.max_in_flight = max(self.stub.max_in_flight, self.stub.in_flight)
        try:
            self._post()
        finally:
            with self.stub._lock:
                self.stub.in_flight -= 1

    def _post(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        model = str(body.get("model") or "endpoint")
        self.stub.record(
            {
                "path": self.path,
                "model": model,
                "body": body,
                "client_port": self.client_address[1],
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
        )
        reply = self.stub.next_reply(model)
        if self.stub.latency or reply["delay"]:
            time.sleep(self.stub.latency + reply["delay"])
        if reply["raw"] is not None:
            self._send_raw(reply["raw"], reply["trickle"])
        elif (
            reply["body"] is not None
            or reply["status"] != 200
            or not self.path.endswith("/chat/completions")
        ):
            self._scripted(reply)
        else:
            if reply["text"] is None and self.stub.responder is not None:
                reply = {**reply, "text": self.stub.responder(body)}
            self._answer(model, bool(body.get("stream")), reply)

    def _scripted(self, reply: dict[str, Any]) -> None:
        """A scripted JSON answer or error (any endpoint); 404 for an unscripted other endpoint."""
        status = 404 if reply["status"] == 200 and reply["body"] is None else reply["status"]
        payload = json.dumps(
            reply["body"] if reply["body"] is not None else {"error": "scripted"}
        ).encode()
        self._send(status, payload, reply["headers"])

    def _answer(self, model: str, stream: bool, reply: dict[str, Any]) -> None:
        text = reply["text"] if reply["text"] is not None else f"Answer from {model}."
        if stream:
            events = (
                [b"data: " + e + b"\n\n" for e in reply["events"]]
                if reply["events"] is not None
                else _sse_events(model, text)
            )
            self._stream(events, reply["break_after"], reply["trickle"])
        else:
            self._send(200, json.dumps(_completion(model, text)).encode(), reply["headers"])

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def _send_raw(self, payload: bytes, trickle: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        for i in range(len(payload)) if trickle else ():
            self.wfile.write(payload[i : i + 1])
            self.wfile.flush()
            time.sleep(trickle)
        if not trickle:
            self.wfile.write(payload)

    def _stream(self, events: list[bytes], break_after: int | None, trickle: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, event in enumerate(events):
            if trickle:
                time.sleep(trickle)
            if i == break_after:  # abort mid-body: no final chunk, as a dropped connection does
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._chunk(event)
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


def _sse_events(model: str, text: str) -> list[bytes]:
    import json

    tokens = text.split(" ")
    chunks: list[dict[str, Any]] = [
        {
            "id": "x",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": t if i == 0 else " " + t},
                    "finish_reason": None,
                }
            ],
        }
        for i, t in enumerate(tokens)
    ]
    chunks.append(
        {
            "id": "x",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": 5,
                "completion_tokens": len(tokens),
                "total_tokens": 5 + len(tokens),
            },
        }
    )
    return [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


def _completion(model: str, text: str) -> dict[str, Any]:
    n = len(text.split())
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n},
    }
