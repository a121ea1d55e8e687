"""The ``neulora`` command: route, evaluate routers, ingest and search notes, ask, chat, demo."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from ..errors import (
    ConfigError,
    InvalidInputError,
    NeuloraError,
    RouterFileError,
    ScorerFileError,
)
from ._build import retriever_from as _retriever
from ._build import router_from as _router
from ._build import settings_from as _settings
from ._chat import error_line, print_answer
from ._eval import plot_confusion, plot_target, read_jsonl, row_states
from ._evaluate import add_eval

# the linear head's penalty router-train uses: the best macro-F1 measured (bench/router-state.md)
STATE_L2 = 0.003


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error, 2 usage, 130 interrupted).

    Without ``argv`` main is the process itself (``neulora``, ``python -m neulora``): once the
    command is over, a Ctrl-C ends the process at once instead of printing a traceback from the
    interpreter's exit handlers.
    """
    try:
        try:
            return _run(argv)
        finally:
            if sys.stdout is not None:
                # a reader that has gone (`| head -1`) shows here, not at interpreter exit
                sys.stdout.flush()
    except KeyboardInterrupt:
        if argv is None:
            # first: from here on a second Ctrl-C ends the process without a traceback
            _default_sigint()
        if sys.stderr is not None:
            with suppress(OSError, ValueError):
                print(
                    "\nneulora: interrupted" if sys.stderr.isatty() else "neulora: interrupted",
                    file=sys.stderr,
                )
        return 130
    except BrokenPipeError:
        _stdout_to_devnull()
        return 1
    finally:
        if argv is None:
            _default_sigint()


def _run(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    before = list(logging.root.handlers)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)
        for handler in logging.root.handlers:
            # ours, not a host's (a test runner's capture keeps everything)
            if handler not in before:
                handler.addFilter(_quiet_library)
    try:
        return int(args.run(args) or 0)
    except ConfigError as exc:  # bad settings or flags are usage errors; a bad router file is not
        print(error_line(exc, limit=None if args.verbose else 600), file=sys.stderr)
        return 1 if isinstance(exc, (RouterFileError, ScorerFileError)) else 2
    except NeuloraError as exc:
        print(error_line(exc, limit=None if args.verbose else 600), file=sys.stderr)
        return 1


def _quiet_library(record: logging.LogRecord) -> bool:
    """Keep the library's warnings out of a command's output.

    What a command has to say it prints itself (a fallback shows in the answer's model line, a
    failure as one error line): the library's own warnings would say it twice. ``neulora serve``
    logs for its operator.
    """
    return (
        record.levelno >= logging.ERROR
        or not record.name.startswith("neulora")
        or record.name.startswith("neulora.server")
    )


