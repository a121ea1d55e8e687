"""200 concurrent streaming sessions on one ``neulora serve``, beside the stub engine alone.

The engine is a stub that takes a fixed 300 ms per call and then streams its answer (its own
process); neulora serve runs in another process with the hashing embedder and embedded Chroma
holding the sample notes. Two floors run beside it (``serve_floor.py``): a raw ASGI app that waits
the 300 ms itself (what uvicorn costs) and a bare Starlette proxy through ``AsyncInferenceClient``
to the same stub (what the HTTP stack costs before any routing, retrieval or session). One lean
client (``loadgen.py``) drives all four: ``--sessions`` learners, each asking ``--turns`` questions
in a row, streaming, either all starting at once (they then stay in step: bursts of ``--sessions``
turns) or with starts spread over one engine call. Reported per scenario: throughput (turns/s), time
to the first byte and to the first text chunk, turn latency, the server's CPU per turn and how busy
each of the three processes kept the cores; then each one's overhead over the stub alone (p50, p99).
Rounds alternate.

    .venv/bin/python bench/bench_serve.py [--sessions 200] [--turns 10] [--rounds 2] [--save
    bench/serve-results]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import percentile, report
from loadgen import Connection, LoadError

from neulora.train import corpus_dir
from tests.servers import background_server, free_port

STUB = """
import sys, time
from neulora.testing import ChatStubServer
server = ChatStubServer(latency=0.3)
print(server.url, flush=True)
while True:
    time.sleep(3600)
"""
STUB_ALONE = "stub alone"
ASGI = "floor: raw ASGI, no upstream"
PROXY = "floor: Starlette + AsyncInferenceClient proxy"
NEULORA = "through neulora serve"
IN_STEP = "all start at once"
ARRIVALS = {IN_STEP: 0.0, "starts spread over 300 ms": 0.3}
PYTHON_GC = "neulora serve --python-gc"
MODEL = {
    STUB_ALONE: "direct",
    ASGI: "floor",
    PROXY: "floor",
    NEULORA: "neulora",
    PYTHON_GC: "neulora",
}
QUESTIONS = [
    "로그의 정의가 뭐예요?",
    "등비수열의 합은 어떻게 구해요?",
    "What is the chain rule?",
    "I got log_2 8 = 4, is that right?",
    "수열 문제 어디서부터 시작해요?",
]


async def drive(
    url: str, sessions: int, turns: int, model: str, neulora: bool, spread: float = 0.0
) -> dict[str, Any]:
    """``sessions`` learners at once, each on a keep-alive connection, asking ``turns`` questions.

    ``spread``: learner ``i`` starts ``spread * i / sessions`` seconds late. With 0 every learner
    starts at the same instant and, the engine taking a fixed time, they stay in step: the server
    gets every turn in one burst."""
    samples: list[dict[str, float]] = []
    errors: list[str] = []

    async def learner(i: int) -> None:
        connection = Connection(url)
        await asyncio.sleep(spread * i / sessions)
        try:
            for t in range(turns):
                body = {
                    "model": model,
                    "stream": True,
                    "messages": [{"role": "user", "content": QUESTIONS[(i + t) % len(QUESTIONS)]}],
                }
                headers = {"X-Session-Id": f"bench-{i}"} if neulora else {}
                try:
                    samples.append(await connection.stream_turn(body, headers))
                except (OSError, LoadError, ValueError, asyncio.IncompleteReadError) as exc:
                    # counted, never hidden
                    errors.append(f"{type(exc).__name__}: {exc}")
                    await connection.close()
        finally:
            await connection.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(learner(i) for i in range(sessions)))
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "turns": len(samples), "samples": samples, "errors": errors}


def own_cpu() -> float:
    """CPU seconds of this process (the load generator) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    samples = [s for r in runs for s in r["samples"]]
    out: dict[str, Any] = {
        "turns_per_s": statistics.median(r["turns"] / r["wall_s"] for r in runs),
        "errors": sum(len(r["errors"]) for r in runs),
        "first_errors": [e for r in runs for e in r["errors"]][:3],
    }
    for key in ("total", "ttfb", "first_text"):
        values = [s[key] for s in samples]
        out[key] = {
            "p50_ms": percentile(values, 0.5) * 1e3,
            "p99_ms": percentile(values, 0.99) * 1e3,
        }
    return out


