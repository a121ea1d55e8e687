"""HFStyleClient overhead per call and time to first token against a local server that answers
at once,
compared with a bare httpx call; then 32 concurrent callers sharing one client."""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import httpx
from common import median_time, report

from neulora.llm import HFStyleClient
from neulora.testing import ChatStubServer

ASK = [{"role": "user", "content": "What is a logarithm?"}]
MODELS = {
    "direct": "direct",
    "socratic": "socratic",
    "scaffolding": "scaffolding",
    "feedback": "feedback",
}


def ttft(make_stream: Any, repeat: int = 50) -> float:
    values = []
    for _ in range(repeat):
        start = time.perf_counter()
        it = iter(make_stream())
        next(it)
        values.append(time.perf_counter() - start)
        for _ in it:
            pass
    return statistics.median(values)


def main() -> dict[str, Any]:
    with ChatStubServer() as server:
        url = f"{server.url}/v1/chat/completions"
        body = {"model": "direct", "messages": ASK, "max_tokens": 64, "temperature": 0.7}
        bare = httpx.Client(timeout=30)
        client = HFStyleClient(MODELS, base_url=server.url, token="bench")
        t_bare = median_time(lambda: bare.post(url, json=body).json(), repeat=9, number=30)
        t_ours = median_time(
            lambda: client.generate("direct", ASK, max_tokens=64), repeat=9, number=30
        )

        def bare_stream() -> Any:
            with bare.stream("POST", url, json={**body, "stream": True}) as r:
                yield from (line for line in r.iter_lines() if line.startswith("data:"))

        ttft_bare = ttft(bare_stream)
        ttft_ours = ttft(lambda: client.stream("direct", ASK, max_tokens=64))

    with ChatStubServer(latency=0.05) as slow:
        client = HFStyleClient(MODELS, base_url=slow.url, token="bench")
        calls_each = 10
        threads = 32
        start = time.perf_counter()
        for _ in range(calls_each):
            client.generate("socratic", ASK)
        sequential = (time.perf_counter() - start) / calls_each
        slow.requests.clear()

        def caller() -> None:
            for _ in range(calls_each):
                client.generate("socratic", ASK)

        workers = [threading.Thread(target=caller) for _ in range(threads)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - start
        connections = len({r["client_port"] for r in slow.requests})
    total = threads * calls_each
    results = {
        "bare_httpx_ms": t_bare * 1e3,
        "hfstyleclient_ms": t_ours * 1e3,
        "overhead_ms": (t_ours - t_bare) * 1e3,
        "ttft_bare_ms": ttft_bare * 1e3,
        "ttft_ours_ms": ttft_ours * 1e3,
        "concurrency": {
            "threads": threads,
            "calls": total,
            "server_latency_s": 0.05,
            "sequential_call_s": sequential,
            "elapsed_s": elapsed,
            "speedup_over_sequential": sequential * total / elapsed,
            "tcp_connections": connections,
        },
        "targets": {"overhead_ms": "< 5"},
    }
    return report(
        "llm client",
        results,
        [
            ("bare httpx POST (median)", f"{t_bare * 1e3:.2f} ms"),
            (
                "HFStyleClient.generate",
                f"{t_ours * 1e3:.2f} ms (overhead {(t_ours - t_bare) * 1e3:.2f} ms)",
            ),
            (
                "time to first token",
                f"bare {ttft_bare * 1e3:.2f} ms, ours {ttft_ours * 1e3:.2f} ms",
            ),
            (
                f"{threads} threads x {calls_each} calls, 50 ms server",
                f"{elapsed:.2f} s = {sequential * total / elapsed:.1f}x sequential, {connections} "
                "TCP connections "
                f"for {total} calls",
            ),
        ],
    )


if __name__ == "__main__":
    main()
