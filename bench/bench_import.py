"""`import neulora` in a fresh process: wall time and peak RSS; heavy libraries must not load."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from common import report

# Peak RSS from VmHWM (this process image only): ru_maxrss would carry over the parent's peak
# through fork.
HWM = "int(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))"
PROBE = f"""
import sys, time
start = time.perf_counter()
import neulora
elapsed = time.perf_counter() - start
heavy = [m for m in ("chromadb", "torch", "transformers", "huggingface_hub") if m in sys.modules]
print(elapsed, {HWM}, ",".join(heavy))
"""
BASELINE = f"print({HWM})"


def main() -> dict[str, object]:
    times = []
    rss = []
    heavy = set()
    for _ in range(9):
        out = subprocess.run(
            [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
        ).stdout.split()
        times.append(float(out[0]))
        rss.append(int(out[1]) / 1024)
        heavy.update(x for x in (out[2].split(",") if len(out) > 2 else []) if x)
    base = [
        int(
            subprocess.run(
                [sys.executable, "-c", BASELINE], capture_output=True, text=True, check=True
            ).stdout
        )
        / 1024
        for _ in range(3)
    ]
    results = {
        "import_s_median": statistics.median(times),
        "peak_rss_mb_median": statistics.median(rss),
        "bare_python_rss_mb": statistics.median(base),
        "heavy_modules_loaded": sorted(heavy),
        "targets": {"import_s": 0.15, "peak_rss_mb": 40},
    }
    return report(
        "import neulora",
        results,
        [
            (
                "wall time (median of 9)",
                f"{results['import_s_median'] * 1000:.1f} ms (target < 150 ms)",
            ),
            (
                "peak RSS",
                f"{results['peak_rss_mb_median']:.1f} MB (bare python "
                f"{results['bare_python_rss_mb']:.1f} MB;"
                " target < 40 MB)",
            ),
            ("heavy modules loaded", json.dumps(sorted(heavy)) or "none"),
        ],
    )


if __name__ == "__main__":
    main()