def profiler(pid: int, output: str | None) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the GIL holder of ``pid`` into ``output`` (collapsed stacks), if asked."""
    if output is None:
        return None
    spy = Path(sys.executable).parent / "py-spy"
    return subprocess.Popen(
        [
            str(spy),
            "record",
            "--pid",
            str(pid),
            "--gil",
            "--format",
            "raw",
            "--rate",
            "500",
            "--nonblocking",
            "--output",
            output,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main(
    sessions: int, turns: int, rounds: int, profile: str | None = None, save: str | None = None
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="neulora-bench-serve-"))
    stub = subprocess.Popen([sys.executable, "-c", STUB], stdout=subprocess.PIPE, text=True)
    try:
        assert stub.stdout is not None
        engine = stub.stdout.readline().strip()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("NEULORA_", "HF_"))},
            "NEULORA_BACKEND": "hf",
            "NEULORA_BASE_URL": engine,
            "NEULORA_EMBEDDER": "hash",
            "NEULORA_CHROMA_PATH": str(work / "db"),
            "NEULORA_UPLOADS_DIR": str(work / "uploads"),
            **{
                f"NEULORA_MODEL_{s.upper()}": s
                for s in ("direct", "socratic", "scaffolding", "feedback")
            },
        }
        subprocess.run(
            [sys.executable, "-m", "neulora", "ingest", str(corpus_dir())],
            env=env,
            check=True,
            capture_output=True,
        )
        floor = str(Path(__file__).with_name("serve_floor.py"))
        servers = {
            NEULORA: [sys.executable, "-m", "neulora", "serve", "--port", "{port}"],
            PYTHON_GC: [
                sys.executable,
                "-m",
                "neulora",
                "serve",
                "--port",
                "{port}",
                "--python-gc",
            ],
            ASGI: [sys.executable, floor, "asgi", "{port}"],
            PROXY: [sys.executable, floor, "proxy", "{port}", engine],
        }
        with contextlib.ExitStack() as stack:
            urls = {STUB_ALONE: f"{engine}/v1/chat/completions"}
            pids = {STUB_ALONE: stub.pid}
            for name, argv in servers.items():
                port = free_port()
                server = stack.enter_context(
                    background_server(
                        [a.format(port=port) for a in argv],
                        port,
                        env=env,
                        log=work / f"{len(urls)}.log",
                        name=name,
                    )
                )
                urls[name] = f"http://127.0.0.1:{port}/v1/chat/completions"
                pids[name] = server.proc.pid
            for name, url in urls.items():  # warm every path
                asyncio.run(drive(url, 20, 1, MODEL[name], name in (NEULORA, PYTHON_GC)))
            keys = [(arrival, name) for arrival in ARRIVALS for name in urls]
            runs: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in keys}
            cpu = {key: 0.0 for key in keys}
            machine = {key: {"load generator": 0.0, "engine": 0.0, "wall": 0.0} for key in keys}
            for _ in range(rounds):
                for key in keys:
                    (arrival, name) = key
                    url = urls[key[1]]
                    before = cpu_seconds(pids[name])
                    gen = own_cpu()
                    eng = cpu_seconds(stub.pid)
                    t0 = time.time()
                    spy = (
                        profiler(pids[name], profile)
                        if name == NEULORA and arrival == IN_STEP
                        else None
                    )
                    runs[key].append(
                        asyncio.run(
                            drive(
                                url,
                                sessions,
                                turns,
                                MODEL[name],
                                name in (NEULORA, PYTHON_GC),
                                ARRIVALS[arrival],
                            )
                        )
                    )
                    if spy is not None:
                        spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
                        spy.wait()
                    cpu[key] += cpu_seconds(pids[name]) - before
                    machine[key]["load generator"] += own_cpu() - gen
                    machine[key]["engine"] += (
                        (cpu_seconds(stub.pid) - eng) if name != STUB_ALONE else 0.0
                    )
                    machine[key]["wall"] += time.time() - t0
    finally:
        stub.kill()
    results: dict[str, Any] = {}
    rows = []
    for arrival in ARRIVALS:
        block: dict[str, Any] = {}
        for (a, name), r in runs.items():
            if a != arrival:
                continue
            key = (a, name)
            done = max(1, sum(x["turns"] for x in r))
            block[name] = {
                **summary(r),
                "server_cpu_ms_per_turn": cpu[key] / done * 1e3,
                "cores_busy": {
                    "server": cpu[key] / machine[key]["wall"],
                    "load generator": machine[key]["load generator"] / machine[key]["wall"],
                    "engine behind it": machine[key]["engine"] / machine[key]["wall"],
                },
            }
        alone = block[STUB_ALONE]
        block["overhead_over_stub"] = {
            name: {
                "p50_ms": block[name]["total"]["p50_ms"] - alone["total"]["p50_ms"],
                "p99_ms": block[name]["total"]["p99_ms"] - alone["total"]["p99_ms"],
                "throughput_ratio": block[name]["turns_per_s"] / alone["turns_per_s"],
            }
            for name in (ASGI, PROXY, NEULORA, PYTHON_GC)
        }
        results[arrival] = block
        rows += [
            (
                f"{arrival} | {name}",
                f"{r['turns_per_s']:.0f} turns/s, {r['errors']} errors; turn p50 "
                f"{r['total']['p50_ms']:.0f} ms, p99 {r['total']['p99_ms']:.0f} ms; first byte p50 "
                f"{r['ttfb']['p50_ms']:.0f} ms; first text p50 {r['first_text']['p50_ms']:.0f} "
                "ms, p99 "
                f"{r['first_text']['p99_ms']:.0f} ms; server CPU {r['server_cpu_ms_per_turn']:.2f} "
                "ms/turn; "
                "cores busy: " + ", ".join(f"{k} {v:.2f}" for k, v in r["cores_busy"].items()),
            )
            for name, r in block.items()
            if name != "overhead_over_stub"
        ]
        rows += [
            (
                f"{arrival} | overhead: {name}",
                f"p50 {c['p50_ms']:.1f} ms, p99 {c['p99_ms']:.1f} ms, "
                f"throughput {c['throughput_ratio']:.2f}x the stub's",
            )
            for name, c in block["overhead_over_stub"].items()
        ]
    title = (
        f"{sessions} concurrent streaming sessions x {turns} turns, engine 300 ms per call, "
        f"{os.cpu_count()} cores for the load generator, the engine and the server"
    )
    if save:
        Path(f"{save}.json").write_text(
            json.dumps(
                {
                    "benchmark": title,
                    "sessions": sessions,
                    "turns": turns,
                    "rounds": rounds,
                    "cpus": os.cpu_count(),
                    **results,
                },
                ensure_ascii=False,
                indent=2,
            )
            + "\n"
        )
        width = max(len(k) for k, _ in rows)
        Path(f"{save}.md").write_text(
            f"{title} ({time.strftime('%Y-%m-%d')}, one run)\n\n```\n"
            + "".join(f"{k:<{width}}  {v}\n" for k, v in rows)
            + "```\n"
        )
    return report(
        f"{sessions} concurrent streaming sessions x {turns} turns, engine 300 ms per call, "
        f"{os.cpu_count()} cores for the load generator, the engine and the server",
        {"sessions": sessions, "turns": turns, "rounds": rounds, "cpus": os.cpu_count(), **results},
        rows,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--profile", help="write py-spy's collapsed stacks of the server (GIL holder) here"
    )
    parser.add_argument(
        "--save", help="also write the result to SAVE.json and its table to SAVE.md"
    )
    args = parser.parse_args()
    main(args.sessions, args.turns, args.rounds, args.profile, args.save)
