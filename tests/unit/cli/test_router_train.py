"""``neulora router-train`` on the shared MathDial rows, checked on conversations it never saw."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neulora.cli import main


@pytest.fixture
def split(shared_data: Path, tmp_path: Path) -> tuple[Path, Path]:
    rows = (shared_data / "mathdial_routing_dev.jsonl").read_text(encoding="utf-8").splitlines()
    conversations = sorted({json.loads(r)["conversation_id"] for r in rows})
    held = set(conversations[::4])  # a quarter of the conversations, whole
    train = tmp_path / "train.jsonl"
    test = tmp_path / "test.jsonl"
    train.write_text("\n".join(r for r in rows if json.loads(r)["conversation_id"] not in held))
    test.write_text("\n".join(r for r in rows if json.loads(r)["conversation_id"] in held))
    return train, test


def test_a_state_router_beats_the_baselines_on_held_out_conversations(
    split: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = split
    out = tmp_path / "router.json"
    assert (
        main(["router-train", str(train), "--out", str(out), "--embedder", "hash", "--state"]) == 0
    )
    assert "reading the dialogue state" in capsys.readouterr().err
    assert json.loads(out.read_text())["classifier"]["state"]["previous"][0] == "direct"
    assert (
        main(["router-eval", str(test), "--router", str(out), "--embedder", "hash", "--json"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] >= 0.42 and report["macro_f1"] >= 0.37, report
    previous = report["baselines"]["previous_style"]
    assert report["macro_f1"] > previous["macro_f1"]
    assert report["accuracy"] > report["baselines"]["majority"]["accuracy"]
    # the same rows routed on their text alone do much worse
    text_only = tmp_path / "text.json"
    assert main(["router-train", str(train), "--out", str(text_only), "--embedder", "hash",
                 "--head", "linear"]) == 0  # fmt: skip
    assert main(["router-eval", str(test), "--router", str(text_only), "--embedder", "hash",
                 "--json"]) == 0  # fmt: skip
    blind = json.loads(capsys.readouterr().out)
    assert blind["accuracy"] < report["accuracy"] - 0.05


def test_router_train_refuses_what_cannot_work(split: tuple[Path, Path], tmp_path: Path) -> None:
    train, _ = split
    out = str(tmp_path / "r.json")
    assert main(["router-train", str(train), "--out", out, "--state", "--head", "centroid"]) == 2
    assert main(["router-train", str(train), "--out", out, "--l2", "0"]) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hi", "label": "direct", "turn_index": -2}\n')
    assert main(["router-train", str(bad), "--out", out, "--embedder", "hash", "--state"]) == 1


def test_a_state_router_without_a_previous_style_still_routes_on_the_text(
    split: tuple[Path, Path], tmp_path: Path
) -> None:
    from collections import Counter

    from neulora.embedders import HashingEmbedder
    from neulora.eval import agreement
    from neulora.router import CentroidRouter, DialogueState

    train, test = split
    out = tmp_path / "router.json"
    assert (
        main(["router-train", str(train), "--out", str(out), "--embedder", "hash", "--state"]) == 0
    )
    router = CentroidRouter.from_file(out, HashingEmbedder())
    rows = [json.loads(line) for line in test.read_text().splitlines()]
    # a session's first turn, or a turn that brings its own history: no previous style known
    states = [DialogueState(None, r["turn_index"]) for r in rows]
    batch = router.route_many([r["text"] for r in rows], states=states)
    chosen = [router.styles[i] for i in batch.chosen]
    assert max(Counter(chosen).values()) / len(chosen) < 0.7  # not one style for everything
    assert agreement([r["label"] for r in rows], chosen).macro_f1 > 0.27
