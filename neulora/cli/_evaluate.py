"""``neulora eval ...``: train and check the pedagogy scorer, check an LLM judge."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import ConfigError


def add_eval(sub: Any) -> None:
    """The ``eval`` command and its own subcommands."""
    parent = sub.add_parser(
        "eval",
        help="Evaluate tutor responses: the pedagogy scorer and LLM judges, on MRBench labels.",
        description="Evaluate tutor responses: the pedagogy scorer and LLM judges.",
    )
    commands = parent.add_subparsers(required=True, metavar="EVAL_COMMAND")

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

    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    if args.concurrency < 1:
        raise ConfigError(f"--concurrency must be at least 1, got {args.concurrency}")
    dialogues = load_mrbench(args.file)
    labelled = {name for d in dialogues for r in d.responses for name in r.labels}
    asked = [name for name in JUDGED if name in labelled]  # what the file can check
    if not asked:
        raise ConfigError(f"{args.file} has no human labels on {', '.join(JUDGED)}")
    judge = LLMJudge(
        HFStyleClient({"judge": args.judge_model}, base_url=args.judge_url, fallback=None),
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


def _show(report: Any, as_json: bool) -> None:
    if as_json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(report.format())
