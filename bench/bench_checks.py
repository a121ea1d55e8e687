"""What the answer checks add to a turn, on this machine, with the shipped scorer.

The same turns run with the checks off and on (``flag``), alternating, in one run: a pipeline with
a scripted style client (each turn answers the next MRBench response to its learner turn, in the
socratic style, whose contract the checks read) and no retrieval, so the difference is the check.
The check alone (``AnswerChecks.check``) is timed on the same answers. Medians over the turns; the
scorer's loading is done before timing (``warm_up``, as ``neulora serve`` and the CLI do).

    python bench/bench_checks.py [--turns 300]   # writes bench/checks.json and .md
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data" / "mrbench"
BUDGET_MS = 5.0


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=300, help="turns timed each way")
    args = parser.parse_args(argv)
    from neulora import Pipeline
    from neulora.embedders import HashingEmbedder
    from neulora.eval import load_mrbench
    from neulora.testing import FakeRouter, FakeStyleClient
    from neulora.turn import AnswerChecks, TurnOptions

    items = [
        (d.cut.learner, r.text)
        for d in load_mrbench(SHARED / "mrbench_v3_dev.json")
        for r in d.responses
    ][: args.turns]
    started = time.perf_counter()
    checks = AnswerChecks()
    checks.warm_up()
    warm_s = time.perf_counter() - started
    client = FakeStyleClient()
    router = FakeRouter(HashingEmbedder(dim=64), style="socratic")
    off = Pipeline(router, None, client, options=TurnOptions(checks=None))
    on = Pipeline(router, None, client, options=TurnOptions(checks=checks))
    times: dict[str, list[float]] = {"turn, checks off": [], "turn, checks on": [], "check": []}
    flagged = 0
    for question, response in items:
        for name, pipeline in (("turn, checks off", off), ("turn, checks on", on)):
            client.enqueue(response)
            t0 = time.perf_counter()
            answer = pipeline.ask(question)
            times[name].append((time.perf_counter() - t0) * 1000)
        flagged += bool(answer.violations)
        t0 = time.perf_counter()
        checks.check("socratic", question, [], response)
        times["check"].append((time.perf_counter() - t0) * 1000)
    medians = {name: statistics.median(values) for name, values in times.items()}
    added = medians["turn, checks on"] - medians["turn, checks off"]
    results: dict[str, Any] = {
        "turns": len(items),
        "warm_up_s": warm_s,
        "median_ms": medians,
        "p90_ms_check": statistics.quantiles(times["check"], n=10)[-1],
        "added_ms_per_turn": added,
        "budget_ms": BUDGET_MS,
        "within_budget": added <= BUDGET_MS,
        "flagged_share": flagged / len(items),
    }
    (HERE / "checks.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Answer checks: cost per turn",
        "",
        f"{len(items)} turns each way, alternating, in one run (`python bench/bench_checks.py`): a "
        "pipeline with a scripted client answering MRBench responses in the socratic style, no "
        "retrieval; medians.",
        "",
        "| what | median ms |",
        "|---|---|",
        *(f"| {name} | {value:.2f} |" for name, value in medians.items()),
        "",
        f"The checks add {added:.2f} ms to a turn (median against median), "
        f"{'within' if results['within_budget'] else 'over'} the {BUDGET_MS} ms budget; the check "
        f"alone has p90 {results['p90_ms_check']:.2f} ms. Reading the scorer and its encoder "
        f"(`warm_up`, once per process) took {warm_s:.2f} s. "
        f"{results['flagged_share']:.0%} of these answers were flagged as revealing.",
    ]
    (HERE / "checks.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return results


if __name__ == "__main__":
    main()
