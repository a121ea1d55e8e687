"""``neulora eval run``: replay dialogues through every variant, score them, write the report.

The run's folder holds ``results.jsonl`` (appended as answers arrive), ``run.json`` (what the run
asks with: a re-run with other settings is refused instead of mixing two runs in one report), a
lock (one run writes a folder at a time) and the reports.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .._redact import redact_url
from .._styles import STYLES
from ..errors import ConfigError

_AGREEMENT_FIELDS = ("n", "accuracy", "macro_f1", "kappa", "failures")


def run_replay(args: argparse.Namespace) -> int:
    import asyncio

    from filelock import FileLock, Timeout
    from tqdm.auto import tqdm

    from ..eval import LLMJudge, PedagogyScorer
    from ..eval._replay import Replay, ReplayPlan, ResultsFile, replay_items
    from ..eval._report import write_report
    from ..llm import HFStyleClient
    from ._build import settings_from

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    agreement = _checked_flags(args)
    settings = settings_from(args)
    url = args.engine_url or settings.base_url
    if not url:
        raise ConfigError("give the engine: --engine-url URL or NEULORA_BASE_URL")
    items = replay_items(args.dialogues, every=args.turns == "all")
    items = items[: args.limit] if args.limit is not None else items
    plan = ReplayPlan(
        items,
        variants,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        seed=args.seed,
        stream=args.stream,
    )
    out = _folder(args.out)
    lock = FileLock(str(out / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError(f"--out {out}: another run is writing there now") from None
    try:
        tutor, base, setup = _tutors(args, settings, url)
        judge = None
        if args.judge_url:
            # the engine's token stays with the engine: the judge gets its own, or the ambient
            # one where that may go (Hugging Face hosts)
            judge_client = HFStyleClient(
                {"judge": args.judge_model},
                token=settings.judge_token,
                base_url=args.judge_url,
                fallback=None,
            )
            if settings.token and not settings.judge_token:
                print(
                    "neulora: note: the judge is not sent the engine's token; give it its own "
                    "(NEULORA_JUDGE_TOKEN, or judge_token in --config)",
                    file=sys.stderr,
                )
            assert agreement is not None  # checked with the flags: a judge comes with its check
            judge = LLMJudge(judge_client, dimensions=agreement["judge"]["dimensions"])
            setup["judge"] = {"url": shown(args.judge_url), "model": args.judge_model}
        _same_run(out, args, setup)
        scorer = PedagogyScorer.load()
        if items:
            scorer.score(items[0].cut, "Warm-up.")  # the encoder loads now, not on the loop

        async def run() -> list[Any]:
            try:
                with tqdm(unit="answer", desc="replaying", delay=2.0) as bar:
                    return await Replay(tutor, base, scorer, judge=judge).run(
                        plan,
                        ResultsFile(out / "results.jsonl"),
                        concurrency=args.concurrency,
                        progress=bar,
                    )
            finally:
                for client in (tutor.client, base.client, judge.client if judge else None):
                    if client is not None:
                        await client.aclose()

        results = asyncio.run(run())
    finally:
        lock.release()
    wanted = {(item.id, variant) for item, variant in plan.work()}
    results = [r for r in results if r.key in wanted]
    report = write_report(
        out,
        results,
        judge_agreement=agreement,
        requested=plan.variants,
        setup=setup,
        dialogues={item.id: item.group for item in items},
        pyplot=_plots(),
    )
    for name, v in report["variants"].items():
        if v["n"] and not v["valid"]:
            print(f"neulora: variant {name} is not valid (over 5% failures)", file=sys.stderr)
    print((out / "report.md").read_text(encoding="utf-8"))
    return 0


def shown(url: str) -> str:
    """A URL as reports show it: no password, no query string (keys travel there too).

    >>> shown("http://me:pw@engine:8000/v1?api_key=abc")
    'http://me:***@engine:8000/v1?***'
    """
    parts = urlsplit(url)
    return redact_url(urlunsplit(parts._replace(query="***" if parts.query else "", fragment="")))


def _checked_flags(args: argparse.Namespace) -> dict[str, Any] | None:
    """Refuse flags that cannot work before anything loads; the judge's agreement, if judged."""
    for name, value in (("--concurrency", args.concurrency), ("--max-tokens", args.max_tokens)):
        if value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")
    if not (0 <= args.temperature <= 2):  # NaN too
        raise ConfigError(f"--temperature must be a number from 0 to 2, got {args.temperature}")
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    if bool(args.judge_url) != bool(args.judge_model):
        raise ConfigError("--judge-url and --judge-model go together")
    if not args.judge_url:
        return None
    if not args.judge_check:
        raise ConfigError(
            "a judge counts only once checked: run neulora eval judge-check ... --json > "
            "check.json with the same judge and pass --judge-check check.json"
        )
    return _agreement_file(Path(args.judge_check), args.judge_model)


