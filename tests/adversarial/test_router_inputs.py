"""Hostile router files, constructor options and inputs.

Every refusal is a typed neulora error that says what is wrong (and, for files, names the file),
never a RecursionError, OverflowError or a raw numpy error.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from neulora import CentroidRouter, ConfigError, InvalidInputError
from neulora.embedders import HashingEmbedder
from neulora.errors import RouterFileError

HASH = HashingEmbedder(dim=1024)


@pytest.fixture(scope="module")
def raw(router_file: Path) -> dict[str, Any]:
    """The shipped router file, relabelled as made with the hashing embedder the tests use."""
    data: dict[str, Any] = json.loads(router_file.read_text(encoding="utf-8"))
    return dict(data, embedder=HASH.spec().to_json())


@pytest.fixture(scope="module")
def router(raw: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> CentroidRouter:
    return CentroidRouter.from_file(write(tmp_path_factory.mktemp("r"), raw), HASH)


def write(tmp_path: Path, data: Any, name: str = "router.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def refused(path: Path, embedder: Any = HASH) -> str:
    with pytest.raises(RouterFileError) as info:
        CentroidRouter.from_file(path, embedder)
    assert str(path) in str(info.value)
    return str(info.value)


# -- router files
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"styles": ["direct", "socratic"], "centroids": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"styles": ["a", "b"], "extra": {"k": ' + '{"k": ' * 50_000 + "1" + "}" * 50_000 + "}}",
    ],
    ids=["top-level list", "inside a key", "nested objects"],
)
def test_deeply_nested_json_is_a_router_file_error_naming_the_file(
    tmp_path: Path, text: str
) -> None:
    assert "nested too deeply" in refused(write(tmp_path, text))


def test_an_integer_too_long_to_parse_is_a_router_file_error(tmp_path: Path) -> None:
    message = refused(
        write(tmp_path, '{"styles": ["a", "b"], "centroids": {"a": [' + "9" * 5000 + "]}}")
    )
    assert "cannot be parsed" in message and "5000 digits" in message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dim": "abc"}, "embedder 'dim' must be an int >= 2, got 'abc'"),
        ({"dim": True}, "embedder 'dim' must be an int >= 2, got True"),
        ({"dim": 256}, "embedder 'dim' 256 does not match the centroids' dimension 1024"),
        ({"backend": "word2vec"}, "unknown embedder backend 'word2vec'"),
        ({"backend": 3}, "str 'backend'"),
        ({"pooling": "max"}, "embedder 'pooling' must be 'cls' or 'mean'"),
        ({"model_name": 5}, "embedder 'model_name' must be a non-empty str"),
        ({"seed": "abc"}, "embedder 'seed' must be an int"),
        ({"seed": 1.5}, "embedder 'seed' must be an int"),
        ({"ngrams": "abc"}, "embedder 'ngrams' must be a list of positive ints"),
        ({"ngrams": [0]}, "embedder 'ngrams' must be a list of positive ints"),
    ],
)
def test_the_embedder_spec_is_validated_when_the_file_is_loaded(
    raw: dict[str, Any], tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = write(tmp_path, dict(raw, embedder={**raw["embedder"], **change}))
    assert message in refused(path)  # refused even though a working embedder is given
    assert message in refused(path, None)  # and when the file's embedder would be built


@pytest.mark.parametrize("value", [10**400, -(10**400)], ids=["1e400", "-1e400"])
def test_an_integer_beyond_float64_is_refused_naming_the_centroid(
    raw: dict[str, Any], tmp_path: Path, value: int
) -> None:
    data = copy.deepcopy(raw)
    data["centroids"]["socratic"][7] = value
    message = refused(write(tmp_path, data))
    assert "centroid 'socratic'" in message and "index 7" in message and "float64" in message


def test_a_subnormal_centroid_is_refused_naming_the_file_and_the_centroid(
    raw: dict[str, Any], tmp_path: Path
) -> None:
    data = copy.deepcopy(raw)
    data["centroids"]["feedback"] = [5e-324] * 1024
    message = refused(write(tmp_path, data))
    assert "centroid 'feedback' is too small" in message


@pytest.mark.parametrize("scale", [1e200, 1e300, 1e-300])
def test_huge_or_tiny_but_normal_centroids_keep_their_direction(
    raw: dict[str, Any], tmp_path: Path, router: CentroidRouter, scale: float
) -> None:
    data = copy.deepcopy(raw)
    data["centroids"]["direct"] = (np.asarray(raw["centroids"]["direct"]) * scale).tolist()
    scaled = CentroidRouter.from_file(write(tmp_path, data), HASH)
    query = np.asarray(raw["centroids"]["direct"])
    decision = scaled.route_vector(query)
    assert decision.style == "direct" and decision.scores["direct"] == pytest.approx(1.0)
    assert decision.scores == pytest.approx(router.route_vector(query).scores, abs=1e-12)
    scaled.save(tmp_path / "again.json")  # the stored values are kept as they were
    assert (
        json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))["centroids"]
        == data["centroids"]
    )


def test_the_constructor_normalises_as_safely_and_names_a_bad_centroid(
    router: CentroidRouter,
) -> None:
    c = router.to_spec().centroids
    big = CentroidRouter(router.styles, c * 1e300, HASH)
    assert np.allclose(big.route_vectors(c).scores, router.route_vectors(c).scores, atol=1e-12)
    tiny = c.copy()
    tiny[2] = 1e-320
    with pytest.raises(ConfigError, match="centroid 'scaffolding' is too small"):
        CentroidRouter(router.styles, tiny, HASH)
    with pytest.raises(ConfigError, match="centroid 'direct' is a zero vector"):
        CentroidRouter(router.styles, np.vstack([np.zeros(1024), c[1:]]), HASH)


# -- constructor options
# --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"threshold": "0.3"}, "threshold must be a number between -1 and 1"),
        ({"min_margin": "x"}, "min_margin must be a number between 0 and 2"),
        ({"threshold": float("nan")}, "threshold must be a number between -1 and 1"),
        ({"threshold": 5}, "threshold must be a number between -1 and 1"),
        ({"fallback_style": ""}, "fallback_style must be a non-empty style name"),
        ({"history_turns": "6"}, "history_turns must be a positive int"),
        ({"history_turns": 0}, "history_turns must be a positive int"),
        ({"max_chars": "x"}, "max_chars must be a positive int"),
        ({"max_chars": 0}, "max_chars must be a positive int"),
        ({"max_chars": 8192.0}, "max_chars must be a positive int"),
    ],
)
def test_bad_constructor_options_are_refused_at_once(
    router: CentroidRouter, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        CentroidRouter(router.styles, router.to_spec().centroids, HASH, **options)
    with pytest.raises(ConfigError, match=message):
        router.with_options(**options)


@pytest.mark.parametrize(
    ("styles", "message"),
    [
        ("ab", "'styles' must be a list of at least two style names"),
        (["direct", "direct", "socratic", "feedback"], "'styles' has duplicates"),
        (["direct", "", "socratic", "feedback"], "'styles' must contain non-empty strings only"),
    ],
)
def test_bad_styles_are_refused_like_in_a_file(
    router: CentroidRouter, styles: Any, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        CentroidRouter(styles, np.eye(len(styles), 1024), HASH)


def test_a_non_embedder_is_refused_by_the_constructor(router: CentroidRouter) -> None:
    with pytest.raises(ConfigError, match="embedder must have an embed"):
        CentroidRouter(router.styles, router.to_spec().centroids, None)  # type: ignore[arg-type]


# -- inputs
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ("abc", "route_many takes a list or tuple of str, got a str"),
        (b"abc", "route_many takes a list or tuple of str, got bytes"),
        ({"a": 1}, "route_many takes a list or tuple of str, got dict"),
        (7, "route_many takes a list or tuple of str, got int"),
        (["fine", 3], "text 1 must be a str, got int"),
        (["fine", None], "text 1 must be a str, got NoneType"),
        (["fine", "  "], "text 1 is empty"),
    ],
)
def test_route_many_refuses_anything_but_a_sequence_of_str(
    router: CentroidRouter, texts: Any, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        router.route_many(texts)


def test_route_many_takes_any_iterable_of_str_once(router: CentroidRouter) -> None:
    texts = ["what is a log", "why?"]
    assert (
        router.route_many(t for t in texts).style_names() == router.route_many(texts).style_names()
    )
    assert len(router.route_many([])) == 0


@pytest.mark.parametrize(
    ("vector", "message"),
    [
        (np.ones(10), r"route_vector takes a 1-d vector of 1024 values, got shape \(10,\)"),
        ([], r"route_vector takes a 1-d vector of 1024 values, got shape \(0,\)"),
        (["a"] * 1024, "vectors must be real numbers, got dtype <U1"),
        ([None] * 1024, "vectors must be real numbers, got dtype object"),
        ([10**400] * 1024, "vectors must be real numbers, got dtype object"),
        (np.ones(1024, dtype=complex), "vectors must be real numbers, got dtype complex128"),
        ([[1.0], [1.0, 2.0]], "vectors must be a rectangular array of numbers"),
        ([float("nan")] * 1024, "NaN or infinity"),
        ([float("inf")] + [0.0] * 1023, "NaN or infinity"),
        (np.zeros(1024), "zero vector"),
        (np.ones((1, 1024)), r"1-d vector of 1024 values, got shape \(1, 1024\)"),
    ],
)
def test_route_vector_refuses_bad_vectors_with_invalid_input(
    router: CentroidRouter, vector: Any, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        router.route_vector(vector)


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (np.ones((2, 10)), r"expected vectors of shape \(n, 1024\), got \(2, 10\)"),
        ([], r"expected vectors of shape \(n, 1024\), got \(0,\)"),
        ([["a"] * 1024], "vectors must be real numbers, got dtype <U1"),
        (np.ones((1, 1024), dtype=complex), "vectors must be real numbers, got dtype complex128"),
        ([[1.0] * 1024, [1.0]], "vectors must be a rectangular array of numbers"),
        (np.full((2, 1024), np.nan), "NaN or infinity"),
        (np.zeros((1, 1024)), "zero vector"),
    ],
)
def test_route_vectors_refuses_bad_matrices_with_invalid_input(
    router: CentroidRouter, matrix: Any, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        router.route_vectors(matrix)


@pytest.mark.parametrize(
    ("dtype", "scale"),
    [
        (np.float64, 1e200),
        (np.float64, 1e-200),
        (np.float64, 1e-300),
        (np.float32, 1e30),
        (np.float32, 1e-30),
    ],
)
def test_huge_or_tiny_query_vectors_route_like_their_direction(
    router: CentroidRouter, raw: dict[str, Any], dtype: Any, scale: float
) -> None:
    query = np.asarray(raw["centroids"]["feedback"]) + 0.001
    expected = router.route_vector(query).scores
    scaled = (query * scale).astype(dtype)  # its squares overflow or underflow
    with np.errstate(all="raise"):  # and numpy warns of nothing
        single = router.route_vector(scaled)
        batch = router.route_vectors(np.vstack([scaled, query.astype(dtype)]))
    tol = 1e-12 if dtype is np.float64 else 1e-4
    assert single.scores == pytest.approx(expected, abs=tol) and single.style == "feedback"
    assert batch[0].scores == pytest.approx(expected, abs=tol) and batch[1].scores == pytest.approx(
        expected, abs=tol
    )


def test_an_empty_batch_routes_to_an_empty_result(router: CentroidRouter) -> None:
    batch = router.route_vectors(np.zeros((0, 1024)))
    assert len(batch) == 0 and batch.style_names() == []


@pytest.mark.parametrize(
    "history",
    [
        "abc",
        [1, 2],
        [{"role": "user"}],
        {"role": "user", "content": "x"},
        [("user", "a", "b")],
        [{"role": "user", "content": 5}],
        42,
    ],
)
def test_a_malformed_history_is_invalid_input_naming_the_turn(history: object) -> None:
    from neulora.embedders import HashingEmbedder
    from neulora.train import exemplar_router

    router = exemplar_router(HashingEmbedder(dim=64))
    with pytest.raises(InvalidInputError, match="history"):
        router.route("how do I start?", history=history)  # type: ignore[arg-type]
    assert router.route(
        "how do I start?", history=[("user", "hi"), {"role": "assistant", "content": "hello"}]
    )


def test_a_fifo_given_as_a_router_file_is_refused_at_once(tmp_path: Path) -> None:
    import os
    import threading

    from neulora import CentroidRouter
    from neulora.embedders import HashingEmbedder
    from neulora.errors import RouterFileError

    fifo = tmp_path / "router.json"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    worker = threading.Thread(
        target=lambda: _capture(
            outcome, lambda: CentroidRouter.from_file(fifo, HashingEmbedder(dim=8))
        ),
        daemon=True,
    )
    worker.start()
    worker.join(5)
    if worker.is_alive():  # unblock the reader so the test process can end, then fail
        with open(fifo, "w") as writer:
            writer.write("{}")
        pytest.fail("from_file waited for a writer on a FIFO")
    assert isinstance(outcome[0], RouterFileError) and "not a regular file" in str(outcome[0])


def _capture(box: list[BaseException], call: Any) -> None:
    try:
        call()
    except BaseException as exc:  # handed to the test thread
        box.append(exc)


def test_a_key_given_twice_in_a_router_file_is_refused(tmp_path: Path) -> None:
    from neulora import CentroidRouter
    from neulora.embedders import HashingEmbedder
    from neulora.errors import RouterFileError

    text = (
        '{"styles": ["direct", "socratic"], "centroids": {"direct": [1, 0], "direct": [0, 1]}, '
        '"embedder": {"backend": "hash", "model_name": "hash", "dim": 2}}'
    )
    path = tmp_path / "router.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RouterFileError, match="the key 'direct' appears twice in one object"):
        CentroidRouter.from_file(path, HashingEmbedder(dim=2))
