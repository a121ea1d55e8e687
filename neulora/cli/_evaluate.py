"""``neulora eval ...``: train and check the pedagogy scorer, check an LLM judge."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .._styles import STYLES
from ..errors import ConfigError

# the replay's variants (neulora.eval._replay.VARIANTS, named here so that --help imports no numpy)
VARIANTS = ("base", "routed", *STYLES, "random", "oracle")


def add_eval(sub: Any) -> None:
    """The ``eval`` command and its own subcommands."""
    parent = sub.add_parser(
        "eval",
        help="Evaluate tutor responses: the pedagogy scorer and LLM judges, on MRBench labels.",
        description="Evaluate tutor responses: the pedagogy scorer and LLM judges.",
    )
    commands = parent.add_subparsers(
        required=True, metavar="EVAL_COMMAND", help="scorer-train, scorer-check, judge-check, run"
    )

    p = commands.add_parser(
        "scorer-train",
        help="Train a pedagogy scorer on MRBench files; print its cross-validated agreement.",
    )
    p.set_defaults(run=_scorer_train)
    p.add_argument("files", nargs="+", help="MRBench JSON files (either shape)")
    p.add_argument("--out", required=True, help="where to write the scorer (JSON)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds, by dialogue (5)")
    p.add_argument("--c", type=float, default=2.0, help="inverse regularisation strength (2.0)")
    p.add_argument("--json", action="store_true", help="print the cross-validation as JSON")

    p = commands.add_parser(
        "scorer-check", help="A scorer's agreement with the human labels of an MRBench file."
    )
    p.set_defaults(run=_scorer_check)
    p.add_argument("file", help="an MRBench JSON file (either shape)")
    p.add_argument("--scorer", help="a scorer file (default: the one shipped with neulora)")
    p.add_argument("--json", action="store_true", help="print the agreement as JSON")

    p = commands.add_parser(
        "judge-check",
        help="An LLM judge's agreement with the human labels of an MRBench file.",
    )
    p.set_defaults(run=_judge_check)
    p.add_argument("file", help="an MRBench JSON file (either shape)")
    p.add_argument("--judge-url", required=True, help="an OpenAI-compatible endpoint's base URL")
    p.add_argument("--judge-model", required=True, help="the model name sent to it")
    p.add_argument("--limit", type=int, help="judge only the first N responses")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight (4)")
    p.add_argument("--json", action="store_true", help="print the agreement as JSON")
    p.add_argument("--config", help="a JSON settings file (its token goes to the judge)")

    p = commands.add_parser(
        "run",
        help="Replay dialogues through every variant of the tutor; score, compare, report.",
        description="Replay MathDial or MRBench dialogues, cut at a learner turn, through each "
        "variant (base, routed, a style, random, oracle) on your engine; results.jsonl is "
        "appended as answers arrive (a re-run skips what it holds); report.json, report.md and "
        "report.png are written at the end.",
    )
    p.set_defaults(run=_replay)
    p.add_argument("dialogues", help="a MathDial JSONL or an MRBench JSON file")
    p.add_argument("--out", required=True, help="the run's folder (results.jsonl, report.*)")
    p.add_argument(
        "--engine-url",
        help="the OpenAI-compatible engine (NEULORA_BASE_URL); its model names "
        "are NEULORA_MODEL_<STYLE> and --base-model",
    )
    p.add_argument(
        "--base-model",
        default="Qwen/Qwen2.5-14B-Instruct",
        help="the base model without an adapter (Qwen/Qwen2.5-14B-Instruct)",
    )
    p.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help="comma-separated, from " + ",".join(VARIANTS) + " (all)",
    )
    p.add_argument("--turns", choices=["last", "all"], default="last", help="cut where (last)")
    p.add_argument("--limit", type=int, help="replay only the first N cuts")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight (4)")
    p.add_argument("--max-tokens", type=int, default=512, help="longest answer (512)")
    p.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (0.7)")
    p.add_argument("--seed", type=int, default=0, help="the random variant's seed (0)")
    p.add_argument("--stream", action="store_true", help="ask the engine for streamed answers")
    p.add_argument("--judge-url", help="an LLM judge's OpenAI-compatible endpoint")
    p.add_argument("--judge-model", help="the judge's model name")
    p.add_argument(
        "--judge-check",
        help="the judge's measured agreement (the JSON of neulora eval judge-check --json): "
        "required with a judge, shown beside its verdicts",
    )
    p.add_argument("--router", help="router file for the routed variant (NEULORA_ROUTER)")
    p.add_argument("--embedder", choices=["hash", "local", "api", "use"], help="NEULORA_EMBEDDER")
    p.add_argument("--config", help="a JSON settings file (keys as in neulora.settings)")


def _scorer_train(args: argparse.Namespace) -> int:
    from ..embedders._use import UniversalSentenceEncoder
    from ..eval import load_mrbench, train_scorer

    if args.folds < 2:
        raise ConfigError(f"--folds must be at least 2, got {args.folds}")
    if not args.c > 0:
        raise ConfigError(f"--c must be positive, got {args.c}")
    dialogues = [d for path in args.files for d in load_mrbench(path)]
    trained = train_scorer(dialogues, UniversalSentenceEncoder(), folds=args.folds, c=args.c)
    trained.scorer.save(args.out)
    _show(trained.cross_validation, args.json)
    print(f"scorer written to {args.out} (cross-validated by dialogue above)", file=sys.stderr)
    return 0


def _scorer_check(args: argparse.Namespace) -> int:
    from ..eval import PedagogyScorer, check_scorer, load_mrbench

    dialogues = load_mrbench(args.file)
    scorer = PedagogyScorer.load(args.scorer)
    _show(check_scorer(scorer, dialogues), args.json)
    return 0


def _judge_check(args: argparse.Namespace) -> int:
    import asyncio

    from tqdm.auto import tqdm

    from ..eval import LLMJudge, check_judge, load_mrbench
    from ..eval._judge import JUDGED
    from ..llm import HFStyleClient
    from ._build import settings_from

    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    if args.concurrency < 1:
        raise ConfigError(f"--concurrency must be at least 1, got {args.concurrency}")
    dialogues = load_mrbench(args.file)
    labelled = {name for d in dialogues for r in d.responses for name in r.labels}
    asked = [name for name in JUDGED if name in labelled]  # what the file can check
    if not asked:
        raise ConfigError(f"{args.file} has no human labels on {', '.join(JUDGED)}")
    token = settings_from(args).token
    judge = LLMJudge(
        HFStyleClient(
            {"judge": args.judge_model}, token=token, base_url=args.judge_url, fallback=None
        ),
        dimensions=asked,
    )
    total = sum(len(d.responses) for d in dialogues)
    total = min(total, args.limit) if args.limit is not None else total
    with tqdm(total=total, unit="response", desc="judging", delay=2.0) as bar:
        report = asyncio.run(
            check_judge(
                judge, dialogues, limit=args.limit, concurrency=args.concurrency, progress=bar
            )
        )
    _show(report, args.json)
    return 0


def _replay(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from tqdm.auto import tqdm

    from .._redact import redact_url
    from ..eval import LLMJudge, PedagogyScorer
    from ..eval._replay import Replay, ReplayPlan, ResultsFile, human_results, replay_items
    from ..eval._report import write_report
    from ..llm import HFStyleClient
    from ._build import settings_from

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    agreement = _checked_run_flags(args)
    settings = settings_from(args)
    url = args.engine_url or settings.base_url
    if not url:
        raise ConfigError("give the engine: --engine-url URL or NEULORA_BASE_URL")
    items, labelled = replay_items(args.dialogues, every=args.turns == "all")
    items = items[: args.limit] if args.limit is not None else items
    plan = ReplayPlan(
        items,
        variants,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        seed=args.seed,
        stream=args.stream,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tutor, base, setup = _tutors(args, settings, url)
    judge = None
    if args.judge_url:
        judge_client = HFStyleClient(
            {"judge": args.judge_model},
            token=settings.token,
            base_url=args.judge_url,
            fallback=None,
        )
        judge = LLMJudge(judge_client)
        setup["judge"] = {"url": redact_url(args.judge_url), "model": args.judge_model}
    scorer = PedagogyScorer.load()
    replay = Replay(tutor, base, scorer, judge=judge)

    async def run() -> list[Any]:
        try:
            with tqdm(unit="answer", desc="replaying", delay=2.0) as bar:
                return await replay.run(
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
    kept = {item.id for item in items}
    results = [r for r in results if r.dialogue_id in kept and r.variant in variants]
    humans = human_results([d for d in labelled if d.dialogue.id in kept], scorer)
    report = write_report(
        out,
        results + humans,
        judge_agreement=agreement,
        requested=variants,
        setup=setup,
        pyplot=_plots(),
    )
    invalid = [name for name, v in report["variants"].items() if not v["valid"]]
    for name in invalid:
        print(f"neulora: variant {name} is not valid (over 5% failures)", file=sys.stderr)
    print((out / "report.md").read_text(encoding="utf-8"))
    return 0


def _checked_run_flags(args: argparse.Namespace) -> dict[str, Any] | None:
    """Refuse flags that cannot work before anything loads; the judge's agreement, if judged."""
    from pathlib import Path

    for name, value in (("--concurrency", args.concurrency), ("--max-tokens", args.max_tokens)):
        if value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")
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
    return _agreement_file(Path(args.judge_check))


def _tutors(args: argparse.Namespace, settings: Any, url: str) -> tuple[Any, Any, dict[str, Any]]:
    """The pipelines that answer: every style's model, and the base model behind every style.

    The settings' router, notes and relevance rule; clients without a fallback. Without a notes
    collection the notes are an empty one in memory (nothing is created on disk).
    """
    from pathlib import Path

    from .._assemble import build_embedder, build_retriever, build_router
    from .._redact import redact_url
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
        "options": TurnOptions(k=settings.k),
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
        "engine": redact_url(url),
        "models": {**models, "base": args.base_model},
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


def _agreement_file(path: Any) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--judge-check {path}: not a judge-check JSON file ({exc})") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("dimensions"), dict):
        raise ConfigError(f"--judge-check {path}: expected the JSON of judge-check --json")
    return raw


def _show(report: Any, as_json: bool) -> None:
    if as_json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(report.format())
