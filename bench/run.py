"""Run every benchmark, print each one's JSON and table, write all to bench/results/latest.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_import
import bench_llm
import bench_pipeline
import bench_retrieval
import bench_router


def main() -> None:
    results = {}
    for name, module in (
        ("import", bench_import),
        ("router", bench_router),
        ("llm", bench_llm),
        ("pipeline", bench_pipeline),
        ("retrieval", bench_retrieval),
    ):
        print(f"\n##### {name}", flush=True)
        results[name] = module.main()
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    print(f"\nwritten to {out / 'latest.json'}")


if __name__ == "__main__":
    main()
