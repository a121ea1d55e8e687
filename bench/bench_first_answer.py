"""Time to the first answer after ``neulora serve`` starts, with the model loaded at start-up
(the default)
and with ``--no-warm-up`` (loaded by the first question), side by side.

    python bench/bench_first_answer.py [--rounds 3] [--save]

The offline setup (no token: hashing embeddings, the exemplar router, SmolLM2-135M on the CPU, the
sample notes). For each round and mode: seconds from the process start until ``/healthz`` answers
(ready), the first chat completion's latency, and the sum (what the first learner waits, counted
from the start).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ASKED = "I'm stuck on the sum of a geometric sequence, where do I start?"
QUESTION = {"model": "neulora", "max_tokens": 48, "messages": [{"role": "user", "content": ASKED}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one(warm: bool, folder: Path) -> dict[str, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "NEULORA_"))}
    env.update(HF_HUB_OFFLINE="1", NEULORA_CHROMA_PATH=str(folder / "db"))
    argv = [
        sys.executable,
        "-m",
        "neulora",
        "serve",
        "--port",
        str(port),
        "--notes",
        str(Path(__import__("neulora.train", fromlist=["corpus_dir"]).corpus_dir())),
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv + ([] if warm else ["--no-warm-up"]),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("neulora serve exited")
            time.sleep(0.05)
        ready = time.perf_counter() - started
        t0 = time.perf_counter()
        reply = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions", json=QUESTION, timeout=300
        )
        reply.raise_for_status()
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions", json=QUESTION, timeout=300
        ).raise_for_status()
        second = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "ready_s": ready,
        "first_answer_s": first,
        "second_answer_s": second,
        "first_from_start_s": ready + first,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--save", action="store_true", help="write bench/first-answer.{json,md}")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"warm-up": [], "no warm-up": []}
    with tempfile.TemporaryDirectory() as tmp:
        # alternated, so that a drift of the machine hits both modes alike
        for n in range(args.rounds):
            for mode in runs:
                runs[mode].append(
                    one(mode == "warm-up", Path(tmp) / f"{mode}-{n}".replace(" ", "-"))
                )
    medians = {
        mode: {k: round(statistics.median(r[k] for r in rows), 2) for k in rows[0]}
        for mode, rows in runs.items()
    }
    results = {"rounds": args.rounds, "medians": medians, "runs": runs}
    table = [
        "| median seconds | ready | first answer | first answer from start | second answer |",
        "|---|---|---|---|---|",
    ]
    table += [
        f"| {mode} | {m['ready_s']} | {m['first_answer_s']} | {m['first_from_start_s']} | "
        f"{m['second_answer_s']} |"
        for mode, m in medians.items()
    ]
    print(json.dumps(results, indent=2))
    print("\n".join(table))
    if args.save:
        (HERE / "first-answer.json").write_text(
            json.dumps(results, indent=2) + "\n", encoding="utf-8"
        )
        (HERE / "first-answer.md").write_text(
            "# Time to the first answer after `neulora serve` starts (offline: SmolLM2-135M on the "
            "CPU)\n\n"
            f"Medians of {args.rounds} alternated rounds, one run.\n\n" + "\n".join(table) + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
