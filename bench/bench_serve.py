"""200 concurrent streaming sessions on one ``neulora serve`` process, side by side with the stub engine alone.

The engine is a stub that takes a fixed 300 ms per call and then streams its answer (its own process); neulora
serve runs in another process with the hashing embedder and embedded Chroma holding the sample notes. The same
async client drives both: ``--sessions`` learners, each asking ``--turns`` questions in a row, streaming. Reported
per scenario: throughput (turns/s), time to the first byte and to the first text chunk, and turn latency; then
neulora's overhead over the stub (p50, p99). Rounds alternate the scenarios.

    .venv/bin/python bench/bench_serve.py [--sessions 200] [--turns 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from common import percentile, report

from neulora.samples import corpus_dir
from tests.servers import background_server, free_port

STUB = """
import sys, time
from neulora.testing import ChatStubServer
server = ChatStubServer(latency=0.3)
print(server.url, flush=True)
while True:
    time.sleep(3600)
"""
QUESTIONS = ["로그의 정의가 뭐예요?", "등비수열의 합은 어떻게 구해요?", "What is the chain rule?",
             "I got log_2 8 = 4, is that right?", "수열 문제 어디서부터 시작해요?"]


async def one_turn(http: httpx.AsyncClient, url: str, body: dict[str, Any],
                   headers: dict[str, str]) -> dict[str, float]:
    t0 = time.perf_counter()
    first_byte = first_text = None
    async with http.stream("POST", url, json=body, headers=headers) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            now = time.perf_counter()
            if first_byte is None:
                first_byte = now
            if line.startswith("data: ") and line != "data: [DONE]" and first_text is None:
                choices = json.loads(line[6:]).get("choices") or [{}]
                if (choices[0].get("delta") or {}).get("content"):
                    first_text = now
    end = time.perf_counter()
    return {"total": end - t0, "ttfb": (first_byte or end) - t0, "first_text": (first_text or end) - t0}


async def drive(url: str, sessions: int, turns: int, model: str, neulora: bool) -> dict[str, Any]:
    """``sessions`` learners at once, each with a connection of its own (httpx's shared pool scans all its
    connections per request: at 200 it cost the load generator 16 ms of CPU a turn, and measured itself)."""
    samples: list[dict[str, float]] = []
    errors: list[str] = []

    async def learner(i: int) -> None:
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=1)) as http:
            for t in range(turns):
                body = {"model": model, "stream": True,
                        "messages": [{"role": "user", "content": QUESTIONS[(i + t) % len(QUESTIONS)]}]}
                headers = {"X-Session-Id": f"bench-{i}"} if neulora else {}
                try:
                    samples.append(await one_turn(http, url, body, headers))
                except httpx.HTTPError as exc:  # counted and reported, never hidden
                    errors.append(f"{type(exc).__name__}: {exc}")

    t0 = time.perf_counter()
    await asyncio.gather(*(learner(i) for i in range(sessions)))
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "turns": len(samples), "samples": samples, "errors": errors}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    samples = [s for r in runs for s in r["samples"]]
    out: dict[str, Any] = {"turns_per_s": statistics.median(r["turns"] / r["wall_s"] for r in runs),
                           "errors": sum(len(r["errors"]) for r in runs),
                           "first_errors": [e for r in runs for e in r["errors"]][:3]}
    for key in ("total", "ttfb", "first_text"):
        values = [s[key] for s in samples]
        out[key] = {"p50_ms": percentile(values, 0.5) * 1e3, "p99_ms": percentile(values, 0.99) * 1e3}
    return out


def main(sessions: int, turns: int, rounds: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="neulora-bench-serve-"))
    stub = subprocess.Popen([sys.executable, "-c", STUB], stdout=subprocess.PIPE, text=True)
    try:
        assert stub.stdout is not None
        engine = stub.stdout.readline().strip()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("NEULORA_", "HF_"))},
               "NEULORA_BACKEND": "hf", "NEULORA_BASE_URL": engine, "NEULORA_EMBEDDER": "hash",
               "NEULORA_CHROMA_PATH": str(work / "db"), "NEULORA_UPLOADS_DIR": str(work / "uploads"),
               **{f"NEULORA_MODEL_{s.upper()}": s for s in ("direct", "socratic", "scaffolding", "feedback")}}
        subprocess.run([sys.executable, "-m", "neulora", "ingest", str(corpus_dir())], env=env, check=True,
                       capture_output=True)
        port = free_port()
        argv = [sys.executable, "-m", "neulora", "serve", "--port", str(port)]
        cpu: dict[str, float] = {"neulora serve": 0.0, "stub": 0.0}
        with background_server(argv, port, log=work / "serve.log", name="neulora serve", env=env) as server:
            served = f"http://127.0.0.1:{port}/v1/chat/completions"
            direct = f"{engine}/v1/chat/completions"
            asyncio.run(drive(served, 20, 1, "neulora", True))  # warm both paths
            asyncio.run(drive(direct, 20, 1, "direct", False))
            runs: dict[str, list[dict[str, Any]]] = {"stub alone": [], "through neulora serve": []}
            for _ in range(rounds):
                runs["stub alone"].append(asyncio.run(drive(direct, sessions, turns, "direct", False)))
                before = (cpu_seconds(server.proc.pid), cpu_seconds(stub.pid))
                runs["through neulora serve"].append(asyncio.run(drive(served, sessions, turns, "neulora", True)))
                cpu["neulora serve"] += cpu_seconds(server.proc.pid) - before[0]
                cpu["stub"] += cpu_seconds(stub.pid) - before[1]
    finally:
        stub.kill()
    results = {name: summary(r) for name, r in runs.items()}
    alone, served_ = results["stub alone"], results["through neulora serve"]
    overhead = {q: served_["total"][q] - alone["total"][q] for q in ("p50_ms", "p99_ms")}
    served_turns = sum(r["turns"] for r in runs["through neulora serve"])
    per_turn = {name: seconds / served_turns * 1e3 for name, seconds in cpu.items()}
    results["overhead"] = {**overhead, "throughput_ratio": served_["turns_per_s"] / alone["turns_per_s"],
                           "cpu_ms_per_turn": per_turn}
    rows = [(name, f"{r['turns_per_s']:.0f} turns/s, {r['errors']} errors; turn p50 {r['total']['p50_ms']:.0f} ms, p99 "
                   f"{r['total']['p99_ms']:.0f} ms; first byte p50 {r['ttfb']['p50_ms']:.0f} ms; first text p50 "
                   f"{r['first_text']['p50_ms']:.0f} ms, p99 {r['first_text']['p99_ms']:.0f} ms")
            for name, r in results.items() if name != "overhead"]
    rows.append(("neulora overhead", f"p50 {overhead['p50_ms']:.1f} ms, p99 {overhead['p99_ms']:.1f} ms, "
                                     f"throughput {results['overhead']['throughput_ratio']:.2f}x the stub's"))
    rows.append(("CPU per turn served", f"neulora serve {per_turn['neulora serve']:.1f} ms, stub engine "
                                        f"{per_turn['stub']:.1f} ms ({os.cpu_count()} cores for all three)"))
    return report(f"{sessions} concurrent streaming sessions x {turns} turns, engine 300 ms per call",
                  {"sessions": sessions, "turns": turns, "rounds": rounds, "cpus": os.cpu_count(), **results}, rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    main(args.sessions, args.turns, args.rounds)
