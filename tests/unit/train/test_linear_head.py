from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neulora import CentroidRouter, ConfigError
from neulora.embedders import HashingEmbedder
from neulora.routing._file import Linear
from neulora.train import LinearHead, evaluate, evaluate_vectors, fit, fit_vectors

STYLES = ["direct", "socratic"]


def skewed(n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Two styles whose means differ along (e1 + e2), with large noise on e1 and almost none on e2.

    The sign of the e2 coordinate alone tells the styles apart (and survives normalisation), but the
    mean difference points half along the noisy e1, so nearest centroid decides mostly on noise.
    """
    rng = np.random.default_rng(seed)
    sign = rng.choice([-1.0, 1.0], size=n)
    x = np.zeros((n, 8))
    x[:, 0] = 3.0
    x[:, 1] = 0.5 * sign + rng.normal(0, 2.0, n)
    x[:, 2] = 0.5 * sign + rng.normal(0, 0.05, n)
    x[:, 3:] = rng.normal(0, 0.05, (n, 5))
    return x, [STYLES[0] if s > 0 else STYLES[1] for s in sign]


def rare(n: int, seed: int, share: float = 0.05) -> tuple[np.ndarray, list[str]]:
    """Overlapping styles, one of them rare (about ``share`` of the rows)."""
    rng = np.random.default_rng(seed)
    is_rare = rng.random(n) < share
    x = np.zeros((n, 8))
    x[:, 0] = 1.0
    x[:, 1] = np.where(is_rare, 0.3, -0.3) + rng.normal(0, 0.3, n)
    x[:, 2:] = rng.normal(0, 0.3, (n, 6))
    return x, [STYLES[1] if r else STYLES[0] for r in is_rare]


@pytest.fixture(scope="module")
def embedder() -> HashingEmbedder:
    return HashingEmbedder(dim=8)


def test_linear_head_separates_styles_that_nearest_centroid_confuses(
    embedder: HashingEmbedder,
) -> None:
    x_train, y_train = skewed(400, seed=0)
    x_test, y_test = skewed(400, seed=1)
    centroid = evaluate_vectors(fit_vectors(x_train, y_train, embedder), x_test, y_test)
    linear = evaluate_vectors(
        fit_vectors(x_train, y_train, embedder, head=LinearHead()), x_test, y_test
    )
    assert centroid.router == "centroid" and linear.router == "linear"
    assert 0.6 < centroid.accuracy < 0.72  # the noise along e1 decides a third of the cases
    assert linear.accuracy == 1.0 and linear.macro_f1 == 1.0


def test_linear_scores_are_the_softmax_of_the_layer_over_unit_vectors(
    embedder: HashingEmbedder,
) -> None:
    x, y = skewed(100, seed=2)
    router = fit_vectors(x, y, embedder, head=LinearHead())
    layer = router.to_spec().classifier
    assert isinstance(layer, Linear) and layer.weight.shape == (2, 8) and layer.bias.shape == (2,)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    logits = unit @ layer.weight.T + layer.bias
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    batch = router.route_vectors(x)
    assert np.max(np.abs(batch.scores - expected)) < 1e-12
    decision = router.route_vector(x[0])
    assert sum(decision.scores.values()) == pytest.approx(1.0)
    assert decision.reason.startswith("linear classifier: ")


def test_linear_router_round_trips_through_its_file(
    embedder: HashingEmbedder, tmp_path: Path
) -> None:
    x, y = skewed(200, seed=3)
    router = fit_vectors(x, y, embedder, head=LinearHead(), threshold=0.6, min_margin=0.1)
    path = tmp_path / "linear.json"
    router.save(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert (
        raw["classifier"].keys() == {"type", "weight", "bias"}
        and raw["classifier"]["type"] == "linear"
    )
    assert (raw["threshold"], raw["min_margin"]) == (0.6, 0.1)
    # the file names the hashing embedder: no embedder needed
    loaded = CentroidRouter.from_file(path)
    assert loaded.embedder.name == embedder.name and loaded.rule == router.rule
    queries = np.random.default_rng(4).normal(size=(50, 8))
    assert (
        np.max(np.abs(loaded.route_vectors(queries).scores - router.route_vectors(queries).scores))
        < 1e-12
    )
    assert (
        loaded.route_vectors(queries).style_names() == router.route_vectors(queries).style_names()
    )
    loaded.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


def test_two_fits_on_the_same_data_give_identical_weights(embedder: HashingEmbedder) -> None:
    x, y = skewed(300, seed=5)
    first, second = (
        fit_vectors(x, y, embedder, head=LinearHead()).to_spec().classifier for _ in range(2)
    )
    assert isinstance(first, Linear) and isinstance(second, Linear)
    assert np.array_equal(first.weight, second.weight) and np.array_equal(first.bias, second.bias)


def test_balancing_gives_a_rare_style_its_recall(embedder: HashingEmbedder) -> None:
    x_train, y_train = rare(1000, seed=6)
    x_test, y_test = rare(1000, seed=7)
    assert y_train.count("socratic") < 60
    balanced = evaluate_vectors(
        fit_vectors(x_train, y_train, embedder, head=LinearHead()), x_test, y_test
    )
    plain = evaluate_vectors(
        fit_vectors(x_train, y_train, embedder, head=LinearHead(balanced=False)), x_test, y_test
    )
    assert balanced.per_style["socratic"].recall > 0.8  # found most of the rare style
    assert plain.per_style["socratic"].recall < 0.35  # mostly answered the frequent one
    mean_recall = {
        name: np.mean([m.recall for m in r.per_style.values()])
        for name, r in (("balanced", balanced), ("plain", plain))
    }
    assert mean_recall["balanced"] > mean_recall["plain"] + 0.2


def test_when_balanced_repeating_a_styles_examples_changes_nothing(
    embedder: HashingEmbedder,
) -> None:
    x, y = skewed(200, seed=8)
    extra = [i for i, label in enumerate(y) if label == "socratic"]
    x3 = np.vstack([x, x[extra], x[extra]])
    y3 = y + [y[i] for i in extra] * 2
    weights = {}
    for balanced in (True, False):
        once, thrice = (
            fit_vectors(a, b, embedder, head=LinearHead(balanced=balanced)).to_spec().classifier
            for a, b in ((x, y), (x3, y3))
        )
        assert isinstance(once, Linear) and isinstance(thrice, Linear)
        weights[balanced] = (once, thrice)
    once, thrice = weights[True]
    assert np.allclose(once.weight, thrice.weight, atol=1e-8) and np.allclose(
        once.bias, thrice.bias, atol=1e-8
    )
    once, thrice = weights[False]
    # pulled toward the repeated style
    assert thrice.bias[1] - thrice.bias[0] > once.bias[1] - once.bias[0] + 0.1


def test_linear_head_trains_from_texts_and_reports_its_name() -> None:
    texts = [
        "what is a log",
        "define a logarithm",
        "tell me the formula",
        "why does it work",
        "why is that so",
        "how come it holds",
    ]
    labels = ["direct"] * 3 + ["socratic"] * 3
    router = fit(texts, labels, HashingEmbedder(dim=256), head=LinearHead())
    report = evaluate(router, texts, labels)
    assert report.accuracy == 1.0
    assert (report.router, report.embedder) == ("linear", router.embedder.name)
    assert report.to_dict()["router"] == "linear"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"l2": 0.0}, "l2 must be a number above 0"),
        ({"l2": float("nan")}, "l2 must be a number above 0"),
        ({"l2": "0.1"}, "l2 must be a number above 0"),
        ({"steps": 0}, "steps must be a positive int"),
        ({"steps": True}, "steps must be a positive int"),
    ],
)
def test_linear_head_refuses_meaningless_settings(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LinearHead(**options)  # type: ignore[arg-type]