def _default_sigint() -> None:
    """Let a further Ctrl-C end the process quietly, as a signal (the shell reports 130)."""
    with suppress(ValueError):  # signal handlers can only be set from the main thread
        signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stdout_to_devnull() -> None:
    """Point stdout at devnull, so the interpreter's last flush cannot fail again.

    Python docs, note on SIGPIPE.
    """
    # no file descriptor (a test's capture): nothing is left to flush
    with suppress(OSError, ValueError):
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neulora", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log each external call")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, run: Any, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(run=run)
        return p

    def store_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--collection", help="collection name (NEULORA_COLLECTION, default neulora)")
        where = p.add_mutually_exclusive_group()
        where.add_argument(
            "--path", help="embedded Chroma directory (NEULORA_CHROMA_PATH, default ./chroma_db)"
        )
        where.add_argument("--host", help="a 'chroma run' server host")
        p.add_argument(
            "--port", help="the server's port (NEULORA_CHROMA_PORT, default 8000; alone: 127.0.0.1)"
        )
        p.add_argument(
            "--embedder", choices=["hash", "local", "api", "use"], help="NEULORA_EMBEDDER"
        )
        p.add_argument("--config", help="a JSON settings file (keys as in neulora.settings)")

    def checks_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--checks",
            metavar="MODE",
            help="answer checks (NEULORA_CHECKS): off, on (flag), regenerate or fallback:STYLE; "
            "default on when the scorer can run",
        )

    def router_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--router", help="router file (NEULORA_ROUTER; default: the one the settings name)"
        )
        p.add_argument(
            "--embedder",
            choices=["hash", "local", "api", "use"],
            help="the embedder to route with (NEULORA_EMBEDDER)",
        )
        p.add_argument("--config", help="a JSON settings file (keys as in neulora.settings)")
        p.add_argument(
            "--allow-mismatch",
            action="store_true",
            help="route with a router file made for another embedder (its routes are meaningless)",
        )

    p = command("route", _route, "Route a question to a teaching style and print every score.")
    p.add_argument("text", help="the learner's question")
    router_options(p)
    p.add_argument("--json", action="store_true", help="print the decision as JSON")

    p = command(
        "router-eval",
        _router_eval,
        "Evaluate a router on labelled JSONL rows (text, label, history).",
    )
    p.add_argument(
        "file", help='JSONL rows, one {"text": ..., "label": STYLE, "history": [...]} a line'
    )
    router_options(p)
    p.add_argument("--history", action="store_true", help="route with each row's history")
    p.add_argument("--plot", help="write the confusion matrix as a PNG picture")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = command(
        "router-train",
        _router_train,
        "Train a router on labelled JSONL rows "
        "(text, label; prev_label and turn_index for --state).",
    )
    p.add_argument("file", help='JSONL rows, one {"text": ..., "label": STYLE, ...} a line')
    p.add_argument("--out", required=True, help="where to write the router file (JSON)")
    p.add_argument(
        "--embedder",
        choices=["hash", "local", "api", "use"],
        default="use",
        help="the vectors it routes on (use: the offline multilingual encoder, the best measured "
        "here; route with the same embedder)",
    )
    p.add_argument(
        "--head",
        choices=["centroid", "linear"],
        help="centroid (cosine to each style's mean) or linear (a trained classifier); "
        "default linear with --state, else centroid",
    )
    p.add_argument(
        "--state",
        action="store_true",
        help="read the dialogue's state too: each row's prev_label (the style of the tutor "
        "message the learner answered) and turn_index",
    )
    p.add_argument("--l2", type=float, help=f"the linear head's L2 penalty (default: {STATE_L2})")
    p.add_argument("--config", help="a JSON settings file (keys as in neulora.settings)")

    add_eval(sub)

    p = command("ingest", _ingest, "Chunk, embed and store files or folders (.txt, .md, .pdf).")
    p.add_argument(
        "paths", nargs="+", help="files and folders (.txt, .md, .pdf; folders recursively)"
    )
    store_options(p)
    p.add_argument("--reset", action="store_true", help="empty the collection first")
    p.add_argument("--chunk-size", type=int, default=800, help="characters per chunk (800)")
    p.add_argument(
        "--chunk-overlap",
        type=int,
        default=120,
        help="characters shared by neighbouring chunks (120)",
    )
    p.add_argument("--json", action="store_true", help="print the ingest report as JSON")

    p = command(
        "search", _search, "Print the passages most similar to a query, with scores and sources."
    )
    p.add_argument("query", help="what to look for in the notes")
    p.add_argument("-k", type=int, default=5, help="how many passages (5)")
    store_options(p)
    p.add_argument("--json", action="store_true", help="print the passages as JSON")

    p = command("collections", _collections, "List collections with their counts and embedders.")
    store_options(p)

    for name, run, text in (
        ("ask", _ask, "Answer one question (style, scores, sources, answer)."),
        ("chat", _chat, "A conversation that keeps its session (/style, /policy, /reset)."),
    ):
        p = command(name, run, text)
        if name == "ask":
            p.add_argument("question", help="the learner's question")
            p.add_argument(
                "--json",
                action="store_true",
                help="print the answer and everything about it as JSON",
            )
        p.add_argument("--style", help="force a style instead of routing")
        p.add_argument("--max-tokens", type=int, help="longest answer, in tokens (default 512)")
        p.add_argument(
            "--temperature", type=float, help="sampling temperature, 0 to 2 (default 0.7)"
        )
        p.add_argument(
            "--session", help="session id (kept in NEULORA_SESSIONS_DIR, default .neulora/sessions)"
        )
        checks_option(p)
        store_options(p)

    p = command(
        "serve",
        _serve,
        "Serve an OpenAI-compatible HTTP API and a chat page (sessions in Redis with "
        "NEULORA_REDIS_URL, a key with NEULORA_API_KEY). Logs what it serves at start-up.",
    )
    p.add_argument(
        "--notes",
        nargs="+",
        metavar="PATH",
        help="files or folders of notes (.txt, .md, .pdf) to ingest before serving",
    )
    p.add_argument(
        "--no-warm-up",
        action="store_true",
        help="load in-process models on the first question instead of before serving",
    )
    checks_option(p)
    p.add_argument(
        "--host", dest="bind_host", default="127.0.0.1", help="address to listen on (127.0.0.1)"
    )
    p.add_argument(
        "--port", dest="bind_port", type=_port, default=8080, help="port to listen on (8080)"
    )
    p.add_argument(
        "--path",
        help="embedded Chroma directory (NEULORA_CHROMA_PATH; NEULORA_CHROMA_HOST for a server)",
    )
    p.add_argument("--collection", help="NEULORA_COLLECTION")
    p.add_argument("--embedder", choices=["hash", "local", "api", "use"], help="NEULORA_EMBEDDER")
    p.add_argument("--config", help="a JSON settings file (keys as in neulora.settings)")
    p.add_argument(
        "--python-gc",
        action="store_true",
        help="keep Python's garbage-collector defaults (by default the server freezes its start-up "
        "objects "
        "and collects less often: shorter pauses under load)",
    )

    p = command(
        "demo",
        _demo,
        "The offline main job: the sample notes stored where 'neulora serve' reads them "
        "(NEULORA_CHROMA_PATH, default ./chroma_db; collection NEULORA_COLLECTION, default "
        "neulora), the exemplar router, SmolLM2-135M answering.",
    )
    p.add_argument(
        "--path", help="embedded Chroma directory (NEULORA_CHROMA_PATH, default ./chroma_db)"
    )
    p.add_argument("--db", dest="path", help=argparse.SUPPRESS)  # the old name of --path
    p.add_argument("--collection", help="collection name (NEULORA_COLLECTION, default neulora)")
    p.add_argument(
        "--max-tokens", type=int, default=96, help="longest answer, in tokens (default 96)"
    )
    p.add_argument(
        "--json", action="store_true", help="print every answer as JSON, with the question"
    )
    return parser


