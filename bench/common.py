"""Helpers shared by the benchmarks: timing, and printing JSON plus a short table."""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def median_time(fn: Callable[[], Any], *, repeat: int = 7, number: int = 1) -> float:
    """Median seconds per call over ``repeat`` rounds of ``number`` calls."""
    fn()  # warm up
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - start) / number)
    return statistics.median(rounds)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, results: dict[str, Any], rows: list[tuple[str, str]]) -> dict[str, Any]:
    """Print the JSON result and a two-column table; return the result."""
    print(json.dumps({"benchmark": name, **results}, ensure_ascii=False, indent=2))
    width = max(len(k) for k, _ in rows)
    print(f"\n{name}")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    return results
