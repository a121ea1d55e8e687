"""What the answer checks add to a turn, on this machine, with the shipped scorer.

The same turns run with the checks off and on (``flag``), alternating, in one run: a pipeline with
a scripted style client answering in the socratic style (whose contract the checks read) and no
retrieval, so the difference is the check. Three kinds of turn: MRBench's responses as they are
(median 144 characters), answers as long as a tutor model writes (MRBench responses joined to at
least 800 characters), and those long answers in a session six turns deep. Medians over the turns;
the scorer is read before timing (``warm_up``, as ``neulora serve`` and the CLI do).

    python bench/bench_checks.py [--turns 200]   # writes bench/checks.json and .md
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
LONG = 800


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=200, help="turns timed each way, per kind")
    args = parser.parse_args(argv)
    from neulora.eval import load_mrbench

    pairs = [
        (d.cut.learner, r.text)
        for d in load_mrbench(SHARED / "mrbench_v3_dev.json")
        for r in d.responses
    ]
    short = pairs[: args.turns]
    long = []
    for i, (question, _) in enumerate(pairs[: args.turns]):
        text = ""
        j = i
        while len(text) < LONG:
            text += pairs[j % len(pairs)][1] + " "
            j += 1
        long.append((question, text.strip()))
    kinds = {
        "MRBench responses": (short, 0),
        f"answers of {LONG}+ characters": (long, 0),
        f"answers of {LONG}+ characters, 6 turns deep": (long, 6),
    }
    measured = {name: _measure(turns, depth) for name, (turns, depth) in kinds.items()}
    results: dict[str, Any] = {
        "turns_per_kind": args.turns,
        "kinds": measured,
        "budget_ms": BUDGET_MS,
        "within_budget": all(m["added_ms"] <= BUDGET_MS for m in measured.values()),
    }
    (HERE / "checks.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Answer checks: cost per turn",
        "",
        f"{args.turns} turns of each kind, checks off and on alternating, in one run "
        "(`python bench/bench_checks.py`): a pipeline with a scripted client answering in the "
        "socratic style, no retrieval; medians in ms.",
        "",
        "| turns | answer chars (median) | turn, checks off | turn, checks on | added "
        "| check alone p90 | flagged |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {name} | {m['chars']:.0f} | {m['off_ms']:.2f} | {m['on_ms']:.2f} | "
            f"{m['added_ms']:.2f} | {m['check_p90_ms']:.2f} | {m['flagged']:.0%} |"
            for name, m in measured.items()
        ),
        "",
        f"Budget {BUDGET_MS} ms added per turn: "
        f"{'met' if results['within_budget'] else 'not met'} for every kind. The sentence encoder "
        "reads at most the answer's first and last 100 characters (the scorer's encoder window); "
        "the word and cue features read all of it. Reading the scorer and its encoder "
        f"(`warm_up`, once per process) took {measured['MRBench responses']['warm_up_s']:.2f} s.",
    ]
    (HERE / "checks.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return results


def _measure(turns: list[tuple[str, str]], depth: int) -> dict[str, float]:
    """The same turns with the checks off and on, alternating; ``depth`` earlier turns each."""
    from neulora import Pipeline
    from neulora.embedders import HashingEmbedder
    from neulora.memory import Turn
    from neulora.testing import FakeRouter, FakeStyleClient
    from neulora.turn import AnswerChecks, TurnOptions

    started = time.perf_counter()
    checks = AnswerChecks()
    checks.warm_up()
    warm_s = time.perf_counter() - started
    client = FakeStyleClient()
    router = FakeRouter(HashingEmbedder(dim=64), style="socratic")
    off = Pipeline(router, None, client, options=TurnOptions(checks=None))
    on = Pipeline(router, None, client, options=TurnOptions(checks=checks))
    times: dict[str, list[float]] = {"off": [], "on": [], "check": []}
    flagged = 0
    for n, (question, response) in enumerate(turns):
        earlier = [
            {"role": role, "content": text}
            for q, a in turns[n + 1 : n + 1 + depth]
            for role, text in (("user", q), ("assistant", a))
        ]
        history = earlier or None
        for name, pipeline in (("off", off), ("on", on)):
            client.enqueue(response)
            t0 = time.perf_counter()
            answer = pipeline.ask(question, history=history)
            times[name].append((time.perf_counter() - t0) * 1000)
        flagged += bool(answer.violations)
        kept = [Turn(q, a, "socratic") for q, a in turns[n + 1 : n + 1 + depth]]
        t0 = time.perf_counter()
        checks.check("socratic", question, kept, response)
        times["check"].append((time.perf_counter() - t0) * 1000)
    off_ms = statistics.median(times["off"])
    on_ms = statistics.median(times["on"])
    return {
        "chars": statistics.median(len(r) for _, r in turns),
        "off_ms": off_ms,
        "on_ms": on_ms,
        "added_ms": on_ms - off_ms,
        "check_p90_ms": statistics.quantiles(times["check"], n=10)[-1],
        "flagged": flagged / len(turns),
        "warm_up_s": warm_s,
    }


if __name__ == "__main__":
    main()
