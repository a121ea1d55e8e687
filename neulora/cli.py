"""The ``neulora`` command: route, evaluate routers, ingest and search notes, ask, chat, and the offline demo."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .errors import ConfigError, NeuloraError, RouterFileError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error, 2 usage)."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return int(args.run(args) or 0)
    except ConfigError as exc:  # bad settings or flags are usage errors; a bad router file is not
        print(f"neulora: error: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, RouterFileError) else 2
    except NeuloraError as exc:
        print(f"neulora: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


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
        where.add_argument("--path", help="embedded Chroma directory (NEULORA_CHROMA_PATH, default ./chroma_db)")
        where.add_argument("--host", help="a 'chroma run' server host")
        p.add_argument("--port", help="the server's port (NEULORA_CHROMA_PORT, default 8000; alone: 127.0.0.1)")
        p.add_argument("--embedder", choices=["hash", "local", "api"], help="NEULORA_EMBEDDER")
        p.add_argument("--config", help="a JSON settings file (keys as in neulora.settings)")

    p = command("route", _route, "Route a question to a teaching style and print every score.")
    p.add_argument("text")
    p.add_argument("--router", help="router file (default: as the config says)")
    p.add_argument("--embedder", choices=["hash", "local", "api"])
    p.add_argument("--config")
    p.add_argument("--json", action="store_true")

    p = command("router-eval", _router_eval, "Evaluate a router on labelled JSONL rows (text, label, history).")
    p.add_argument("file")
    p.add_argument("--router")
    p.add_argument("--embedder", choices=["hash", "local", "api"], default=None)
    p.add_argument("--config")
    p.add_argument("--history", action="store_true", help="route with each row's history")
    p.add_argument("--plot", help="write the confusion matrix as a PNG picture")
    p.add_argument("--json", action="store_true")

    p = command("ingest", _ingest, "Chunk, embed and store files or folders (.txt, .md, .pdf).")
    p.add_argument("paths", nargs="+")
    store_options(p)
    p.add_argument("--reset", action="store_true", help="empty the collection first")
    p.add_argument("--chunk-size", type=int, default=800)
    p.add_argument("--chunk-overlap", type=int, default=120)
    p.add_argument("--json", action="store_true")

    p = command("search", _search, "Print the passages most similar to a query, with scores and sources.")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5)
    store_options(p)
    p.add_argument("--json", action="store_true")

    p = command("collections", _collections, "List collections with their counts and embedders.")
    store_options(p)

    for name, run, text in (("ask", _ask, "Answer one question (style, scores, sources, answer)."),
                            ("chat", _chat, "A conversation that keeps its session (/style, /policy, /reset).")):
        p = command(name, run, text)
        if name == "ask":
            p.add_argument("question")
            p.add_argument("--json", action="store_true")
        p.add_argument("--style", help="force a style instead of routing")
        p.add_argument("--session", help="session id (kept in NEULORA_SESSIONS_DIR, default .neulora/sessions)")
        store_options(p)

    p = command("demo", _demo, "The offline main job: sample notes, exemplar router, SmolLM2 answering.")
    p.add_argument("--db", default=".neulora/demo_db", help="where the demo's embedded Chroma lives")
    p.add_argument("--json", action="store_true")
    return parser


# -- building blocks from arguments --------------------------------------------------------------------
def _settings(args: argparse.Namespace) -> Any:
    """Settings from the flags, the environment and ``--config``, in that order of precedence."""
    from .settings import Settings

    flags = {"collection": "collection", "chroma_path": "path", "chroma_host": "host", "chroma_port": "port",
             "embedder": "embedder", "router": "router"}
    overrides = {key: getattr(args, attr, None) for key, attr in flags.items()}
    return Settings.load(overrides=overrides, file=getattr(args, "config", None))


def _retriever(args: argparse.Namespace) -> Any:
    from .config import build_embedder, build_retriever

    settings = _settings(args)
    return build_retriever(settings, build_embedder(settings))


def _router(args: argparse.Namespace) -> Any:
    from .config import build_embedder, build_router

    settings = _settings(args)
    return build_router(settings, build_embedder(settings))


# -- commands ------------------------------------------------------------------------------------------
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
    from .train import evaluate

    rows = _read_jsonl(Path(args.file))
    report = evaluate(_router(args), [r["text"] for r in rows], [r["label"] for r in rows],
                      [r.get("history") for r in rows] if args.history else None)
    if args.json:
        _dump(report.to_dict())
    else:
        print(report.format())
    if args.plot:
        _plot_confusion(report, Path(args.plot))
        print(f"confusion matrix written to {args.plot}", file=sys.stderr)
    return 0


def _ingest(args: argparse.Namespace) -> int:
    retriever = _retriever(args)
    if args.reset:
        retriever.reset()
    report = retriever.ingest(args.paths, chunk_size=args.chunk_size, chunk_overlap=args.chunk_overlap)
    if args.json:
        _dump(report.to_dict() | {"count": retriever.count()})
    else:
        print(report.format())
        print(f"collection {retriever.collection_name!r} now holds {retriever.count()} chunks")
    return 1 if report.failed and not (report.added or report.replaced or report.unchanged) else 0


def _search(args: argparse.Namespace) -> int:
    passages = _retriever(args).retrieve(args.query, k=args.k)
    if args.json:
        _dump([p.to_dict() for p in passages])
    else:
        for i, p in enumerate(passages, start=1):
            print(f"[{i}] {p.score:.3f}  {p.where}\n    {p.text[:200]}")
    return 0


def _collections(args: argparse.Namespace) -> int:
    for c in _retriever(args).collections():
        print(f"{c['name']:<24} {c['count']:>8} chunks  embedder {c['embedder']} (dim {c['dim']})")
    return 0


def _pipeline(args: argparse.Namespace) -> Any:
    from .memory import FileMemory
    from .pipeline import Pipeline

    settings = _settings(args)
    return Pipeline.from_settings(settings, memory=FileMemory(settings.sessions_dir))


def _ask(args: argparse.Namespace) -> int:
    answer = _pipeline(args).ask(args.question, session_id=args.session, style=args.style)
    if args.json:
        _dump(answer.to_dict())
    else:
        _print_answer(answer, sys.stdout)
    return 0


def _chat(args: argparse.Namespace) -> int:
    import uuid

    pipeline = _pipeline(args)
    session = args.session or uuid.uuid4().hex[:12]
    style = args.style
    print(f"session {session}. /style NAME|auto, /policy TEXT|off, /reset, /quit")
    prompt = "you> " if sys.stdin.isatty() else ""
    while True:
        try:
            line = input(prompt).strip()
        except EOFError:
            break
        if not line:
            continue
        if line.startswith("/"):
            cmd, _, rest = line.partition(" ")
            if cmd == "/quit":
                break
            if cmd == "/reset":
                pipeline.reset(session)
                print("session cleared")
            elif cmd == "/style":
                style = None if rest.strip() in ("", "auto") else rest.strip()
                print(f"style now {style or 'routed'}")
            elif cmd == "/policy":
                pipeline.set_policy(session, None if rest.strip() in ("", "off") else rest.strip())
                print("policy updated")
            else:
                print(f"unknown command {cmd}")
            continue
        try:
            _print_answer(pipeline.ask(line, session_id=session, style=style), sys.stdout)
        except NeuloraError as exc:
            print(f"error: {exc}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import DEMO_QUESTIONS, demo_pipeline

    print("building the offline pipeline (sample notes, exemplar router, SmolLM2-135M-Instruct)...",
          file=sys.stderr)
    pipeline = demo_pipeline(args.db)
    results = []
    for n, question in enumerate(DEMO_QUESTIONS):
        answer = pipeline.ask(question, session_id=f"demo-{n}")
        results.append(answer.to_dict() | {"question": question})
        if not args.json:
            print(f"\n=== {question}")
            _print_answer(answer, sys.stdout)
    if args.json:
        _dump(results)
    return 0


# -- output --------------------------------------------------------------------------------------------
def _print_answer(answer: Any, out: TextIO) -> None:
    route = answer.route
    how = "forced" if route.forced else "fallback" if route.fallback else "routed"
    scores = "  ".join(f"{s} {v:.3f}" for s, v in sorted(route.scores.items(), key=lambda kv: -kv[1]))
    print(f"style: {answer.style} ({how}; margin {route.margin:.3f})  {scores}", file=out)
    for i, p in enumerate(answer.passages, start=1):
        print(f"  [{i}] {p.where}  ({p.score:.3f})", file=out)
    via = f" (fallback from {answer.fallback_from})" if answer.fallback_from else ""
    print(f"model: {answer.model}{via}  {answer.timings['total']:.2f}s\n\n{answer.text}", file=out)


def _dump(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    from .errors import InvalidInputError

    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise InvalidInputError(f"{path}:{n}: not JSON ({exc})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not isinstance(row.get("label"), str):
            raise InvalidInputError(f"{path}:{n}: each row needs str 'text' and 'label'")
        rows.append(row)
    if not rows:
        raise InvalidInputError(f"{path}: no rows")
    return rows


def _plot_confusion(report: Any, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        from .errors import ConfigError

        raise ConfigError("--plot needs matplotlib: pip install 'neulora[plot]'") from exc
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    matrix = report.confusion
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(report.styles)), report.styles, rotation=30)
    ax.set_yticks(range(len(report.styles)), report.styles)
    ax.set_xlabel("routed")
    ax.set_ylabel("true")
    ax.set_title(f"accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}")
    top = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, str(value), ha="center", va="center", color="white" if value > top / 2 else "black")
    fig.colorbar(image)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
