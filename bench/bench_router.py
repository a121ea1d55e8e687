"""Routing cost once the embedding exists, against what the original did.

Re-read the JSON, loop per style.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
from common import median_time, report

from neulora import CentroidRouter
from neulora.embedders import HashingEmbedder

ROUTER_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "router_model.json"


def original_route(vec: list[float], path: Path) -> str:
    """What the original app did per question: load the JSON, loop over styles in Python."""
    data = json.loads(path.read_text(encoding="utf-8"))
    best = "direct"
    best_score = -2.0
    qn = math.sqrt(sum(v * v for v in vec))
    for style in data["styles"]:
        c = data["centroids"][style]
        score = sum(a * b for a, b in zip(vec, c, strict=True)) / (
            qn * math.sqrt(sum(b * b for b in c))
        )
        if score > best_score:
            best = style
            best_score = score
    return best


def main(n_batch: int = 100_000) -> dict[str, object]:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROUTER_FILE
    # only route_vector is timed, on random vectors: the embedder is a stand-in of the right width
    router = CentroidRouter.from_file(path, HashingEmbedder(dim=1024), allow_mismatch=True)
    rng = np.random.default_rng(0)
    q = rng.normal(size=1024).astype(np.float32)
    q /= np.linalg.norm(q)
    q_list = q.tolist()
    assert original_route(q_list, path) == router.route_vector(q).style
    single_ours = median_time(lambda: router.route_vector(q), repeat=9, number=200)
    single_orig = median_time(lambda: original_route(q_list, path), repeat=5, number=3)

    batch = rng.normal(size=(n_batch, 1024)).astype(np.float32)
    batch /= np.linalg.norm(batch, axis=1, keepdims=True)
    c = router.to_spec().centroids.astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    bare = median_time(lambda: batch @ c.T, repeat=7)
    ours_norm = median_time(lambda: router.route_vectors(batch, normalized=True), repeat=7)
    ours_raw = median_time(lambda: router.route_vectors(batch), repeat=7)
    results = {
        "single_route_vector_us": single_ours * 1e6,
        "single_original_ms": single_orig * 1e3,
        "single_speedup": single_orig / single_ours,
        "batch_n": n_batch,
        "batch_bare_matmul_ms": bare * 1e3,
        "batch_route_normalized_ms": ours_norm * 1e3,
        "batch_route_unnormalized_ms": ours_raw * 1e3,
        "batch_ratio_normalized": ours_norm / bare,
        "batch_ratio_unnormalized": ours_raw / bare,
        "targets": {"single_speedup": ">= 100", "batch_ratio": "<= 2"},
    }
    return report(
        "router",
        results,
        [
            ("route_vector, one query", f"{single_ours * 1e6:.1f} us (median)"),
            (
                "original (read JSON + loop)",
                f"{single_orig * 1e3:.1f} ms  -> {results['single_speedup']:.0f}x faster",
            ),
            (f"bare numpy matmul, {n_batch} x 1024", f"{bare * 1e3:.1f} ms"),
            (
                "route_vectors(normalized=True)",
                f"{ours_norm * 1e3:.1f} ms  ({results['batch_ratio_normalized']:.2f}x)",
            ),
            (
                "route_vectors (normalises)",
                f"{ours_raw * 1e3:.1f} ms  ({results['batch_ratio_unnormalized']:.2f}x)",
            ),
        ],
    )


if __name__ == "__main__":
    main()
