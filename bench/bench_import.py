"""What ``import neulora`` and ``neulora --help`` cost over a bare interpreter, side by side.

Each round runs ``python -c pass``, ``python -c "import neulora"`` and ``neulora --help`` once, in
that order, as whole processes; the medians of the rounds are compared as differences from the bare
interpreter's. Also: which modules ``import neulora`` loads.

    python bench/bench_import.py [--rounds 31]   # writes bench/import-time.json and .md
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import neulora": [sys.executable, "-c", "import neulora"],
    "neulora --help": [str(Path(sys.executable).with_name("neulora")), "--help"],
}
TARGETS_MS = {"import neulora": 60, "neulora --help": 300}  # over a bare interpreter
LOADED = (
    "import sys; before = set(sys.modules); import neulora; "
    "print(sorted(m for m in set(sys.modules) - before if not m.startswith('_')))"
)


def wall(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31, help="rounds of the three commands")
    args = parser.parse_args(argv)
    for command in COMMANDS.values():  # the file cache warm for every command
        wall(command)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.rounds):
        for name, command in COMMANDS.items():
            times[name].append(wall(command))
    median = {name: statistics.median(ts) * 1000 for name, ts in times.items()}
    bare = median["python -c pass"]
    loaded = subprocess.run(
        [sys.executable, "-c", LOADED], capture_output=True, text=True, check=True
    ).stdout
    modules: list[str] = ast.literal_eval(loaded.strip())
    results: dict[str, Any] = {
        "rounds": args.rounds,
        "median_ms": median,
        "min_ms": {name: min(ts) * 1000 for name, ts in times.items()},
        "max_ms": {name: max(ts) * 1000 for name, ts in times.items()},
        "over_bare_python_ms": {name: median[name] - bare for name in COMMANDS},
        "targets_over_bare_ms": TARGETS_MS,
        "modules_import_neulora_loads": modules,
        "python": sys.version.split()[0],
    }
    (HERE / "import-time.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    rows = [
        "| command | median | min | max | over `python -c pass` | target (over) |",
        "|---|---|---|---|---|---|",
    ]
    for name in COMMANDS:
        target = f"< {TARGETS_MS[name]} ms" if name in TARGETS_MS else ""
        rows.append(
            f"| `{name}` | {median[name]:.1f} ms | {results['min_ms'][name]:.1f} ms "
            f"| {results['max_ms'][name]:.1f} ms | {median[name] - bare:+.1f} ms | {target} |"
        )
    table = "\n".join(rows)
    how = (
        f"`python bench/bench_import.py --rounds {args.rounds}`: each round runs the three "
        "commands once, in turn, as whole processes; medians of the rounds."
    )
    text = (
        f"# Import time\n\n{how}\n\n{table}\n\n`import neulora` loads: {', '.join(modules)} "
        "(every other name loads when first used).\n"
    )
    (HERE / "import-time.md").write_text(text, encoding="utf-8")
    print(json.dumps(results, indent=2))
    print(table)
    return results


if __name__ == "__main__":
    main()
