"""What the pedagogy scorer costs per response, on this machine, with the shipped scorer.

Three ways, measured in one run on the same MRBench responses (each a different dialogue and
response): one response at a time (``score``, what an answer check pays per turn), a batch of 100
(``score_many``), the sentence encoder alone on one response (what the scorer's encoder
window lets it read; the part the scorer cannot make cheaper), and the heads' boosted trees alone
on one response's features. Medians over the responses; the
first call (the encoder's weights read) is timed apart.

    python bench/bench_scorer.py [--responses 300]   # writes bench/scorer.json and .md
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
    parser.add_argument("--responses", type=int, default=300, help="responses timed one by one")
    args = parser.parse_args(argv)
    from neulora.eval import PedagogyScorer, load_mrbench
    from neulora.eval._scorer import window

    items = [
        (d.cut, r.text) for d in load_mrbench(SHARED / "mrbench_v3_dev.json") for r in d.responses
    ][: args.responses]
    started = time.perf_counter()
    scorer = PedagogyScorer.load()
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    scorer.score(*items[0])
    first_s = time.perf_counter() - started
    single, encoder, trees = [], [], []
    ensembles = [h.trees for h in scorer.model.heads.values() if h.trees is not None]
    for cut, text in items:
        t0 = time.perf_counter()
        scorer.score(cut, text)
        t1 = time.perf_counter()
        scorer.embedder.embed([window(text, scorer.model.window)])
        t2 = time.perf_counter()
        row = scorer.features([(cut, text)])
        t3 = time.perf_counter()
        for ensemble in ensembles:
            ensemble.logits(row)
        t4 = time.perf_counter()
        single.append((t1 - t0) * 1000)
        encoder.append((t2 - t1) * 1000)
        trees.append((t4 - t3) * 1000)
    batches = []
    for start in range(0, len(items) - 99, 100):
        t0 = time.perf_counter()
        scorer.score_many(items[start : start + 100])
        batches.append((time.perf_counter() - t0) * 1000 / 100)
    one = statistics.median(single)
    results: dict[str, Any] = {
        "responses": len(items),
        "load_s": load_s,
        "first_score_s": first_s,
        "median_ms_per_response": {
            "score (one at a time)": one,
            "score_many (batches of 100)": statistics.median(batches),
            "sentence encoder alone": statistics.median(encoder),
            f"boosted trees alone ({len(ensembles)} heads)": statistics.median(trees),
        },
        "p90_ms_one_at_a_time": statistics.quantiles(single, n=10)[-1],
        "budget_ms": BUDGET_MS,
        "within_budget": one <= BUDGET_MS,
        "cross_validation": scorer.model.about.get("cross_validation", {}),
    }
    (HERE / "scorer.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Pedagogy scorer: cost per response",
        "",
        f"{len(items)} MRBench responses, each scored with its dialogue; medians of one run "
        "(`python bench/bench_scorer.py`).",
        "",
        "| how | median ms per response |",
        "|---|---|",
        *(f"| {k} | {v:.2f} |" for k, v in results["median_ms_per_response"].items()),
        "",
        f"One at a time: median {one:.2f} ms, {'within' if results['within_budget'] else 'over'} "
        f"the {BUDGET_MS} ms budget; p90 {results['p90_ms_one_at_a_time']:.2f} ms. Loading took "
        f"{load_s:.2f} s and the first score (the encoder's weights read) {first_s:.2f} s.",
        "",
        "Cross-validated agreement of the shipped scorer with MRBench's human labels (5 folds by "
        "dialogue, on the shared half; from the scorer file). Which cues each head reads and the "
        "word weight were chosen on the same folds: the figures are a little optimistic.",
        "",
        "| dimension | macro-F1 | majority macro-F1 | accuracy | n |",
        "|---|---|---|---|---|",
        *(
            f"| {d} | {a['macro_f1']:.3f} | {a['majority_macro_f1']:.3f} | {a['accuracy']:.3f} "
            f"| {a['n']} |"
            for d, a in results["cross_validation"].items()
        ),
    ]
    (HERE / "scorer.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return results


if __name__ == "__main__":
    main()
