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
    p.add_argument(
        "--reveal-precision",
        type=float,
        help="the out-of-fold precision the answer checks' reveals_answer threshold is chosen "
        "for (0.82: 0.8 and a margin)",
    )
    p.add_argument(
        "--encoder-window",
        type=int,
        help="characters of a response the sentence encoder reads, its first and last halves "
        "(200; 0: all of it)",
    )
    p.add_argument(
        "--plain-heads",
        action="store_true",
        help="multinomial heads only: no Naive-Bayes one-vs-rest head mixed in for mistake "
        "identification, guidance and actionability, and no boosted trees mixed in for them",
    )
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
    p.add_argument(
        "--config", help="a JSON settings file (its judge_token, else its token, goes to the judge)"
    )

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
    from pathlib import Path

    from ..embedders._use import UniversalSentenceEncoder
    from ..eval import load_mrbench, train_scorer

    if args.folds < 2:
        raise ConfigError(f"--folds must be at least 2, got {args.folds}")
    if not args.c > 0:
        raise ConfigError(f"--c must be positive, got {args.c}")
    options: dict[str, Any] = {}
    if args.reveal_precision is not None:
        options["reveal_precision"] = args.reveal_precision
    if args.encoder_window is not None:
        if args.encoder_window != 0 and args.encoder_window < 20:
            raise ConfigError(
                f"--encoder-window must be 0 or at least 20, got {args.encoder_window}"
            )
        options["encoder_window"] = args.encoder_window or None
    if args.reveal_precision is not None and not 0.0 < args.reveal_precision < 1.0:
        raise ConfigError(
            f"--reveal-precision must lie between 0 and 1, got {args.reveal_precision}"
        )
    if args.plain_heads:
        options["nb_heads"] = {}
        options["tree_heads"] = {}
    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        raise ConfigError(f"--out {out}: give a file in an existing folder")
    dialogues = [d for path in args.files for d in load_mrbench(path)]
    trained = train_scorer(
        dialogues,
        UniversalSentenceEncoder(),
        folds=args.folds,
        c=args.c,
        **options,
    )
    try:
        trained.scorer.save(out)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write the scorer ({exc.strerror})") from exc
    _show(trained.cross_validation, args.json)
    for name, t in trained.scorer.model.thresholds.items():
        print(
            f"{name}: flagged at p({t.label}) >= {t.p:.3f}; out of fold precision "
            f"{t.precision:.3f}, recall {t.recall:.3f} (n={t.n})",
            file=sys.stderr,
        )
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
    settings = settings_from(args)
    token = settings.judge_token or settings.token
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
    if args.json:
        # what was measured travels with the figures: a replay checks it is the judge it uses
        judged = {"model": args.judge_model, "dimensions": list(judge.dimensions)}
        json.dump({"judge": judged, **report.to_dict()}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(report.format())
    return 0


def _replay(args: argparse.Namespace) -> int:
    from ._replay import run_replay

    return run_replay(args)


def _show(report: Any, as_json: bool) -> None:
    if as_json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(report.format())
