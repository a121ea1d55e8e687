from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from neulora import CentroidRouter, ConfigError, InvalidInputError
from neulora.embedders import HashingEmbedder
from neulora.routing import FallbackRule
from neulora.train import (
    LinearHead,
    evaluate,
    fit,
    fit_threshold,
    from_examples,
    report_from_predictions,
)


def load_rows(shared_data: Path) -> list[dict[str, Any]]:
    lines = (shared_data / "mathdial_routing_dev.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def split_by_conversation(
    rows: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    def in_test(cid: str) -> bool:
        return int(hashlib.sha256(cid.encode()).hexdigest(), 16) % 4 == 0

    return [r for r in rows if not in_test(r["conversation_id"])], [
        r for r in rows if in_test(r["conversation_id"])
    ]


@pytest.fixture(scope="module")
def split(shared_data: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return split_by_conversation(load_rows(shared_data))


def test_fit_and_evaluate_on_mathdial_split_by_conversation(split: Any) -> None:
    train, test = split
    assert not {r["conversation_id"] for r in train} & {r["conversation_id"] for r in test}
    embedder = HashingEmbedder(dim=1024)
    router = fit(
        [r["text"] for r in train],
        [r["label"] for r in train],
        embedder,
        histories=[r["history"] for r in train],
    )
    assert router.styles == ("direct", "socratic", "scaffolding", "feedback")
    assert router.to_spec().label_counts == {
        s: sum(r["label"] == s for r in train) for s in router.styles
    }
    report = evaluate(
        router, [r["text"] for r in test], [r["label"] for r in test], [r["history"] for r in test]
    )
    print(
        "\nnearest-centroid router, HashingEmbedder, mathdial split by conversation\n"
        + report.format()
    )
    confusion = np.asarray(report.confusion)
    assert confusion.sum() == report.n == len(test)
    for i, s in enumerate(report.styles):
        assert (
            report.per_style[s].support == confusion[i].sum() == sum(r["label"] == s for r in test)
        )
    assert report.accuracy == pytest.approx(np.trace(confusion) / len(test))
    assert report.macro_f1 == pytest.approx(np.mean([m.f1 for m in report.per_style.values()]))
    assert report.accuracy > 0.25
    assert report.fallback_share == 0.0
    assert (report.router, report.embedder) == ("centroid", embedder.name)


def test_reports_carry_the_majority_and_uniform_baselines(split: Any) -> None:
    train, test = split
    embedder = HashingEmbedder(dim=1024)
    router = fit(
        [r["text"] for r in train], [r["label"] for r in train], embedder, head=LinearHead()
    )
    labels = [r["label"] for r in test]
    report = evaluate(router, [r["text"] for r in test], labels)
    counts = {s: labels.count(s) for s in router.styles}
    frequent = max(counts, key=counts.__getitem__)
    share = counts[frequent] / len(labels)
    assert report.majority.style == frequent
    assert report.majority.accuracy == pytest.approx(share)
    # F1 of one style in four
    assert report.majority.macro_f1 == pytest.approx(2 * share / (1 + share) / 4)
    assert report.uniform.accuracy == 0.25
    expected_f1 = np.mean(
        [2 * (c / len(labels)) * 0.25 / (c / len(labels) + 0.25) for c in counts.values()]
    )
    assert report.uniform.macro_f1 == pytest.approx(expected_f1)
    assert report.macro_f1 > report.majority.macro_f1 and report.macro_f1 > report.uniform.macro_f1
    data = report.to_dict()
    assert data["router"] == "linear" and data["embedder"] == embedder.name
    assert data["baselines"]["majority"] == {
        "accuracy": report.majority.accuracy,
        "macro_f1": report.majority.macro_f1,
        "style": frequent,
    }
    assert data["baselines"]["uniform"] == {"accuracy": 0.25, "macro_f1": report.uniform.macro_f1}
    text = report.format()
    assert text.startswith(f"router=linear  embedder={embedder.name}\n")
    assert (
        f"baselines: majority ({frequent}) accuracy={share:.3f}" in text
        and "uniform accuracy=0.250" in text
    )


def test_fit_threshold_is_deterministic_and_never_worse(split: Any) -> None:
    train, test = split
    embedder = HashingEmbedder(dim=1024)
    router = fit([r["text"] for r in train], [r["label"] for r in train], embedder)
    texts = [r["text"] for r in test]
    labels = [r["label"] for r in test]
    tuned = fit_threshold(router, texts, labels)
    again = fit_threshold(router, texts, labels)
    assert tuned.rule == again.rule and isinstance(tuned.rule, FallbackRule)
    assert tuned.rule.fallback_style == router.rule.fallback_style
    before = evaluate(router, texts, labels)
    after = evaluate(tuned, texts, labels)
    assert after.accuracy >= before.accuracy
    if tuned.rule.threshold is None and tuned.rule.min_margin is None:
        assert after.fallback_share == 0.0
    else:
        assert after.fallback_share > 0.0


def test_from_examples_and_save_round_trip(tmp_path: Path) -> None:
    examples = {
        "direct": ["what is the formula for the sum", "정의를 알려줘"],
        "socratic": ["why does it work that way", "왜 그렇게 되나요"],
        "scaffolding": ["help me step by step", "단계별로 도와줘"],
        "feedback": ["is my answer of 12 correct", "제 풀이가 맞나요"],
    }
    router = from_examples(examples, HashingEmbedder(dim=256))
    assert router.route("정의를 알려줘").style == "direct"
    assert router.to_spec().label_counts == {
        "direct": 2,
        "socratic": 2,
        "scaffolding": 2,
        "feedback": 2,
    }
    assert router.to_spec().embedder == HashingEmbedder(dim=256).spec().to_json()
    router.save(tmp_path / "mine.json")
    # rebuilds the hashing embedder the file names
    loaded = CentroidRouter.from_file(tmp_path / "mine.json")
    assert loaded.embedder.name == router.embedder.name
    assert loaded.route("제 풀이가 맞나요").scores == pytest.approx(
        router.route("제 풀이가 맞나요").scores
    )


def test_fit_refuses_inconsistent_training_data() -> None:
    e = HashingEmbedder(dim=64)
    with pytest.raises(ConfigError, match="as many labels"):
        fit(["a", "b"], ["direct"], e)
    with pytest.raises(ConfigError, match="not among the styles"):
        fit(["a", "b"], ["direct", "lecture"], e, styles=["direct", "socratic"])
    with pytest.raises(ConfigError, match="no training examples for style"):
        fit(["a", "b"], ["direct", "direct"], e, styles=["direct", "socratic"])
    router = fit(["a", "b"], ["direct", "socratic"], e)
    with pytest.raises(InvalidInputError, match="labels not among"):
        evaluate(router, ["a"], ["lecture"])
    with pytest.raises(InvalidInputError, match="1 examples but 2 labels"):
        evaluate(router, ["a"], ["direct", "direct"])


def test_macro_f1_leaves_out_a_style_neither_the_rows_nor_the_router_used() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    styles = ["direct", "socratic", "scaffolding", "feedback"]
    truth, chosen = [0, 1, 0, 1, 1, 2], [0, 1, 1, 1, 1, 0]
    report = report_from_predictions(styles, truth, chosen, [False] * 6)
    assert report.macro_f1 == pytest.approx(metrics.f1_score(truth, chosen, average="macro"))
    perfect = report_from_predictions(styles, [0, 1, 0, 1], [0, 1, 0, 1], [False] * 4)
    assert perfect.macro_f1 == 1.0
    # always socratic, the rows' most frequent style, scored the same way
    assert report.majority.macro_f1 == pytest.approx(
        metrics.f1_score(truth, [1] * 6, average="macro")
    )
