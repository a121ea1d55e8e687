from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from neulora import CentroidRouter, ConfigError, InvalidInputError
from neulora._assemble import build_router
from neulora.cli import main
from neulora.embedders import HashingEmbedder, HFInferenceEmbedder
from neulora.errors import EmbedderMismatchError, RouterFileError
from neulora.routing import FallbackRule, format_router_input, load_spec
from neulora.settings import Settings
from neulora.testing import CountingEmbedder
from neulora.train import evaluate, fit_threshold


@pytest.fixture(scope="module")
def raw(router_file: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(router_file.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def router(router_file: Path) -> CentroidRouter:
    # The file is in bge-m3 space; these tests route its own vectors, or hashing ones, through it on
    # purpose.
    return CentroidRouter.from_file(router_file, HashingEmbedder(dim=1024), allow_mismatch=True)


def write(tmp_path: Path, data: Any, name: str = "router.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_real_router_file_loads_with_its_styles_and_counts(router: CentroidRouter) -> None:
    assert router.styles == ("direct", "socratic", "scaffolding", "feedback")
    assert router.dim == 1024
    spec = router.to_spec()
    assert spec.label_counts == {
        "direct": 6758,
        "socratic": 27007,
        "scaffolding": 12122,
        "feedback": 18697,
    }
    assert spec.head == "centroid" and spec.embedder == {
        "backend": "bge",
        "model_name": "BAAI/bge-m3",
    }
    assert router.rule == FallbackRule(threshold=None, min_margin=None, fallback_style="direct")


def test_without_embedder_the_file_names_bge_m3_and_nothing_is_downloaded(
    router_file: Path,
) -> None:
    r = CentroidRouter.from_file(router_file)
    assert type(r.embedder).__name__ == "TransformersEmbedder"
    assert r.embedder.model == "BAAI/bge-m3"  # type: ignore[attr-defined]


def test_each_centroid_with_noise_routes_to_its_own_style(
    router: CentroidRouter, raw: dict[str, Any]
) -> None:
    rng = np.random.default_rng(0)
    for style in router.styles:
        centroid = np.asarray(raw["centroids"][style])
        for _ in range(20):
            noisy = centroid + rng.normal(0, 0.003, size=centroid.shape)
            decision = router.route_vector(noisy)
            assert decision.style == style
            assert not decision.fallback
            assert decision.margin > 0


def test_scores_match_a_numpy_reference(router: CentroidRouter, raw: dict[str, Any]) -> None:
    rng = np.random.default_rng(1)
    queries = rng.normal(size=(50, 1024))
    c = np.asarray([raw["centroids"][s] for s in router.styles])
    reference = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ (
        c / np.linalg.norm(c, axis=1, keepdims=True)
    ).T
    batch = router.route_vectors(queries)
    assert np.max(np.abs(batch.scores - reference)) < 1e-6
    for i in range(0, 50, 7):
        d = batch[i]
        assert d.style == router.styles[int(np.argmax(reference[i]))]
        assert d.scores == pytest.approx(
            dict(zip(router.styles, reference[i], strict=True)), abs=1e-6
        )
        top2 = np.sort(reference[i])[-2:]
        assert d.margin == pytest.approx(top2[1] - top2[0], abs=1e-6)
    single = router.route_vector(queries[3])
    assert single.scores == pytest.approx(batch[3].scores, abs=1e-12)


def test_float32_batches_agree_with_float64(router: CentroidRouter) -> None:
    q = np.random.default_rng(2).normal(size=(100, 1024))
    assert (
        np.max(
            np.abs(
                router.route_vectors(q.astype(np.float32)).scores - router.route_vectors(q).scores
            )
        )
        < 1e-5
    )


def test_save_then_from_file_is_identical(
    router: CentroidRouter, router_file: Path, raw: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "copy.json"
    router.save(out)
    assert json.loads(out.read_text(encoding="utf-8")) == raw
    assert out.read_bytes() == router_file.read_bytes()
    again = CentroidRouter.from_file(out, HashingEmbedder(dim=1024), allow_mismatch=True)
    assert again.styles == router.styles
    assert np.array_equal(again.to_spec().centroids, router.to_spec().centroids)
    assert again.to_spec().label_counts == router.to_spec().label_counts


def _mutations() -> list[tuple[str, Any, str]]:
    def drop(key: str) -> Any:
        return lambda d: d.pop(key)

    def setter(path: list[Any], value: Any) -> Any:
        def apply(d: dict[str, Any]) -> None:
            target = d
            for p in path[:-1]:
                target = target[p]
            target[path[-1]] = value

        return apply

    return [
        ("missing centroids", drop("centroids"), "missing key(s) centroids"),
        ("missing styles", drop("styles"), "missing key(s) styles"),
        ("missing embedder", drop("embedder"), "missing key(s) embedder"),
        (
            "style without centroid",
            lambda d: d["centroids"].pop("feedback"),
            "style(s) without a centroid: feedback",
        ),
        ("ragged", lambda d: d["centroids"]["socratic"].pop(), "ragged"),
        ("non-numeric", setter(["centroids", "direct", 5], "x"), "non-numeric value 'x'"),
        ("null value", setter(["centroids", "direct", 5], None), "non-numeric value None"),
        ("boolean", setter(["centroids", "direct", 0], True), "non-numeric value True"),
        ("nan", setter(["centroids", "direct", 0], float("nan")), "NaN or infinity"),
        ("inf", setter(["centroids", "scaffolding", 9], float("inf")), "NaN or infinity"),
        (
            "zero vector",
            lambda d: d["centroids"].__setitem__("direct", [0.0] * 1024),
            "'direct' is a zero vector",
        ),
        (
            "bad fallback",
            setter(["fallback_style"], "lecture"),
            "fallback_style 'lecture' is not among the styles",
        ),
        (
            "bad threshold",
            setter(["threshold"], 3),
            "'threshold' must be a number between -1 and 1",
        ),
        (
            "text threshold",
            setter(["threshold"], "0.3"),
            "'threshold' must be a number between -1 and 1",
        ),
        (
            "bad min_margin",
            setter(["min_margin"], -0.1),
            "'min_margin' must be a number between 0 and 2",
        ),
        ("classifier type", setter(["classifier"], {"type": "svm"}), "type 'mlp2' or 'linear'"),
        (
            "linear keys",
            setter(["classifier"], {"type": "linear", "weight": [[0.0] * 1024] * 4}),
            "linear classifier must hold 'weight' and 'bias'",
        ),
        (
            "linear shape",
            setter(
                ["classifier"], {"type": "linear", "weight": [[0.0] * 1024] * 3, "bias": [0.0] * 3}
            ),
            "linear classifier weight has shape (3, 1024), expected (4, 1024)",
        ),
        (
            "linear bias",
            setter(
                ["classifier"], {"type": "linear", "weight": [[0.0] * 1024] * 4, "bias": [0.0] * 2}
            ),
            "linear classifier bias has shape (2,), expected (4,)",
        ),
        (
            "linear nan",
            setter(
                ["classifier"],
                {
                    "type": "linear",
                    "weight": [[0.0] * 1024] * 4,
                    "bias": [0.0, float("nan"), 0.0, 0.0],
                },
            ),
            "linear classifier bias contains NaN or infinity",
        ),
        (
            "classifier keys",
            setter(["classifier"], {"type": "mlp2", "state_dict": {"0.weight": [[1.0]]}}),
            "two weights and two biases",
        ),
        (
            "classifier shape",
            setter(
                ["classifier"],
                {
                    "type": "mlp2",
                    "state_dict": {
                        "0.weight": [[0.0] * 1024] * 3,
                        "0.bias": [0.0] * 3,
                        "2.weight": [[0.0] * 3] * 2,
                        "2.bias": [0.0] * 2,
                    },
                },
            ),
            "second weight has shape (2, 3), expected (4, 3)",
        ),
        ("styles not a list", setter(["styles"], "direct"), "'styles' must be a list"),
        (
            "duplicate styles",
            setter(["styles"], ["direct", "direct", "socratic", "feedback"]),
            "duplicates",
        ),
    ]


@pytest.mark.parametrize(
    ("name", "mutate", "message"), _mutations(), ids=[m[0] for m in _mutations()]
)
def test_invalid_router_files_are_refused_with_a_clear_message(
    raw: dict[str, Any], tmp_path: Path, name: str, mutate: Any, message: str
) -> None:
    data = copy.deepcopy(raw)
    mutate(data)
    path = write(tmp_path, data)
    with pytest.raises(RouterFileError) as info:
        CentroidRouter.from_file(path, HashingEmbedder(dim=1024))
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_dimension_mismatch_with_the_embedder_is_refused(router_file: Path) -> None:
    with pytest.raises(
        RouterFileError, match=r"centroid dimension 1024 does not match embedder .* dimension 512"
    ):
        CentroidRouter.from_file(router_file, HashingEmbedder(dim=512))


def test_an_embedder_of_another_space_is_refused_naming_both(router_file: Path) -> None:
    with pytest.raises(EmbedderMismatchError) as info:
        CentroidRouter.from_file(router_file, HashingEmbedder(dim=1024))
    message = str(info.value)
    assert str(router_file) in message and "allow_mismatch=True" in message
    assert (
        "made with embedder 'BAAI/bge-m3:cls', but the embedder given is 'hash-v1-d1024-n23-s0'"
        in message
    )
    with pytest.raises(EmbedderMismatchError, match="hash-v1-d1024-n23-s0"):
        CentroidRouter.from_spec(load_spec(router_file), HashingEmbedder(dim=1024))


def test_allow_mismatch_routes_anyway_and_logs_a_warning(
    router_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="neulora"):
        r = CentroidRouter.from_file(router_file, HashingEmbedder(dim=1024), allow_mismatch=True)
    assert r.route("로그의 정의").style in r.styles
    [record] = [rec for rec in caplog.records if rec.levelname == "WARNING"]
    assert (
        "'BAAI/bge-m3:cls'" in record.getMessage() and "allow_mismatch=True" in record.getMessage()
    )


class Named:
    """An embedder without ``spec()``: known by its name only."""

    def __init__(self, name: str, dim: int = 1024) -> None:
        self.name = name
        self.dim = dim

    def embed(self, texts: Any) -> Any:
        return HashingEmbedder(dim=self.dim).embed(texts)


@pytest.mark.parametrize(
    "embedder",
    [
        HFInferenceEmbedder("BAAI/bge-m3"),
        Named("bge-m3:cls"),
        Named("BAAI/bge-m3"),
        Named("/home/me/.cache/huggingface/hub/models--BAAI--bge-m3/snapshots/5617a9f"),
    ],
    ids=["inference api", "local folder", "custom name", "hub cache"],
)
def test_an_embedder_of_the_same_space_is_accepted(
    router_file: Path, embedder: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="neulora"):
        assert CentroidRouter.from_file(router_file, embedder).embedder is embedder
    assert not caplog.records


@pytest.mark.parametrize(
    "embedder",
    [
        Named("BAAI/bge-m3:mean"),
        Named("intfloat/multilingual-e5-large"),
        HFInferenceEmbedder("sentence-transformers/all-MiniLM-L6-v2"),
    ],
)
def test_another_model_or_pooling_of_the_same_width_is_refused(
    router_file: Path, embedder: Any
) -> None:
    with pytest.raises(EmbedderMismatchError, match="made with embedder 'BAAI/bge-m3:cls'"):
        CentroidRouter.from_file(router_file, embedder)


def test_hashing_routers_need_the_same_hashing_parameters(tmp_path: Path) -> None:
    path = tmp_path / "hash.json"
    CentroidRouter(["direct", "socratic"], np.eye(2, 64), HashingEmbedder(dim=64)).save(path)
    assert (
        CentroidRouter.from_file(path, HashingEmbedder(dim=64)).embedder.name
        == "hash-v1-d64-n23-s0"
    )
    seven = "'hash-v1-d64-n23-s0', but the embedder given is 'hash-v1-d64-n23-s7'"
    with pytest.raises(EmbedderMismatchError, match=seven):
        CentroidRouter.from_file(path, HashingEmbedder(dim=64, seed=7))
    custom = tmp_path / "custom.json"
    CentroidRouter(["direct", "socratic"], np.eye(2, 64), Named("my-model", 64)).save(custom)
    assert CentroidRouter.from_file(custom, Named("my-model", 64)).embedder.name == "my-model"
    with pytest.raises(
        EmbedderMismatchError, match="'my-model', but the embedder given is 'other'"
    ):
        CentroidRouter.from_file(custom, Named("other", 64))
    with pytest.raises(
        RouterFileError, match=f"router file {custom}: cannot build the embedder it names"
    ):
        CentroidRouter.from_file(custom)


def test_settings_naming_a_router_of_another_space_are_refused(
    router_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings.load(
        environ={"NEULORA_ROUTER": str(router_file), "NEULORA_EMBEDDER": "hash"}
    )
    with pytest.raises(EmbedderMismatchError, match="NEULORA_EMBEDDER"):
        build_router(settings, HashingEmbedder())
    assert main(["route", "x", "--router", str(router_file), "--embedder", "hash"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'BAAI/bge-m3:cls'" in err and "NEULORA_EMBED_MODEL" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "not found"), ("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object")],
)
def test_unreadable_files_are_refused(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(RouterFileError, match=message):
        CentroidRouter.from_file(path, HashingEmbedder(dim=1024))


def test_threshold_and_min_margin_fall_back_visibly(raw: dict[str, Any], tmp_path: Path) -> None:
    data = dict(raw, threshold=0.99, fallback_style="socratic")
    router = CentroidRouter.from_file(
        write(tmp_path, data), HashingEmbedder(dim=1024), allow_mismatch=True
    )
    d = router.route_vector(np.asarray(raw["centroids"]["feedback"]) + 0.01)
    assert d.style == "socratic" and d.fallback
    assert (
        "below" not in d.reason
        and "< threshold 0.990" in d.reason
        and "fallback to 'socratic'" in d.reason
    )
    assert max(d.scores, key=d.scores.get) == "feedback"  # type: ignore[arg-type]
    margin_router = router.with_options(threshold=None, min_margin=0.5)
    d2 = margin_router.route_vector(np.asarray(raw["centroids"]["feedback"]))
    assert d2.fallback and d2.style == "socratic" and "min_margin 0.500" in d2.reason
    plain = router.with_options(threshold=None, min_margin=None)
    confident = plain.route_vector(np.asarray(raw["centroids"]["feedback"]))
    assert confident.style == "feedback" and not confident.fallback


def test_mlp2_classifier_replaces_nearest_centroid(raw: dict[str, Any], tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    hidden = 8
    w1 = rng.normal(size=(hidden, 1024)) * 0.01
    b1 = np.ones(hidden)
    w2 = np.zeros((4, hidden))
    b2 = np.array([0.0, 0.0, 5.0, 0.0])  # always "scaffolding"
    data = dict(
        raw,
        classifier={
            "type": "mlp2",
            "state_dict": {
                "0.weight": w1.tolist(),
                "0.bias": b1.tolist(),
                "2.weight": w2.tolist(),
                "2.bias": b2.tolist(),
            },
        },
    )
    path = write(tmp_path, data)
    router = CentroidRouter.from_file(path, HashingEmbedder(dim=1024), allow_mismatch=True)
    d = router.route_vector(np.asarray(raw["centroids"]["direct"]))
    assert d.style == "scaffolding"
    assert d.reason.startswith("mlp2 classifier: ")
    assert sum(d.scores.values()) == pytest.approx(1.0)
    router.save(tmp_path / "again.json")
    assert json.loads((tmp_path / "again.json").read_text(encoding="utf-8")) == data


def test_history_builds_the_original_evaluation_format() -> None:
    history = [
        {"role": "user", "content": f"q{i}"}
        if i % 2 == 0
        else {"role": "assistant", "content": f"a{i}"}
        for i in range(8)
    ]
    text = format_router_input("지금 질문", history)
    assert text == (
        "History:\nUser: q2\nAssistant: a3\nUser: q4\nAssistant: a5\nUser: q6\nAssistant: a7"
        "\n\nCurrent user query:\n지금 질문"
    )
    assert format_router_input("q", None) == "q"
    assert format_router_input("q", [("student", "s"), ("teacher", "t")]) == (
        "History:\nUser: s\nAssistant: t\n\nCurrent user query:\nq"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   \n\t", "empty"),
        (None, "must be a str"),
        (42, "must be a str"),
        ("a\x00b", "NUL byte at position 1"),
        ("bad \udc80 surrogate", "lone surrogate at position 4"),
    ],
)
def test_bad_questions_raise_typed_errors(router: CentroidRouter, text: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        router.route(text)


def test_a_megabyte_question_is_truncated_to_max_chars(router: CentroidRouter) -> None:
    counting = CountingEmbedder(HashingEmbedder(dim=1024))
    r = CentroidRouter.from_spec(router.to_spec(), counting, max_chars=4000, allow_mismatch=True)
    decision = r.route("수열 " * 350_000)
    assert decision.style in r.styles
    assert len(counting.history[0][0]) == 4000


def test_route_vectors_rejects_wrong_shapes_and_nan(router: CentroidRouter) -> None:
    with pytest.raises(InvalidInputError, match=r"shape \(n, 1024\)"):
        router.route_vectors(np.ones((2, 10)))
    with pytest.raises(InvalidInputError, match="NaN"):
        router.route_vector(np.full(1024, np.nan))
    with pytest.raises(InvalidInputError, match="zero vector"):
        router.route_vector(np.zeros(1024))
    with pytest.raises(InvalidInputError, match="1-d"):
        router.route_vector(np.ones((1, 1024)))


def test_route_many_embeds_once_and_agrees_with_route(router_file: Path) -> None:
    counting = CountingEmbedder(HashingEmbedder(dim=1024))
    r = CentroidRouter.from_file(router_file, counting, allow_mismatch=True)
    texts = ["로그함수의 정의", "why is that?", "I think the answer is 4", "step by step please"]
    batch = r.route_many(texts)
    assert counting.calls == 1 and len(batch) == 4
    for text, decision in zip(texts, batch, strict=True):
        assert r.route(text).scores == pytest.approx(decision.scores, abs=1e-6)
    assert batch.style_names() == [d.style for d in batch]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"threshold": float("nan")}, "threshold must be a number between -1 and 1"),
        ({"threshold": "0.3"}, "threshold must be a number between -1 and 1"),
        ({"threshold": True}, "threshold must be a number between -1 and 1"),
        ({"threshold": 1.5}, "threshold must be a number between -1 and 1"),
        ({"threshold": float("-inf")}, "threshold must be a number between -1 and 1"),
        ({"min_margin": -0.01}, "min_margin must be a number between 0 and 2"),
        ({"min_margin": float("nan")}, "min_margin must be a number between 0 and 2"),
        ({"min_margin": False}, "min_margin must be a number between 0 and 2"),
        ({"fallback_style": ""}, "fallback_style must be a non-empty style name"),
        ({"fallback_style": 3}, "fallback_style must be a non-empty style name"),
    ],
)
def test_fallback_rule_refuses_values_that_cannot_compare_with_scores(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        FallbackRule(**options)


def test_fallback_rule_keeps_numbers_as_floats_and_cannot_be_changed() -> None:
    half: Any = np.float32(0.5)  # a numpy scalar, as a caller's array would give
    rule = FallbackRule(threshold=half, min_margin=0, fallback_style="socratic")
    assert (rule.threshold, rule.min_margin) == (0.5, 0.0)
    assert type(rule.threshold) is float and type(rule.min_margin) is float
    with pytest.raises(AttributeError):
        rule.threshold = 0.1  # type: ignore[misc]


def test_router_options_build_its_rule_and_refuse_bad_values(router: CentroidRouter) -> None:
    tuned = router.with_options(threshold=0.2, min_margin=0.01, fallback_style="socratic")
    assert tuned.rule == FallbackRule(threshold=0.2, min_margin=0.01, fallback_style="socratic")
    with pytest.raises(ConfigError, match="threshold must be a number"):
        router.with_options(threshold=float("nan"))
    with pytest.raises(ConfigError, match="fallback_style 'lecture' is not among"):
        router.with_options(fallback_style="lecture")


def test_every_routing_path_applies_the_same_fallback_rule(router_file: Path) -> None:
    base = CentroidRouter.from_file(router_file, HashingEmbedder(dim=1024), allow_mismatch=True)
    texts = [
        f"{w} {i}"
        for i, w in enumerate(
            [
                "로그함수의 정의",
                "why is that?",
                "I think it is 4",
                "step by step",
                "수열의 합",
                "is this right",
                "what is a limit",
                "help",
            ]
            * 6
        )
    ]
    scores = base.route_many(texts).scores
    top = scores.max(axis=1)
    margins = top - np.sort(scores, axis=1)[:, -2]
    t = float(np.quantile(top, 0.3))
    m = float(np.quantile(margins, 0.3))
    router = base.with_options(threshold=t, min_margin=m, fallback_style="feedback")
    # The rule as written before the refactor: top score below threshold, or margin below
    # min_margin.
    expected_fallback = (top < t) | (margins < m)
    expected = [
        "feedback" if f else router.styles[int(np.argmax(row))]
        for f, row in zip(expected_fallback, scores, strict=True)
    ]
    assert 0 < expected_fallback.sum() < len(texts)
    batch = router.route_many(texts)
    assert batch.style_names() == expected and list(batch.fallback) == list(expected_fallback)
    assert [d.style for d in batch] == expected and [d.fallback for d in batch] == list(
        expected_fallback
    )
    assert [router.route(text).style for text in texts] == expected
    vectors = HashingEmbedder(dim=1024).embed(texts)
    assert [router.route_vector(v).style for v in vectors] == expected
    assert router.route_vectors(vectors).style_names() == expected
    for d, f in zip(batch, expected_fallback, strict=True):
        assert ("not confident" in d.reason) == bool(f)
    # labels the plain router gets all right
    labels = [router.styles[int(np.argmax(row))] for row in scores]
    report = evaluate(router, texts, labels)
    assert report.fallback_share == pytest.approx(expected_fallback.mean())
    assert report.accuracy == pytest.approx(
        np.mean([e == lab for e, lab in zip(expected, labels, strict=True)])
    )
    assert fit_threshold(router, texts, labels).rule == FallbackRule(fallback_style="feedback")
