"""How a router that reads the dialogue's state compares with text-only routers, on MathDial.

Five folds by conversation over the shared routing rows (the rows of one conversation stay in one
fold); each fold trains on four and routes the fifth; the pooled predictions are scored. For each
embedder (hash, the offline USE) and L2 penalty: the linear head on the text alone and with the
state (the style of the teacher's move the learner answered, ``prev_label``, and the position). The
rules beside them: always the majority style, and the previous style again. A state router is also
scored with every row's previous style hidden (a session's first turn, a turn with its own history).
The penalties are chosen on these same folds: the figures are a little optimistic.

    python bench/bench_router_state.py   # writes bench/router-state.json and .md
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROWS = HERE.parents[1] / "shared" / "data" / "mathdial_routing_dev.jsonl"
L2 = (0.003, 0.01, 0.03)


def main() -> dict[str, Any]:
    from neulora.cli._eval import row_states
    from neulora.embedders import HashingEmbedder, UniversalSentenceEncoder
    from neulora.eval._agreement import agreement
    from neulora.router import DialogueState
    from neulora.train import LinearHead
    from neulora.train._fit import fit_vectors

    rows = [json.loads(line) for line in ROWS.read_text(encoding="utf-8").splitlines()]
    labels = [r["label"] for r in rows]
    states = row_states(rows)
    conversations = sorted({r["conversation_id"] for r in rows})
    fold_of = {c: i % 5 for i, c in enumerate(conversations)}
    fold = np.array([fold_of[r["conversation_id"]] for r in rows])
    results: dict[str, Any] = {"rows": len(rows), "folds": 5, "routers": {}}

    def score(name: str, predicted: list[str]) -> None:
        a = agreement(labels, predicted)
        results["routers"][name] = {"accuracy": a.accuracy, "macro_f1": a.macro_f1}
        print(f"{name:<34} accuracy {a.accuracy:.3f}  macro-F1 {a.macro_f1:.3f}", flush=True)

    majority = Counter(labels).most_common(1)[0][0]
    score("majority style", [majority] * len(rows))
    score("previous style again", [r.get("prev_label") or majority for r in rows])
    for name, embedder in (("hash", HashingEmbedder()), ("use", UniversalSentenceEncoder())):
        vectors = embedder.embed([r["text"] for r in rows])
        for l2 in L2:
            for with_state in (False, True):
                predicted = np.empty(len(rows), dtype=object)
                unknown = np.empty(len(rows), dtype=object)
                for k in range(5):
                    train = fold != k
                    test = fold == k
                    router = fit_vectors(
                        vectors[train],
                        [lab for lab, t in zip(labels, train, strict=True) if t],
                        embedder,
                        head=LinearHead(l2=l2),
                        states=[s for s, t in zip(states, train, strict=True) if t]
                        if with_state
                        else None,
                    )
                    batch = router.route_vectors(
                        vectors[test],
                        states=[s for s, t in zip(states, test, strict=True) if t]
                        if with_state
                        else None,
                    )
                    predicted[test] = [router.styles[i] for i in batch.chosen]
                    if with_state:  # as a session's first turn: no previous style known
                        blind = [
                            DialogueState(None, s.turn)
                            for s, t in zip(states, test, strict=True)
                            if t
                        ]
                        first = router.route_vectors(vectors[test], states=blind)
                        unknown[test] = [router.styles[i] for i in first.chosen]
                what = "text + state" if with_state else "text"
                score(f"{name} linear l2={l2} {what}", [str(p) for p in predicted])
                if with_state:
                    score(
                        f"{name} linear l2={l2} state, previous unknown", [str(p) for p in unknown]
                    )
    (HERE / "router-state.json").write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    lines = [
        "# Routing MathDial with the dialogue's state",
        "",
        f"{len(rows)} rows, 5 folds by conversation (`python bench/bench_router_state.py`).",
        "",
        "| router | accuracy | macro-F1 |",
        "|---|---|---|",
        *(
            f"| {n} | {v['accuracy']:.3f} | {v['macro_f1']:.3f} |"
            for n, v in results["routers"].items()
        ),
    ]
    (HERE / "router-state.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
