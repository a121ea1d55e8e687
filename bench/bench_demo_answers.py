"""The offline demo's answers, before and after a change, side by side.

Are they readable, in a language the model writes, free of U+FFFD; how fast does the model write and
load.

    python bench/bench_demo_answers.py --before REV [--save]

``REV`` is checked out into a temporary git worktree; each tree answers in its own process (the
demo's four questions and the 20 Korean questions of bench/data/demo_questions_ko.txt, written from
the sample notes), one after the other. An answer is *readable* when it holds no Hangul
(SmolLM2-135M writes English only: its Korean is noise), no U+FFFD, at least three words, and ends
at a sentence end.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
QUESTIONS = HERE / "data" / "demo_questions_ko.txt"

WORKER = r"""
import json, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
from neulora.cli import DEMO_QUESTIONS, demo_pipeline
from neulora.generation import TransformersStyleClient

extra = open(sys.argv[2], encoding="utf-8").read().splitlines()
questions = list(DEMO_QUESTIONS) + [q for q in extra if q.strip()]
client = TransformersStyleClient.smollm2()
started = time.perf_counter()
tokenizer, _ = client._load("direct")
load = time.perf_counter() - started
pipeline = demo_pipeline(tempfile.mkdtemp(), client=client)
rows = []
for n, question in enumerate(questions):
    answer = pipeline.ask(question, session_id=f"bench-{n}")
    # what the model generated (an answer trimmed to its last sentence is shorter than what it cost)
    tokens = (answer.usage or {}).get("completion_tokens") or len(tokenizer.encode(answer.text,
                                                                                   add_special_tokens=False))
    rows.append({"question": question, "text": answer.text, "tokens": tokens,
                 "generate_s": answer.timings["generate"], "finish_reason": answer.finish_reason})
print(json.dumps({"load_s": load, "rows": rows}, ensure_ascii=False))
"""

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")


def readable(text: str) -> bool:
    """Readable English sentences.

    No Hangul, no U+FFFD, three words or more, ends at a sentence end.
    """
    return (
        not _HANGUL.search(text)
        and "\ufffd" not in text
        and len(text.split()) >= 3
        and text.rstrip()[-1:] in (".", "!", "?")
    )


def measure(tree: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(tree), str(QUESTIONS)],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    rows = data["rows"]
    korean = [r for r in rows if _HANGUL.search(r["question"])]
    return {
        "load_s": round(data["load_s"], 2),
        "answers": len(rows),
        "readable_share": round(sum(readable(r["text"]) for r in rows) / len(rows), 3),
        "readable_share_korean_questions": round(
            sum(readable(r["text"]) for r in korean) / len(korean), 3
        ),
        "replacement_mark_share": round(sum("\ufffd" in r["text"] for r in rows) / len(rows), 3),
        "hangul_answer_share": round(
            sum(bool(_HANGUL.search(r["text"])) for r in rows) / len(rows), 3
        ),
        "tokens_per_s_median": round(
            statistics.median(r["tokens"] / r["generate_s"] for r in rows if r["generate_s"] > 0), 1
        ),
        "examples": [{"question": r["question"], "answer": r["text"][:160]} for r in rows[4:7]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--before", required=True, help="the git revision to compare with this tree"
    )
    parser.add_argument("--save", action="store_true", help="write bench/demo-answers.{json,md}")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before_tree = Path(tmp) / "before"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before_tree), args.before],
            check=True,
            capture_output=True,
        )
        try:
            results = {"before": measure(before_tree), "after": measure(ROOT)}
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before_tree)],
                check=False,
            )
    results["before_rev"] = args.before
    keys = [
        "readable_share",
        "readable_share_korean_questions",
        "replacement_mark_share",
        "hangul_answer_share",
        "tokens_per_s_median",
        "load_s",
    ]
    table = ["| | before | after |", "|---|---|---|"]
    table += [f"| {k} | {results['before'][k]} | {results['after'][k]} |" for k in keys]
    print(json.dumps(results, ensure_ascii=False, indent=2))
    print("\n".join(table))
    if args.save:
        (HERE / "demo-answers.json").write_text(
            json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        (HERE / "demo-answers.md").write_text(
            f"# The demo's answers (SmolLM2-135M), before ({args.before}) and after\n\n"
            f"{results['after']['answers']} questions: the demo's 4 and 20 Korean questions "
            "written from the sample "
            "notes; greedy decoding, max_tokens 96; one run, the two trees one after the other.\n\n"
            + "\n".join(table)
            + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