# -- building blocks from arguments
# --------------------------------------------------------------------
# -- commands
# ------------------------------------------------------------------------------------------
def _route(args: argparse.Namespace) -> int:
    decision = _router(args).route(args.text)
    if args.json:
        _dump(decision.to_dict())
    else:
        print(f"style: {decision.style}{'  (fallback)' if decision.fallback else ''}")
        for style, score in sorted(decision.scores.items(), key=lambda kv: -kv[1]):
            print(f"  {style:<12} {score:+.4f}")
        print(f"margin: {decision.margin:.4f}\nreason: {decision.reason}")
    return 0


def _router_eval(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm.auto import tqdm

    from ..routing._centroid import format_router_inputs
    from ..train._fit import evaluate_vectors

    plot = plot_target(args.plot) if args.plot else None  # refused now, not after a long evaluation
    rows = read_jsonl(Path(args.file))
    router = _router(args)
    inputs = format_router_inputs(
        [r["text"] for r in rows],
        [r.get("history") for r in rows] if args.history else None,
        turns=router.history_turns,
        max_chars=router.max_chars,
    )
    vectors = []
    # shown when it lasts
    with tqdm(total=len(inputs), unit="row", desc="embedding", delay=2.0) as bar:
        for start in range(0, len(inputs), 64):
            vectors.append(router.embedder.embed(inputs[start : start + 64]))
            bar.update(len(vectors[-1]))
    # rows that say the style of the tutor's previous move (prev_label) get the previous-style
    # baseline too
    previous = [r.get("prev_label") for r in rows] if any("prev_label" in r for r in rows) else None
    report = evaluate_vectors(
        router,
        np.concatenate(vectors) if vectors else np.zeros((0, router.dim), np.float32),
        [r["label"] for r in rows],
        previous=previous,
        # the state of each row: the style of the tutor message the learner actually answered
        states=row_states(rows) if router.uses_state else None,
    )
    if args.json:
        _dump(report.to_dict())
        if report.verdict():
            print(f"neulora: {report.verdict()}", file=sys.stderr)
    else:
        print(report.format())
    if plot is not None:
        plot_confusion(report, plot)
        print(f"confusion matrix written to {plot}", file=sys.stderr)
    return 0


def _router_train(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm.auto import tqdm

    from .._assemble import build_embedder
    from ..train import LinearHead
    from ..train._fit import fit_vectors

    head_name = args.head or ("linear" if args.state else "centroid")
    if args.state and head_name != "linear":
        raise ConfigError("--state needs --head linear: a centroid cannot read the state")
    if args.l2 is not None and not args.l2 > 0:
        raise ConfigError(f"--l2 must be positive, got {args.l2}")
    rows = read_jsonl(Path(args.file))
    embedder = build_embedder(_settings(args))
    texts = [r["text"] for r in rows]
    vectors = []
    with tqdm(total=len(texts), unit="row", desc="embedding", delay=2.0) as bar:
        for start in range(0, len(texts), 64):
            vectors.append(embedder.embed(texts[start : start + 64]))
            bar.update(len(vectors[-1]))
    l2 = args.l2 if args.l2 is not None else STATE_L2
    head = LinearHead(l2=l2) if head_name == "linear" else None
    router = fit_vectors(
        np.concatenate(vectors),
        [r["label"] for r in rows],
        embedder,
        head=head,
        states=row_states(rows) if args.state else None,
    )
    router.save(args.out)
    what = f"{router.to_spec().head} head" + (" reading the dialogue state" if args.state else "")
    print(f"router ({what}, {embedder.name}) written to {args.out}", file=sys.stderr)
    return 0


def _ingest(args: argparse.Namespace) -> int:
    retriever = _retriever(args)
    if args.reset:
        retriever.reset()
    report = retriever.ingest(
        args.paths, chunk_size=args.chunk_size, chunk_overlap=args.chunk_overlap
    )
    if args.json:
        _dump(report.to_dict() | {"count": retriever.count()})
    else:
        print(report.format())
        print(f"collection {retriever.collection_name!r} now holds {retriever.count()} chunks")
    return 1 if report.failed and not (report.added or report.replaced or report.unchanged) else 0


def _search(args: argparse.Namespace) -> int:
    from ..errors import CollectionNotFoundError

    settings = _settings(args)
    retriever = _retriever(args, create=False)
    try:
        passages = retriever.retrieve(args.query, k=args.k)
    except CollectionNotFoundError:
        passages = []
    if not passages and _count(retriever) == 0:
        print(
            f"neulora: error: no notes in collection {settings.collection!r} at "
            f"{_place(settings)}: run "
            "'neulora ingest FILE...' first (with the same --collection and --path or --host)",
            file=sys.stderr,
        )
        return 1
    if args.json:
        _dump([p.to_dict() for p in passages])
    else:
        for i, p in enumerate(passages, start=1):
            print(f"[{i}] {p.score:.3f}  {p.where}\n    {p.text[:200]}")
    from ..turn._relevance import Relevance

    floor = settings.min_score
    rule = (
        Relevance(floor=floor) if floor is not None else Relevance.for_embedder(retriever.embedder)
    )
    if passages and not rule.apply(passages):
        where = (
            f"the score floor {floor:g} (NEULORA_MIN_SCORE)"
            if floor is not None
            else f"the relevance rule of {retriever.embedder.name} ({rule})"
        )
        print(
            f"neulora: no passage reaches {where}: 'neulora ask' would answer without notes",
            file=sys.stderr,
        )
    return 0


def _place(settings: Any) -> str:
    """Where the settings put Chroma, for messages: an absolute folder, or host:port."""
    where = settings.chroma_location()
    return os.path.abspath(where["path"]) if "path" in where else f"{where['host']}:{where['port']}"


def _count(retriever: Any) -> int:
    from ..errors import CollectionNotFoundError

    try:
        return int(retriever.count())
    except CollectionNotFoundError:
        return 0


def _collections(args: argparse.Namespace) -> int:
    found = _retriever(args, create=False).collections()
    for c in found:
        print(f"{c['name']:<24} {c['count']:>8} chunks  embedder {c['embedder']} (dim {c['dim']})")
    if not found:
        print(
            f"neulora: no collections at {_place(_settings(args))}: run 'neulora ingest FILE...' "
            "first",
            file=sys.stderr,
        )
    return 0


def _pipeline(args: argparse.Namespace, *, keep_sessions: bool) -> Any:
    """The pipeline the settings describe; sessions are kept on disk only when ``keep_sessions``."""
    from ..memory._file import FileMemory
    from ..memory._inprocess import InMemoryMemory
    from ..pipeline import Pipeline
    from ._chat import loading

    settings = _settings(args)
    memory = FileMemory(settings.sessions_dir) if keep_sessions else InMemoryMemory(max_sessions=1)
    pipeline = Pipeline.from_settings(settings, memory=memory)
    pipeline.warm_up(notice=loading)
    return pipeline


def _ask(args: argparse.Namespace) -> int:
    _check_generation_flags(args)
    # A one-off question (no --session) has no conversation to continue: nothing is written for it.
    answer = _pipeline(args, keep_sessions=args.session is not None).ask(
        args.question,
        session_id=args.session,
        style=args.style,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
    )
    if args.json:
        _dump(answer.to_dict())
    else:
        print_answer(answer, sys.stdout)
    return 0


def _chat(args: argparse.Namespace) -> int:
    import uuid

    from .._styles import STYLES
    from ._chat import Chat

    _check_generation_flags(args)
    # before the pipeline loads its models
    if args.style is not None and args.style.lower() not in STYLES:
        raise InvalidInputError(
            f"unknown style {args.style!r} for --style: choose one of {', '.join(STYLES)}"
        )
    return Chat(
        _pipeline(args, keep_sessions=True),
        args.session or uuid.uuid4().hex[:12],
        args.style,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
    ).run()


def _demo(args: argparse.Namespace) -> int:
    from ._chat import loading
    from ._demo import DEMO_HEADER, DEMO_QUESTIONS, demo_pipeline

    _check_generation_flags(args)
    settings = _settings(args)
    where = settings.chroma_location()
    if "path" not in where:
        raise ConfigError(
            "the demo stores its notes in an embedded Chroma: give --path (or unset "
            "NEULORA_CHROMA_HOST)"
        )
    print(DEMO_HEADER, file=sys.stderr)
    pipeline = demo_pipeline(
        where["path"], collection=settings.collection, max_tokens=args.max_tokens
    )
    print(
        f"sample notes: collection {settings.collection!r} at {os.path.abspath(where['path'])} "
        "('neulora serve' with the same settings answers from them)",
        file=sys.stderr,
    )
    pipeline.warm_up(notice=loading)
    results = []
    for n, question in enumerate(DEMO_QUESTIONS):
        answer = pipeline.ask(question, session_id=f"demo-{n}")
        results.append(answer.to_dict() | {"question": question})
        if not args.json:
            print(f"\n=== {question}")
            print_answer(answer, sys.stdout)
    if args.json:
        _dump(results)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ..server._app import GCTuning, run

    # the start-up summary is for the operator
    logging.getLogger("neulora.server").setLevel(logging.INFO)
    run(
        _settings(args),
        host=args.bind_host,
        port=args.bind_port,
        gc=None if args.python_gc else GCTuning(),
        notes=args.notes or (),
        warm=not args.no_warm_up,
    )
    return 0


def _port(text: str) -> int:
    """A port number for argparse.

    1 to 65535 (a larger one would wrap around, a negative one is no port).
    """
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, got {port}")
    return port


def _check_generation_flags(args: argparse.Namespace) -> None:
    """Refuse bad --max-tokens and --temperature before any model loads (a usage error: exit 2)."""
    import math

    tokens = getattr(args, "max_tokens", None)
    if tokens is not None and tokens < 1:
        raise ConfigError(f"--max-tokens must be a positive number of tokens, got {tokens}")
    temperature = getattr(args, "temperature", None)
    if temperature is not None and not (math.isfinite(temperature) and 0.0 <= temperature <= 2.0):
        raise ConfigError(f"--temperature must be between 0 and 2, got {temperature}")


# -- output
# --------------------------------------------------------------------------------------------
def _dump(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