def _agreement_file(path: Path, model: str) -> dict[str, Any]:
    """The JSON of ``judge-check --json`` for ``model``, every figure checked."""
    where = f"--judge-check {path}"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ConfigError(f"{where}: not a judge-check JSON file ({exc})") from exc
    judge = raw.get("judge") if isinstance(raw, dict) else None
    dimensions = raw.get("dimensions") if isinstance(raw, dict) else None
    if not isinstance(judge, dict) or not isinstance(dimensions, dict) or not dimensions:
        raise ConfigError(f"{where}: expected the JSON of judge-check --json (judge, dimensions)")
    if judge.get("model") != model:
        raise ConfigError(
            f"{where} measured the judge {judge.get('model')!r}, not --judge-model {model!r}"
        )
    asked = judge.get("dimensions")
    if not isinstance(asked, list) or sorted(asked) != sorted(dimensions):
        raise ConfigError(f"{where}: its judge's dimensions and its figures differ")
    for dimension, figures in dimensions.items():
        ok = isinstance(figures, dict) and all(
            isinstance(figures.get(k), (int, float))
            and not isinstance(figures.get(k), bool)
            and math.isfinite(figures[k])
            for k in _AGREEMENT_FIELDS
        )
        if not ok:
            raise ConfigError(f"{where}: {dimension} needs numbers for {list(_AGREEMENT_FIELDS)}")
    return dict(raw)


def _folder(name: str) -> Path:
    out = Path(name)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"--out {name}: not a folder (a file is in the way)") from None
    except OSError as exc:
        raise ConfigError(f"--out {name}: cannot make the folder ({exc.strerror})") from None
    return out


def _same_run(out: Path, args: argparse.Namespace, setup: dict[str, Any]) -> None:
    """Write ``run.json``, or check that the run already in ``out`` asked the same way."""
    asked = {
        "dialogues": Path(args.dialogues).name,
        "turns": args.turns,
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "seed": args.seed,
        "models": setup["models"],  # the engine may move (a restart, a new port): not its name
        "router": setup["router"],
        "judge": setup.get("judge", {}).get("model"),
    }
    path = out / "run.json"
    if path.exists():
        try:
            before = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: unreadable ({exc}): use another --out") from exc
        changed = [k for k in asked if not isinstance(before, dict) or before.get(k) != asked[k]]
        if changed:
            raise ConfigError(
                f"--out {out} holds a run asked with other {', '.join(changed)}: resuming would "
                "mix two runs in one report; use another --out"
            )
        return
    path.write_text(json.dumps(asked, indent=2) + "\n", encoding="utf-8")


def _tutors(args: argparse.Namespace, settings: Any, url: str) -> tuple[Any, Any, dict[str, Any]]:
    """The pipelines that answer: every style's model, and the base model behind every style.

    The settings' router, notes and relevance rule; clients without a fallback. Without a notes
    collection the notes are an empty one in memory (nothing is created on disk).
    """
    from .._assemble import build_embedder, build_retriever, build_router
    from ..errors import CollectionNotFoundError
    from ..eval._replay import BASE_PROMPT
    from ..llm import HFStyleClient, default_models
    from ..pipeline import Pipeline
    from ..retrieval import ChromaRetriever
    from ..turn import PromptSet, TurnOptions

    embedder = build_embedder(settings)
    router = build_router(settings, embedder)
    place = settings.chroma_location().get("path")
    try:
        if place is not None and not Path(place).is_dir():  # opening it would create it
            raise CollectionNotFoundError(f"no Chroma database at {place}")
        retriever = build_retriever(settings, embedder, create=False)
        notes = f"{retriever.collection_name} ({retriever.count()} chunks)"
    except CollectionNotFoundError:
        import chromadb

        retriever = ChromaRetriever(embedder, client=chromadb.EphemeralClient())  # empty, in memory
        notes = "none (no collection found: answers from the dialogue alone)"
    models = {**default_models(), **settings.models}
    styled = HFStyleClient(models, token=settings.token, base_url=url, fallback=None)
    plain = HFStyleClient(
        {s: args.base_model for s in STYLES}, token=settings.token, base_url=url, fallback=None
    )
    parts: dict[str, Any] = {
        # a variant is measured as its model answers: never checked and rewritten (the replay
        # scores every answer itself)
        "options": TurnOptions(k=settings.k, checks=None),
        "relevance": "auto" if settings.min_score is None else settings.min_score,
    }
    tutor = Pipeline(router, retriever, styled, **parts)
    base = Pipeline(
        router,
        retriever,
        plain,
        prompts=PromptSet(system={s: BASE_PROMPT for s in STYLES}),
        **parts,
    )
    setup = {
        "engine": shown(url),
        "models": {
            name: shown(target) if target.startswith(("http://", "https://")) else target
            for name, target in {**models, "base": args.base_model}.items()
        },
        "router": f"{router.to_spec().head} on {router.embedder.name}",
        "notes": notes,
    }
    return tutor, base, setup


def _plots() -> Any:
    from ._eval import pyplot

    try:
        return pyplot()
    except ConfigError:  # no matplotlib: the JSON and Markdown reports still come
        print(
            "neulora: matplotlib missing, report.png skipped (pip install 'neulora[eval]')",
            file=sys.stderr,
        )
        return None
