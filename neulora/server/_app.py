"""``neulora serve``: the pipeline behind an OpenAI-compatible HTTP API, with a chat page at ``/``.

Built on FastAPI (Starlette underneath, served by uvicorn): its request models give the 422 answers
that name the bad field and an OpenAPI schema at ``/docs`` for free, and the streaming and
middleware are Starlette's. Every handler runs the pipeline's async API, so one process serves many
learners at once.

- ``POST /v1/chat/completions``: ``model`` is ``neulora`` (routed) or ``neulora/<style>`` (forced);
  the last user message is the question; the session is the ``user`` field or the ``X-Session-Id``
  header (without one, the earlier messages are the history and nothing is remembered). Answers
  carry a ``neulora`` object (style, scores, margin, fallback, forced, sources, timings,
  ``fallback_from``); streamed, the first chunk carries it.
- ``GET /v1/models``, ``POST /v1/route``, ``POST /v1/search``, ``POST
  /v1/documents?filename=notes.md`` (the file as the body), ``GET /v1/sessions/{id}``, ``GET
  /healthz``, ``GET /`` (the chat page).
- ``NEULORA_API_KEY`` set: every ``/v1`` call needs ``Authorization: Bearer <key>``. Bodies over
  ``max_body`` (``max_upload`` for documents) get 413; upstream failures map to OpenAI-style errors
  (401/402/404/429/502/504).
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from .._checks import is_int
from .._redact import redact_url
from ..errors import ConfigError, DocumentError, NeuloraError
from ._wire import (
    ChatRequest,
    RouteRequest,
    SearchRequest,
    api_error,
    chunk,
    completion,
    error_body,
    neulora_object,
    question_and_history,
    style_of_model,
)

if TYPE_CHECKING:
    from ..pipeline import Pipeline
    from ..settings import Settings
    from ..turn._answer import Answer, AsyncTurnStream, Event
    from ..turn._options import TurnChanges
from ._middleware import BodyLimit, JsonBody, KeyCheck

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    """What the HTTP layer adds to a pipeline: the key, the body limits, where uploads are kept."""

    api_key: str | None = None
    max_body: int = 1 << 20
    max_upload: int = 20 << 20
    uploads_dir: str = ".neulora/uploads"
    # blocking steps (embedded Chroma, memory, local models): more threads only fight for the GIL
    threads: int = 8
    # Load in-process models (a local style client, a local embedder) before the server reports
    # ready, so that the first learner does not wait for them.
    warm_up: bool = True
    # The whole process's garbage collector: only for a process the server owns (``neulora serve``),
    # never for an app that mounts this one. See :class:`GCTuning`.
    gc: GCTuning | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ServeOptions:
        return cls(settings.api_key, settings.max_body, settings.max_upload, settings.uploads_dir)


@dataclass(frozen=True)
class GCTuning:
    """How ``neulora serve`` sets Python's cyclic garbage collector once it has started.

    Measured on 200 concurrent streams (bench/bench_serve.py): with Python's defaults the collector
    took 2.7 s of a 4,000-turn run, 0.67 ms a turn, in pauses of up to 137 ms (its full collections
    walk every object of the process, the libraries' included). Freezing what start-up made (never
    garbage) and collecting the youngest generation every 20,000 allocations instead of 700 cut that
    to 0.7 s, pauses of up to about 60 ms.
    """

    threshold: tuple[int, int, int] = (20_000, 50, 50)
    freeze: bool = True

    def apply(self) -> None:
        import gc

        if self.freeze:
            gc.collect()
            gc.freeze()
        gc.set_threshold(*self.threshold)
        logger.info(
            "garbage collector: thresholds %s, start-up objects frozen: %s",
            self.threshold,
            self.freeze,
        )


def create_app(pipeline: Pipeline, options: ServeOptions | None = None) -> FastAPI:
    """The ASGI app serving ``pipeline``.

    Run it with uvicorn, or mount it in your own FastAPI app.
    """
    api = Endpoints(pipeline, options or ServeOptions())
    app = FastAPI(
        title="neulora",
        summary="Style-routed tutoring RAG, OpenAI-compatible",
        lifespan=api.lifespan,
    )
    # outermost last: the key is checked before a byte of the body is read, then the body's size,
    # then its type
    app.add_middleware(JsonBody)
    app.add_middleware(BodyLimit, max_body=api.opts.max_body, max_upload=api.opts.max_upload)
    app.add_middleware(KeyCheck, api_key=api.opts.api_key)
    app.add_exception_handler(NeuloraError, api.neulora_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, api.invalid)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, api.http_error)  # type: ignore[arg-type]
    v1 = APIRouter(prefix="/v1")
    v1.add_api_route("/models", api.models, methods=["GET"])
    v1.add_api_route("/chat/completions", api.chat, methods=["POST"], response_model=None)
    v1.add_api_route("/route", api.route, methods=["POST"])
    v1.add_api_route("/search", api.search, methods=["POST"])
    v1.add_api_route("/documents", api.documents, methods=["POST"], response_model=None)
    v1.add_api_route(
        "/sessions/{session_id:path}", api.session, methods=["GET"], response_model=None
    )
    app.include_router(v1)
    app.add_api_route("/healthz", api.healthz, methods=["GET"], response_model=None)
    app.add_api_route("/", api.index, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/favicon.ico", api.favicon, methods=["GET"], response_class=Response)
    logger.info(
        "neulora serve: styles %s, api key %s",
        list(pipeline.router.styles),
        "required" if api.opts.api_key else "off",
    )
    return app


class Endpoints:
    """The handlers of :func:`create_app`, one method per route."""

    def __init__(self, pipeline: Pipeline, opts: ServeOptions) -> None:
        self.pipeline = pipeline
        self.opts = opts
        self.page = resources.files("neulora.server") / "page.html"

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=self.opts.threads, thread_name_prefix="neulora")
        )
        store = getattr(self.pipeline.retriever, "store", None)
        if store is not None and hasattr(store, "background_loads"):
            store.background_loads = (
                True  # a server: readers never wait for an index reload (HNSW meanwhile)
            )
        if self.opts.warm_up:
            await asyncio.to_thread(self.pipeline.warm_up)
        summary = await asyncio.to_thread(describe, self.pipeline, self.opts)
        logger.info("neulora serve: %s", "; ".join(f"{k}: {v}" for k, v in summary.items()))
        for warning in _warnings(self.pipeline, summary.get("chunks")):
            logger.warning("%s", warning)
        if self.opts.gc is not None:
            self.opts.gc.apply()
        yield
        close = getattr(self.pipeline.client, "aclose", None)
        if close is not None:
            await close()

    async def neulora_error(self, request: Request, exc: NeuloraError) -> JSONResponse:
        error = api_error(exc)
        return JSONResponse(error.body, status_code=error.status)

    async def invalid(self, request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        # not JSON at all: a malformed request (400), not a bad field
        if first.get("type") == "json_invalid":
            return JSONResponse(
                error_body("the body is not valid JSON", "invalid_json"), status_code=400
            )
        field = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
        return JSONResponse(
            error_body(message, "invalid_value", param=field or None), status_code=422
        )

    async def http_error(self, request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """The framework's refusals (unknown route, method, unreadable body) as OpenAI errors."""
        codes = {404: "not_found", 405: "method_not_allowed"}
        message = {
            404: f"no route {request.url.path[:200]}",
            405: f"{request.method} is not allowed on {request.url.path[:200]}",
        }.get(exc.status_code, str(exc.detail))
        return JSONResponse(
            error_body(message, codes.get(exc.status_code, "invalid_request")),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    async def models(self) -> dict[str, Any]:
        names = ["neulora", *(f"neulora/{s}" for s in self.pipeline.router.styles)]
        return {
            "object": "list",
            "data": [
                {"id": n, "object": "model", "created": 0, "owned_by": "neulora"} for n in names
            ],
        }

    async def chat(self, body: ChatRequest, request: Request) -> Response:
        style = style_of_model(body.model, self.pipeline.router.styles)
        asked = question_and_history(body.messages)
        session = body.user or request.headers.get("x-session-id")
        changes: TurnChanges = {
            "style": style,
            "history": None if session else asked.history,
            "max_tokens": body.max_completion_tokens or body.max_tokens,
            "temperature": body.temperature,
        }
        cid = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if not body.stream:
            # a whole answer: the checks' policy may answer a broken contract once more
            whole = self.pipeline.aask(asked.question, session, **changes)
            answer = await _unless_gone(request, whole)
            # the client hung up: the turn was cancelled and the engine's request closed
            if answer is None:
                return Response(status_code=499)
            return JSONResponse(completion(cid, created, answer))
        stream = self.pipeline.astream(asked.question, session, **changes)
        events = stream.__aiter__()
        head: list[Event] = []
        # route and retrieve before the first byte: their failures are HTTP errors
        async for event in events:
            head.append(event)
            if event.kind == "passages":
                break
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            _sse(cid, created, head, events, stream, include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    async def route(self, body: RouteRequest) -> dict[str, Any]:
        router: Any = self.pipeline.router
        texts = [body.input] if isinstance(body.input, str) else list(body.input)
        histories = None if body.history is None else [body.history] * len(texts)
        batch = await asyncio.to_thread(router.route_many, texts, histories)
        return {"object": "list", "data": [d.to_dict() for d in batch]}

    async def search(self, body: SearchRequest) -> dict[str, Any]:
        retriever = _retriever(self.pipeline)
        found = await asyncio.to_thread(
            retriever.retrieve, body.query, body.k, where=body.where, min_score=body.min_score
        )
        return {"object": "list", "data": [p.to_dict() for p in found]}

    async def documents(self, filename: str, request: Request) -> dict[str, Any] | Response:
        retriever = _retriever(self.pipeline)
        path = _upload_path(Path(self.opts.uploads_dir), filename)
        try:
            body = await request.body()
        except ClientDisconnect:  # the uploader hung up midway: nothing to store, nobody to answer
            logger.info("upload of %s abandoned by the client", path.name)
            return Response(status_code=499)
        report = await asyncio.to_thread(_store_and_ingest, retriever, path, body)
        return {"object": "ingest.report", "file": path.name, **report.to_dict()}

    async def session(self, session_id: str) -> JSONResponse:
        held = await asyncio.to_thread(self.pipeline.memory.get, session_id)
        if not held.turns and held.total_turns == 0 and held.policy is None:
            return JSONResponse(
                error_body(
                    f"no session {session_id[:80]!r}", "session_not_found", param="session_id"
                ),
                status_code=404,
            )
        return JSONResponse(
            {
                "session_id": session_id,
                "policy": held.policy,
                "total_turns": held.total_turns,
                "turns": [
                    {
                        "question": t.question,
                        "answer": t.answer,
                        "style": t.style,
                        "neulora": t.meta,
                    }
                    for t in held.turns
                ],
            }
        )

    async def healthz(self) -> JSONResponse:
        checks = await _health(self.pipeline)
        ok = all(c["ok"] for c in checks.values())
        chunks = checks.get("chroma", {}).get("chunks")
        return JSONResponse(
            {
                "status": "ok" if ok else "degraded",
                "chunks": chunks,
                "warnings": _warnings(self.pipeline, chunks),
                "checks": checks,
            },
            status_code=200 if ok else 503,
        )

    async def favicon(self) -> Response:
        """No picture: 204, so that a browser's automatic request is not an error in its console."""
        return Response(status_code=204)

    async def index(self) -> HTMLResponse:
        return HTMLResponse(self.page.read_text(encoding="utf-8"))


async def _unless_gone(request: Request, work: Awaitable[Answer]) -> Answer | None:
    """``work``'s result, or None when the client hangs up first.

    ``work`` is then cancelled, which closes the engine's request: a non-streamed answer nobody
    waits for is not generated to the end.
    """
    task = asyncio.ensure_future(work)

    # the body is read: the next message the server has for us is the disconnect
    async def gone() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(gone())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # this handler was cancelled (the server stops): so is the turn
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
    logger.info("the client hung up: its turn was cancelled")
    return None


async def _sse(
    cid: str,
    created: int,
    head: list[Event],
    events: AsyncIterator[Event],
    stream: AsyncTurnStream,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    """The turn as ``chat.completion.chunk`` events.

    Routing first, then the text, then the finish.
    """
    route = next(e.data for e in head if e.kind == "route")
    passages = next((e.data for e in head if e.kind == "passages"), ())
    model = f"neulora/{route.style}"
    first = {"role": "assistant", "content": ""}
    yield _event(chunk(cid, created, model, first, None, neulora=neulora_object(route, passages)))
    try:
        async for event in events:
            if event.kind == "delta":
                yield _event(chunk(cid, created, model, {"content": event.data}, None))
        answer = stream.answer
        yield _event(
            chunk(
                cid,
                created,
                model,
                {},
                answer.finish_reason or "stop",
                neulora=neulora_object(answer.route, answer.passages, answer),
            )
        )
        if include_usage:
            yield _event(
                {**chunk(cid, created, model, {}, None), "choices": [], "usage": answer.usage}
            )
    except NeuloraError as exc:
        # the status line is gone: the error travels as an event, as OpenAI's do
        yield _event(api_error(exc).body)
    yield b"data: [DONE]\n\n"


def _event(data: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


def _retriever(pipeline: Pipeline) -> Any:
    if pipeline.retriever is None:
        raise DocumentError("this server has no retriever: it answers without notes")
    return pipeline.retriever


MAX_UPLOAD_NAME = 255  # bytes of UTF-8: what common filesystems hold in one name


def _upload_path(folder: Path, filename: str) -> Path:
    """Where an upload named ``filename`` is kept.

    A name no filesystem could hold is the client's error.
    """
    if "\x00" in filename or any(c in filename for c in "\r\n"):
        raise DocumentError("filename must not hold NUL or line breaks")
    if len(filename.encode("utf-8", "surrogatepass")) > MAX_UPLOAD_NAME:
        raise DocumentError(f"filename is over {MAX_UPLOAD_NAME} bytes: give a shorter name")
    name = Path(filename).name
    if (
        not name
        or name != filename
        or name.startswith(".")
        or Path(name).suffix.lower() not in (".txt", ".md", ".pdf")
    ):
        raise DocumentError(
            f"filename must be a plain .txt, .md or .pdf file name, got {filename[:80]!r}"
        )
    return folder / name


def _store_and_ingest(retriever: Any, path: Path, data: bytes) -> Any:
    """Keep the upload under its own name (a new version replaces the old one), then ingest it."""
    # the partial file's name is short whatever the upload's: a long name plus a suffix could not be
    # held
    # read as its type, below
    partial = path.with_name(f".upload-{uuid.uuid4().hex}{path.suffix.lower()}")
    from ..store._loaders import read_document

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(data)
        try:
            # a file that cannot be read never replaces the version that could
            read_document(partial)
        except DocumentError as exc:
            partial.unlink(missing_ok=True)
            raise DocumentError(f"{path.name}: {exc}") from exc
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise DocumentError(
            f"could not store {path.name[:80]!r}: {exc.strerror or type(exc).__name__}"
        ) from exc
    report = retriever.ingest([path], progress=False)
    if report.failed:
        raise DocumentError(f"{path.name}: {report.failed[0][1]}")
    return report


async def _health(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    import httpx

    checks: dict[str, dict[str, Any]] = {}
    if pipeline.retriever is not None:
        try:
            count = getattr(pipeline.retriever, "count", lambda: None)
            checks["chroma"] = {"ok": True, "chunks": await asyncio.to_thread(count)}
        except Exception as exc:
            checks["chroma"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    base = getattr(pipeline.client, "base_url", None)
    if base:
        try:
            # vLLM, TGI, LoRAX, llama.cpp
            probe = f"{base}/models" if base.endswith("/v1") else f"{base}/v1/models"
            async with httpx.AsyncClient(timeout=3.0) as http:
                response = await http.get(probe)
            checks["engine"] = {
                "ok": response.status_code not in (502, 503, 504),
                "status": response.status_code,
            }
        except httpx.HTTPError as exc:
            # /healthz answers without a key: never the engine's address (or a password in it), only
            # what failed
            checks["engine"] = {"ok": False, "error": type(exc).__name__}
    else:
        checks["engine"] = {
            "ok": True,
            "note": "not probed: a serverless provider or an in-process model",
        }
    return checks


def describe(pipeline: Pipeline, opts: ServeOptions) -> dict[str, Any]:
    """What this server serves, for its start-up line.

    Models, embedder, router, store, sessions, key, answer checks.
    """
    client: Any = pipeline.client
    router: Any = pipeline.router
    summary: dict[str, Any] = {}
    if getattr(client, "base_url", None):
        summary["backend"] = f"one engine at {redact_url(client.base_url)}"
    elif hasattr(client, "provider"):
        summary["backend"] = f"Hugging Face Inference API (provider {client.provider or 'auto'})"
    else:
        summary["backend"] = type(client).__name__
    models = getattr(client, "models", None)
    if isinstance(models, Mapping):
        summary["models"] = ", ".join(f"{style}={_model_name(m)}" for style, m in models.items())
    summary["embedder"] = getattr(getattr(router, "embedder", None), "name", "?")
    spec = router.to_spec() if hasattr(router, "to_spec") else None
    summary["router"] = f"{getattr(spec, 'head', '?')} head, styles {', '.join(router.styles)}"
    retriever: Any = pipeline.retriever
    if retriever is None:
        summary["notes"] = "none (no retriever)"
    else:
        summary["chroma"] = getattr(getattr(retriever, "store", None), "location", "?")
        summary["collection"] = getattr(retriever, "collection_name", "?")
        summary["chunks"] = _chunk_count(retriever)
    summary["sessions"] = redact_url(repr(pipeline.memory))
    summary["api key"] = "required" if opts.api_key else "off"
    checks = pipeline.checks
    summary["answer checks"] = "off" if checks is None else str(checks.on_violation)
    return summary


def _model_name(model: str) -> str:
    return Path(model).name if "/" in model and Path(model).is_absolute() else redact_url(model)


def _chunk_count(retriever: Any) -> int | None:
    from ..errors import CollectionNotFoundError

    # not part of the Retriever protocol: a custom one may not count
    count = getattr(retriever, "count", None)
    if count is None:
        return None
    try:
        return int(count())
    except CollectionNotFoundError:
        return 0
    except NeuloraError as exc:
        logger.warning("cannot count the notes: %s", exc)
        return None


def _warnings(pipeline: Pipeline, chunks: int | None) -> list[str]:
    """What a newcomer should know: an empty collection answers every question without notes."""
    retriever: Any = pipeline.retriever
    if retriever is None or chunks != 0:
        return []
    return [
        f"the collection {retriever.collection_name!r} is empty: every answer comes without notes. "
        "Fill it "
        "with 'neulora ingest NOTES...' (the same --path and --collection), or start with "
        "'neulora serve --notes DIR'"
    ]


def run(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    gc: GCTuning | None = None,
    notes: Sequence[str] = (),
    warm: bool = True,
) -> None:
    """Build the pipeline the settings describe and serve it.

    Sessions in Redis when ``redis_url`` is set.

    ``gc``: how to set the garbage collector of this process (None: leave Python's defaults;
    ``neulora serve`` passes :class:`GCTuning`). ``notes``: files or folders ingested before
    serving. ``warm``: load in-process models before reporting ready.
    """
    sock = listening(host, port)  # first: a busy port is said before anything loads
    try:
        _serve(settings, sock, gc=gc, notes=notes, warm=warm)
    finally:
        sock.close()


def _serve(
    settings: Settings,
    sock: socket.socket,
    *,
    gc: GCTuning | None,
    notes: Sequence[str],
    warm: bool,
) -> None:
    import uvicorn

    from ..memory._inprocess import InMemoryMemory
    from ..pipeline import Pipeline

    if settings.redis_url:
        from ..memory._redis import RedisMemory

        memory: Any = RedisMemory.from_url(settings.redis_url)
    else:
        memory = InMemoryMemory(max_sessions=100_000)
    pipeline = Pipeline.from_settings(settings, memory=memory)
    if notes:
        retriever: Any = pipeline.retriever  # built from settings: a ChromaRetriever, which ingests
        report = retriever.ingest(list(notes), progress=False)
        logger.info("notes ingested: %s", report.format().replace("\n", "; "))
        if report.failed and not (report.added or report.replaced or report.unchanged):
            raise DocumentError(
                f"--notes: nothing could be ingested ({report.failed[0][0]}: {report.failed[0][1]})"
            )
    # keep-alive longer than clients' idle pools (uvicorn's 5 s races a pooled connection's next
    # request)
    options = replace(ServeOptions.from_settings(settings), gc=gc, warm_up=warm)
    config = uvicorn.Config(
        create_app(pipeline, options), log_level="info", access_log=False, timeout_keep_alive=75
    )
    uvicorn.Server(config).run(sockets=[sock])


def listening(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port``, bound before anything is served.

    A busy or invalid address is one clear :class:`ConfigError` instead of a server that starts and
    then dies among its log lines.
    """
    if not is_int(port) or not 1 <= port <= 65535:
        raise ConfigError(f"--port must be a port number from 1 to 65535, got {port!r}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(
            f"--host {host!r} is not an address this machine can listen on: {exc.strerror}"
        ) from exc
    first = infos[0]  # (family, type, proto, canonname, address)
    address = first[4]
    sock = socket.socket(first[0], first[1], first[2])
    try:
        # as uvicorn does: restarts reuse the port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        hint = (
            ": another server listens there, pick another --port"
            if exc.errno == errno.EADDRINUSE
            else ""
        )
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}{hint}") from exc
    sock.set_inheritable(True)
    return sock
