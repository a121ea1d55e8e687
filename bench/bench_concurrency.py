"""What keeping readers fresh and writers exclusive costs a turn.

Turn overhead with and without a concurrent writer.

One Pipeline (hashing embedder, sample notes, an instant client) answers turns while, in some
scenarios, another thread keeps ingesting 25-chunk uploads: through the same retriever, or through a
second retriever on the same embedded path (each of its writes makes the reader reopen the
database), and on a ``chroma run`` server. Scenarios are alternated over rounds; medians and p95 of
the turn overhead (everything but generation).

    .venv/bin/python bench/bench_concurrency.py [--rounds 3] [--turns 150]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from common import percentile, report

from neulora import ChromaRetriever, Pipeline
from neulora.embedders import HashingEmbedder
from neulora.testing import FakeStyleClient
from neulora.train import corpus_dir, exemplar_router
from tests.servers import background_server, free_port

QUESTIONS = [
    "로그의 정의가 뭐예요?",
    "왜 로그함수와 지수함수는 대칭이에요?",
    "수열 문제 어디서부터 시작해요?",
    "I got log_2 8 = 4, is that right?",
    "What is the chain rule?",
]


@contextlib.contextmanager
def writer(make: Callable[[], ChromaRetriever] | None) -> Iterator[list[int]]:
    """A thread ingesting 25-chunk uploads through ``make()``'s retriever until the block ends."""
    writes: list[int] = []
    if make is None:
        yield writes
        return
    store = make()
    stop = threading.Event()

    def run() -> None:
        n = 0
        while not stop.is_set():
            store.add_texts(
                [f"upload {n} chunk {i} on matrices" for i in range(25)],
                metadatas=[{"source": f"upload-{n}"}] * 25,
            )
            writes.append(n)
            n += 1

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield writes
    finally:
        stop.set()
        thread.join()


def turns(pipeline: Pipeline, n: int) -> list[float]:
    out = []
    for i in range(n):
        t = pipeline.ask(QUESTIONS[i % len(QUESTIONS)], session_id=f"s{i % 20}").timings
        out.append(t["total"] - t["generate"])
    return out


def scenarios(
    work: Path, port: int | None
) -> dict[str, tuple[Pipeline, Callable[[], ChromaRetriever] | None]]:
    emb = HashingEmbedder()
    router = exemplar_router(emb)
    out: dict[str, tuple[Pipeline, Callable[[], ChromaRetriever] | None]] = {}
    shared = ChromaRetriever(emb, path=work / "db", collection="bench")
    shared.ingest([corpus_dir()], progress=False)
    pipe = Pipeline(router, shared, FakeStyleClient("ok"), relevance=None)
    out["embedded, no writer"] = (pipe, None)
    out["embedded, writer on the same retriever"] = (pipe, lambda: shared)
    out["embedded, writer on a second retriever"] = (
        pipe,
        lambda: ChromaRetriever(emb, path=work / "db", collection="bench"),
    )
    if port is not None:
        remote = ChromaRetriever(emb, host="127.0.0.1", port=port, collection="bench")
        remote.ingest([corpus_dir()], progress=False)
        rpipe = Pipeline(router, remote, FakeStyleClient("ok"), relevance=None)
        out["server, no writer"] = (rpipe, None)
        out["server, writer on a second client"] = (
            rpipe,
            lambda: ChromaRetriever(emb, host="127.0.0.1", port=port, collection="bench"),
        )
    return out


def main(rounds: int, n: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="neulora-bench-"))
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    port = free_port()
    server = background_server(
        [
            str(chroma),
            "run",
            "--path",
            str(work / "server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        port,
        log=work / "server.log",
        name="chroma run",
    )
    samples: dict[str, list[float]] = {}
    writes: dict[str, int] = {}
    try:
        with server:
            plan = scenarios(work, port)
            for pipe, _ in plan.values():
                turns(pipe, 10)  # warm up every path
            for _ in range(rounds):
                for name, (pipe, make) in plan.items():
                    with writer(make) as done:
                        time.sleep(0.05 if make else 0)
                        samples.setdefault(name, []).extend(turns(pipe, n))
                    writes[name] = writes.get(name, 0) + len(done)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = {
        "embedded": statistics.median(samples["embedded, no writer"]),
        "server": statistics.median(samples["server, no writer"]),
    }
    results = {
        name: {
            "median_ms": statistics.median(v) * 1e3,
            "p95_ms": percentile(v, 0.95) * 1e3,
            "vs_no_writer": statistics.median(v) / base[name.split(",")[0]],
            "writes": writes[name],
            "turns": len(v),
        }
        for name, v in samples.items()
    }
    rows = [
        (
            name,
            f"median {r['median_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms, {r['vs_no_writer']:.2f}x, "
            f"{r['writes']} writes meanwhile",
        )
        for name, r in results.items()
    ]
    return report(
        "turn overhead with and without a concurrent writer",
        {"rounds": rounds, "scenarios": results},
        rows,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--turns", type=int, default=150)
    args = parser.parse_args()
    main(args.rounds, args.turns)
