"""Query latency right after a 10,000-chunk ingest, beside the steady state and langchain-chroma.

Run with the peers' venv (bench/peers/setup.sh): ``bench/peers/.venv/bin/python
bench/peers/bench_after_ingest.py [--save]``. Everything embeds with ``HashingEmbedder(dim=1024)``
and asks for k=10.

A store holding 10,000 chunks answers queries (the steady state, its exact index loaded); then
10,000 more chunks are ingested and the same queries are asked again at once: the first query's
latency and the p99 of the next 100. Each case in its own fresh store, one run:

- ``neulora, same handle``: the ingest goes through the handle that answers (an upload to ``neulora
  serve``);
- ``neulora, another writer``: another handle (another process, ``neulora ingest`` beside a server)
  writes;
- the same two with ``background_loads = False``: the reader that finds the index stale reloads it
  itself (the behaviour before);
- ``langchain-chroma``: ``Chroma.add_texts``, then
  ``similarity_search_by_vector_with_relevance_scores``.

The target: the first query after a write within 2x the steady-state p99.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from common import percentile  # noqa: E402
from corpus import chunks_and_queries  # noqa: E402

from neulora import ChromaRetriever  # noqa: E402
from neulora.embedders._hashing import HashingEmbedder  # noqa: E402

DIM = 1024
N = 10_000
K = 10
AFTER = 100


def timed(search: Callable[[Any], Any], vectors: list[Any]) -> list[float]:
    out = []
    for v in vectors:
        started = time.perf_counter()
        search(v)
        out.append((time.perf_counter() - started) * 1e3)
    return out


def summary(steady: list[float], after: list[float], settled: list[float]) -> dict[str, float]:
    p99 = percentile(steady, 0.99)
    settled_p99 = percentile(settled, 0.99)
    return {
        "steady_p50_ms": round(statistics.median(steady), 3),
        "steady_p99_ms": round(p99, 3),
        "first_after_ms": round(after[0], 3),
        "after_p99_ms": round(percentile(after[1:], 0.99), 3),
        "settled_p99_ms": round(settled_p99, 3),
        "first_over_steady_p99": round(after[0] / p99, 2),
        "first_over_settled_p99": round(after[0] / settled_p99, 2),
    }


def neulora_case(
    work: Path,
    texts: list[str],
    metas: list[Any],
    vectors: list[Any],
    *,
    same_handle: bool,
    background: bool,
) -> dict[str, float]:
    emb = HashingEmbedder(dim=DIM)
    reader = ChromaRetriever(emb, path=work, collection="after-ingest")
    reader.store.background_loads = background
    reader.add_texts(texts[:N], metas[:N], ids=[f"a{i}" for i in range(N)])
    reader.store.background_loads = False
    loaded = reader.retrieve_vector(vectors[0], K)  # steady: the index loaded
    reader.store.background_loads = background
    assert loaded
    steady = timed(lambda v: reader.retrieve_vector(v, K), vectors * 2)
    writer = reader if same_handle else ChromaRetriever(emb, path=work, collection="after-ingest")
    writer.add_texts(texts[N:], metas[N:], ids=[f"b{i}" for i in range(N)])
    after = timed(lambda v: reader.retrieve_vector(v, K), (vectors * 2)[: AFTER + 1])
    time.sleep(3)  # caught up: the index is exact again
    exact = (
        reader.store._exact is not None
        and reader.store._exact.usable
        and len(reader.store._exact.ids) == 2 * N
    )
    # the steady state at the new size
    settled = timed(lambda v: reader.retrieve_vector(v, K), vectors * 2)
    return summary(steady, after, settled) | {"exact_again": exact}


def langchain_case(
    work: Path, texts: list[str], metas: list[Any], vectors: list[Any]
) -> dict[str, float]:
    from bench_peers import hash_embeddings
    from langchain_chroma import Chroma

    store = Chroma(
        embedding_function=hash_embeddings(),
        persist_directory=str(work),
        collection_name="lc-after-ingest",
        collection_metadata={"hnsw:space": "cosine"},
    )
    for start in range(0, N, 1_000):
        store.add_texts(texts[start : start + 1_000], metas[start : start + 1_000])
    search = store.similarity_search_by_vector_with_relevance_scores
    steady = timed(lambda v: search(list(map(float, v)), k=K), vectors * 2)
    for start in range(N, 2 * N, 1_000):
        store.add_texts(texts[start : start + 1_000], metas[start : start + 1_000])
    after = timed(lambda v: search(list(map(float, v)), k=K), (vectors * 2)[: AFTER + 1])
    settled = timed(lambda v: search(list(map(float, v)), k=K), vectors * 2)
    return summary(steady, after, settled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--save", action="store_true", help="write bench/peers/after-ingest.{json,md}"
    )
    args = parser.parse_args()
    texts, metas, queries = chunks_and_queries(2 * N, 100)
    vectors = list(np.asarray(HashingEmbedder(dim=DIM).embed(queries), dtype=np.float32))
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, same, background in (
            ("neulora, same handle", True, True),
            ("neulora, another writer", False, True),
            ("neulora, same handle, reload in the reader (before)", True, False),
            ("neulora, another writer, reload in the reader (before)", False, False),
        ):
            results[name] = neulora_case(
                Path(tmp) / name.replace(" ", "-").replace(",", ""),
                texts,
                metas,
                vectors,
                same_handle=same,
                background=background,
            )
        results["langchain-chroma"] = langchain_case(Path(tmp) / "lc", texts, metas, vectors)
    rows = [
        "| case | steady p50 / p99 ms (10k) | first query after ms | p99 of the next 100 ms | "
        "settled p99 ms (20k) | first / steady p99 | first / settled p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    rows += [
        f"| {name} | {r['steady_p50_ms']} / {r['steady_p99_ms']} | {r['first_after_ms']} | "
        f"{r['after_p99_ms']} | {r['settled_p99_ms']} | {r['first_over_steady_p99']} | "
        f"{r['first_over_settled_p99']} |"
        for name, r in results.items()
    ]
    print(json.dumps(results, indent=2))
    print("\n".join(rows))
    if args.save:
        (HERE / "after-ingest.json").write_text(
            json.dumps(results, indent=2) + "\n", encoding="utf-8"
        )
        (HERE / "after-ingest.md").write_text(
            "# Query latency after a 10,000-chunk ingest (k=10, HashingEmbedder 1024-d, one "
            "run)\n\n"
            "Target: the first query after a write within 2x the steady-state p99.\n\n"
            + "\n".join(rows)
            + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
