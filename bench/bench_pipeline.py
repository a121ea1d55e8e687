"""Per-turn pipeline overhead (excluding embedding and generation), and turn latency against a
local server that takes 300 ms per call, compared with a flow that makes the original's four
extra LLM calls per turn."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import report

from neulora import ChromaRetriever
from neulora.embedders import HashingEmbedder
from neulora.llm import HFStyleClient
from neulora.pipeline import Pipeline
from neulora.testing import ChatStubServer, FakeStyleClient
from neulora.train import corpus_dir, exemplar_router

QUESTIONS = [
    "로그의 정의가 뭐예요?",
    "왜 로그함수와 지수함수는 대칭이에요?",
    "수열 문제 어디서부터 시작해요?",
    "I got log_2 8 = 4, is that right?",
    "What is the chain rule?",
]
MODELS = {s: s for s in ("direct", "socratic", "scaffolding", "feedback")}


def original_turn(client: HFStyleClient, pipeline: Pipeline, question: str) -> None:
    """The original LangGraph turn.

    Recall judge, query rewrite, retrieve-or-not, relevance grade, then answer.
    """
    for task in (
        "Is this answerable from memory? yes/no",
        "Rewrite the question for search",
        "Does this need retrieval? yes/no",
        "Are these documents relevant? yes/no",
    ):
        client.generate(
            "direct", [{"role": "user", "content": f"{task}\n{question}"}], max_tokens=16
        )
    pipeline.ask(question, session_id="original")


def main() -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="neulora-bench-"))
    embedder = HashingEmbedder()
    retriever = ChromaRetriever(embedder, path=work / "db", collection="bench")
    retriever.ingest([corpus_dir()], progress=False)
    router = exemplar_router(embedder)

    instant = Pipeline(router, retriever, FakeStyleClient("ok"))
    for q in QUESTIONS:
        instant.ask(q)
    overheads = []
    parts = {"route": [], "retrieve": []}
    for i in range(300):
        answer = instant.ask(QUESTIONS[i % len(QUESTIONS)], session_id=f"s{i % 20}")
        t = answer.timings
        overheads.append(t["total"] - t["embed"] - t["generate"])
        parts["route"].append(t["route"])
        parts["retrieve"].append(t["retrieve"])
    overhead = statistics.median(overheads)

    with ChatStubServer(latency=0.3) as server:
        client = HFStyleClient(MODELS, base_url=server.url, token="bench")
        ours = Pipeline(router, retriever, client)
        ours_lat = []
        orig_lat = []
        for q in QUESTIONS:  # interleaved
            start = time.perf_counter()
            ours.ask(q, session_id="ours")
            ours_lat.append(time.perf_counter() - start)
            start = time.perf_counter()
            original_turn(client, ours, q)
            orig_lat.append(time.perf_counter() - start)
    ours_turn = statistics.median(ours_lat)
    orig_turn = statistics.median(orig_lat)
    results = {
        "overhead_ms_median": overhead * 1e3,
        "route_ms_median": statistics.median(parts["route"]) * 1e3,
        "retrieve_ms_median": statistics.median(parts["retrieve"]) * 1e3,
        "turn_s_ours": ours_turn,
        "turn_s_original_flow": orig_turn,
        "speedup": orig_turn / ours_turn,
        "llm_calls_per_turn": {"ours": 1, "original_flow": 5},
        "targets": {"overhead_ms": "< 5", "speedup": ">= 3"},
    }
    return report(
        "pipeline",
        results,
        [
            (
                "per-turn overhead (no embed, no LLM)",
                f"{overhead * 1e3:.2f} ms median, of which retrieval "
                f"{results['retrieve_ms_median']:.2f} ms (embedded Chroma)",
            ),
            ("turn, 300 ms server: ours (1 call)", f"{ours_turn:.3f} s"),
            (
                "turn, original flow (5 calls)",
                f"{orig_turn:.3f} s -> ours {orig_turn / ours_turn:.1f}x faster",
            ),
        ],
    )


if __name__ == "__main__":
    main()
