"""neulora beside semantic-router (text -> style) and langchain-chroma (10k chunks), one process.

Run with the peers' own venv, which bench/peers/setup.sh makes: ``bench/peers/.venv/bin/python
bench/peers/bench_peers.py``. Both sides of each comparison embed with the same
``HashingEmbedder(dim=1024)``, so the figures compare the routers and the stores, not the models.
Every pair of measurements is taken alternately in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))
from common import percentile, report  # noqa: E402  (bench/common.py)
from corpus import QUESTIONS, chunks_and_queries  # noqa: E402  (bench/peers/corpus.py)
from peer_router import PeerRouter  # noqa: E402  (bench/peers/peer_router.py)

from neulora import ChromaRetriever  # noqa: E402
from neulora.embedders._hashing import HashingEmbedder  # noqa: E402
from neulora.train._fit import from_examples  # noqa: E402
from neulora.train._samples import style_examples  # noqa: E402

DIM = 1024
N_SINGLE = 600
N_BATCH = 10_000
ROUNDS = 3
N_CHUNKS = 10_000
N_QUERIES = 200
K = 10
INGEST_BATCH = 1_000


def hash_embeddings() -> Any:
    """LangChain embeddings returning the same vectors (numpy, which Chroma takes as is)."""
    from langchain_core.embeddings import Embeddings

    class HashEmbeddings(Embeddings):
        def __init__(self) -> None:
            self.embedder = HashingEmbedder(dim=DIM)

        def embed_documents(self, texts: list[str]) -> Any:
            return self.embedder.embed(texts)

        def embed_query(self, text: str) -> Any:
            return self.embedder.embed([text])[0]

    return HashEmbeddings()


# -- timing helpers
# -------------------------------------------------------------------------------------------
def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def alternated(
    calls: dict[str, Callable[[Any], Any]], items: Sequence[Any]
) -> dict[str, list[float]]:
    """Seconds per item for each call, the calls' order rotated from item to item.

    Drift hits all alike.
    """
    names = list(calls)
    out: dict[str, list[float]] = {n: [] for n in names}
    for i, item in enumerate(items):
        for n in names[i % len(names) :] + names[: i % len(names)]:
            out[n].append(timed(lambda n=n, item=item: calls[n](item))[0])
    return out


def rounds(calls: dict[str, Callable[[int], Any]], n: int = ROUNDS) -> dict[str, list[float]]:
    """Whole-run seconds of each call over ``n`` rounds, alternating which goes first."""
    return alternated(calls, list(range(n)))


# 1-minute load average as each phase starts: the machine is shared, this flags contention
LOAD: dict[str, float] = {}


def mark(phase: str) -> None:
    LOAD[phase] = round(os.getloadavg()[0], 2)


def ms(values: list[float], q: float = 0.5) -> float:
    return percentile(values, q) * 1e3


# -- 1. text -> style
# -----------------------------------------------------------------------------------------
def bench_router() -> dict[str, Any]:
    examples = style_examples()
    ours = from_examples(examples, HashingEmbedder(dim=DIM))
    peer = PeerRouter(examples)
    emb = ours.embedder
    queries = [QUESTIONS[i % len(QUESTIONS)] for i in range(N_SINGLE)]
    vec_of = dict(zip(QUESTIONS, emb.embed(QUESTIONS), strict=True))
    # warm both (semantic-router 1.x starts its event-loop thread on the first call)
    for q in QUESTIONS[:20]:
        ours.route(q), peer.route(q), peer.route_vector(vec_of[q])
    ours_style = [ours.route(q).style for q in QUESTIONS]
    peer_style = [peer.route(q) for q in QUESTIONS]
    assert [d.style for d in ours.route_many(QUESTIONS)] == ours_style
    assert (
        peer.route_batched(QUESTIONS)
        == peer_style
        == [peer.route_vector(vec_of[q]) for q in QUESTIONS]
    )
    agree = sum(a == b for a, b in zip(ours_style, peer_style, strict=True)) / len(QUESTIONS)

    mark("router_single")
    text = alternated(
        {"ours": ours.route, "peer": peer.route, "embed": lambda q: emb.embed([q])}, queries
    )
    vec = alternated(
        {
            "ours": lambda q: ours.route_vector(vec_of[q]),
            "peer": lambda q: peer.route_vector(vec_of[q]),
            "peer_index_query": lambda q: peer.index_query(vec_of[q]),
        },
        queries,
    )
    batch = [QUESTIONS[i % len(QUESTIONS)] for i in range(N_BATCH)]
    mark("router_batch")
    many = rounds(
        {
            "ours_route_many": lambda _: ours.route_many(batch),
            **peer.batch_calls(batch),
            "embed_only": lambda _: emb.embed(batch),
        }
    )
    single = {k: statistics.median(v) * 1e6 for k, v in text.items()}
    single_vec = {k: statistics.median(v) * 1e6 for k, v in vec.items()}
    batch_s = {k: statistics.median(v) for k, v in many.items()}
    return {
        "questions": len(QUESTIONS),
        "single_queries": N_SINGLE,
        "batch_n": N_BATCH,
        "batch_rounds": ROUNDS,
        "peer": peer.describe(),
        "ours": "CentroidRouter from neulora.train.from_examples: cosine to each style's "
        "centroid (mean of its utterance vectors)",
        "agreement": agree,
        "style_counts": {"ours": _counts(ours_style), "peer": _counts(peer_style)},
        "disagreements": [
            {"question": q, "ours": a, "peer": b}
            for q, a, b in zip(QUESTIONS, ours_style, peer_style, strict=True)
            if a != b
        ],
        "single_text_us": single,
        "single_speedup": single["peer"] / single["ours"],
        "single_vector_us": single_vec,
        "single_vector_speedup": single_vec["peer"] / single_vec["ours"],
        "batch_s": batch_s,
        "batch_texts_per_s": {k: N_BATCH / v for k, v in batch_s.items()},
        "batch_speedup_vs_peer_loop": batch_s["peer_call_loop"] / batch_s["ours_route_many"],
        "batch_speedup_vs_peer_batched": batch_s["peer_batched"] / batch_s["ours_route_many"],
        "target": {"single_speedup": ">= 25"},
    }


def _counts(styles: list[str | None]) -> dict[str, int]:
    return {str(s): styles.count(s) for s in sorted(set(styles), key=str)}


# -- 2. ingest and retrieval at 10k chunks
# --------------------------------------------------------------------
def ingest_rounds(
    work: Path, texts: list[str], metas: list[dict[str, Any]]
) -> tuple[dict[str, list[float]], Any]:
    """Three alternated rounds on fresh directories.

    Returns the seconds and the last round's stores.
    """
    last: dict[str, Any] = {}

    from langchain_chroma import Chroma

    def lc(r: int) -> None:
        store = Chroma(
            embedding_function=hash_embeddings(), persist_directory=str(work / f"lc-{r}")
        )
        for i in range(0, len(texts), INGEST_BATCH):
            store.add_texts(texts[i : i + INGEST_BATCH], metadatas=metas[i : i + INGEST_BATCH])
        last["lc"] = store

    def ours(r: int) -> None:
        store = ChromaRetriever(HashingEmbedder(dim=DIM), path=work / f"ours-{r}")
        for i in range(0, len(texts), INGEST_BATCH):
            store.add_texts(texts[i : i + INGEST_BATCH], metadatas=metas[i : i + INGEST_BATCH])
        last["ours"] = store

    # open Chroma once on each side first, so that round 0 pays no import or start-up
    warm = (
        texts[:10],
        metas[:10],
    )
    Chroma(embedding_function=hash_embeddings(), persist_directory=str(work / "warm-lc")).add_texts(
        *warm
    )
    ChromaRetriever(HashingEmbedder(dim=DIM), path=work / "warm-ours").add_texts(*warm)
    times = rounds({"langchain_chroma": lc, "ours": ours})
    assert last["lc"]._collection.count() == last["ours"].count() == len(texts)
    return times, last


def recall(got: list[list[int]], truth: np.ndarray) -> float:
    return sum(len(set(g) & set(t.tolist())) for g, t in zip(got, truth, strict=True)) / (
        len(got) * K
    )


def bench_retrieval(work: Path) -> dict[str, Any]:
    texts, metas, queries = chunks_and_queries(N_CHUNKS, N_QUERIES)
    emb = HashingEmbedder(dim=DIM)
    vectors = emb.embed(texts)
    qvecs = emb.embed(queries)
    truth = np.argsort(-(qvecs @ vectors.T), axis=1, kind="stable")[:, :K]
    index_of = {t: i for i, t in enumerate(texts)}
    mark("ingest")
    ingest, last = ingest_rounds(work, texts, metas)
    lc = last["lc"]
    ours = last["ours"]
    # same collection
    ours_hnsw = ChromaRetriever(HashingEmbedder(dim=DIM), path=ours.path, exact_limit=0)
    first = {
        "ours_ms": timed(lambda: ours.retrieve(queries[0], K))[0] * 1e3,
        "langchain_chroma_ms": timed(lambda: lc.similarity_search_with_score(queries[0], k=K))[0]
        * 1e3,
    }
    for q in queries[:20]:  # warm every path
        lc.similarity_search_with_score(q, k=K), ours.retrieve(q, K), ours_hnsw.retrieve(q, K)
    mark("query_text")
    text = alternated(
        {
            "langchain_chroma": lambda q: lc.similarity_search_with_score(q, k=K),
            "ours": lambda q: ours.retrieve(q, K),
            "ours_hnsw_only": lambda q: ours_hnsw.retrieve(q, K),
        },
        queries,
    )
    mark("query_vector")
    vec = alternated(
        {
            "langchain_chroma": lambda v: lc.similarity_search_by_vector_with_relevance_scores(
                v, k=K
            ),
            "ours": lambda v: ours.retrieve_vector(v, K),
        },
        list(qvecs),
    )
    got = {
        "langchain_chroma": [
            [index_of[d.page_content] for d, _ in lc.similarity_search_with_score(q, k=K)]
            for q in queries
        ],
        "ours": [[index_of[p.text] for p in ours.retrieve(q, K)] for q in queries],
        "ours_hnsw_only": [[index_of[p.text] for p in ours_hnsw.retrieve(q, K)] for q in queries],
    }
    ingest_s = {k: statistics.median(v) for k, v in ingest.items()}
    p = {name: {"p50_ms": ms(v), "p95_ms": ms(v, 0.95)} for name, v in text.items()}
    return {
        "chunks": N_CHUNKS,
        "mean_chunk_chars": statistics.mean(map(len, texts)),
        "queries": N_QUERIES,
        "k": K,
        "ingest_batch": INGEST_BATCH,
        "ingest_rounds_s": ingest,
        "ingest_median_s": ingest_s,
        "ingest_chunks_per_s": {k: N_CHUNKS / v for k, v in ingest_s.items()},
        "ingest_ratio_ours_over_peer": ingest_s["langchain_chroma"] / ingest_s["ours"],
        "first_query_after_ingest": first,
        "query_text": p,
        "query_vector": {name: {"p50_ms": ms(v), "p95_ms": ms(v, 0.95)} for name, v in vec.items()},
        "query_p50_ratio_peer_over_ours": p["langchain_chroma"]["p50_ms"] / p["ours"]["p50_ms"],
        "recall_at_10": {name: recall(g, truth) for name, g in got.items()},
        "peer_version": version("langchain-chroma"),
        "score_convention": score_convention(lc, ours, queries[0], qvecs[0], vectors, index_of),
        "peer_collection_configuration": _jsonable(lc._collection.configuration),
        "targets": {
            "ingest": "no slower than langchain-chroma",
            "query": "no slower than langchain-chroma",
        },
    }


def score_convention(
    lc: Any,
    ours: ChromaRetriever,
    query: str,
    qvec: np.ndarray,
    vectors: np.ndarray,
    index_of: dict[str, int],
) -> dict[str, Any]:
    """What each side's score is, checked on one query's top hit against the cosine here."""
    doc, dist = lc.similarity_search_with_score(query, k=1)[0]
    top = ours.retrieve(query, 1)[0]
    return {
        "langchain_chroma": {
            "score": float(dist),
            "cosine": float(vectors[index_of[doc.page_content]] @ qvec),
            "meaning": "squared L2 distance (Chroma's default space l2): 2 - 2 cos on unit "
            "vectors, lower is better",
        },
        "ours": {
            "score": top.score,
            "cosine": float(vectors[index_of[top.text]] @ qvec),
            "meaning": "cosine similarity, higher is better",
        },
    }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# -- the run
# --------------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "neulora"],
        capture_output=True,
        text=True,
    )
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "neulora_head": head.stdout.strip(),
        "neulora_files_modified": len(dirty.stdout.splitlines()),
        "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")},
        "versions": {
            p: _version(p)
            for p in (
                "semantic-router",
                "langchain-chroma",
                "langchain-core",
                "chromadb",
                "numpy",
                "pydantic",
            )
        },
    }


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def router_rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    t = r["single_text_us"]
    v = r["single_vector_us"]
    b = r["batch_texts_per_s"]
    sr = f"semantic-router {r['peer']['version']}"
    api = r["peer"]["vector_path"].split(":")[0]  # public (0.x) or private (1.x)
    return [
        (
            "route 1 text (embed incl.), median",
            f"ours {t['ours']:.1f} us, {sr} {t['peer']:.1f} us -> "
            f"{r['single_speedup']:.1f}x (target >= 25x; the embedding alone "
            f"{t['embed']:.1f} us)",
        ),
        (
            "route 1 precomputed vector, median",
            f"ours {v['ours']:.1f} us, {sr} {v['peer']:.1f} us -> "
            f"{r['single_vector_speedup']:.1f}x (its {api} API)",
        ),
        (
            f"route {r['batch_n']} texts, texts/s",
            f"ours route_many {b['ours_route_many']:.0f}, {sr} per-text loop "
            f"{b['peer_call_loop']:.0f} / batched {b['peer_batched']:.0f} "
            f"-> {r['batch_speedup_vs_peer_loop']:.1f}x / "
            f"{r['batch_speedup_vs_peer_batched']:.1f}x (median of 3)",
        ),
        (
            "same style chosen",
            f"{r['agreement']:.1%} of {r['questions']} questions (our centroids vs its "
            f"{r['peer']['aggregation_method']} of top-{r['peer']['top_k']} hits)",
        ),
    ]


def retrieval_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    q = s["query_text"]
    qv = s["query_vector"]
    rc = s["recall_at_10"]
    ing = s["ingest_chunks_per_s"]
    lc = f"langchain-chroma {s['peer_version']}"
    return [
        (
            f"ingest {s['chunks']} chunks, chunks/s",
            f"ours {ing['ours']:.0f}, {lc} {ing['langchain_chroma']:.0f} -> "
            f"{s['ingest_ratio_ours_over_peer']:.2f}x (median of 3)",
        ),
        (
            "query text k=10, p50 / p95 ms",
            f"ours {q['ours']['p50_ms']:.2f} / {q['ours']['p95_ms']:.2f}, {lc} "
            f"{q['langchain_chroma']['p50_ms']:.2f} / "
            f"{q['langchain_chroma']['p95_ms']:.2f}, ours HNSW-only "
            f"{q['ours_hnsw_only']['p50_ms']:.2f} / {q['ours_hnsw_only']['p95_ms']:.2f}",
        ),
        (
            "query vector k=10, p50 / p95 ms",
            f"ours {qv['ours']['p50_ms']:.2f} / {qv['ours']['p95_ms']:.2f}, {lc} "
            f"{qv['langchain_chroma']['p50_ms']:.2f} / "
            f"{qv['langchain_chroma']['p95_ms']:.2f}",
        ),
        (
            "recall@10 vs brute force",
            f"ours {rc['ours']:.3f}, {lc} {rc['langchain_chroma']:.3f}, "
            f"ours HNSW-only {rc['ours_hnsw_only']:.3f}",
        ),
        (
            "first query after ingest",
            "ours {ours_ms:.1f} ms (loads the exact index), langchain-chroma "
            "{langchain_chroma_ms:.1f} ms".format(**s["first_query_after_ingest"]),
        ),
    ]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", choices=["router", "retrieval"], help="run one half (default: both)"
    )
    parser.add_argument(
        "--out", type=Path, default=HERE / "results.json", help="where to write the JSON"
    )
    args = parser.parse_args(argv)
    mark("start")
    results: dict[str, Any] = {"machine": machine()}
    rows: list[tuple[str, str]] = []
    if args.only in (None, "router"):
        results["router"] = bench_router()
        rows += router_rows(results["router"])
    if args.only in (None, "retrieval"):
        work = Path(tempfile.mkdtemp(prefix="neulora-peers-"))
        try:
            results["retrieval"] = bench_retrieval(work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        rows += retrieval_rows(results["retrieval"])
    mark("end")
    results["machine"]["load_avg_1min"] = LOAD
    out = report("peers", results, rows)
    args.out.write_text(
        json.dumps({"benchmark": "peers", **out}, ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    return out


if __name__ == "__main__":
    main()
