from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from neulora import ConfigError, EmbeddingError
from neulora.embeddings import Embedder, HashingEmbedder, HFInferenceEmbedder, l2_normalize


def test_hashing_embedder_is_deterministic_across_processes() -> None:
    texts = ["로그함수의 밑변환 공식", "The sum of an arithmetic sequence"]
    here = HashingEmbedder().embed(texts)
    code = ("import sys, json; from neulora.embeddings import HashingEmbedder; "
            "print(json.dumps(HashingEmbedder().embed(json.loads(sys.argv[1])).tolist()))")
    for seed in ("1", "12345"):
        out = subprocess.run([sys.executable, "-c", code, json.dumps(texts)], capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONHASHSEED": seed})
        assert np.array_equal(np.asarray(json.loads(out.stdout), dtype=np.float32), here)


def test_hashing_embedder_golden_vector() -> None:
    # Pinned so that a change of the hashing scheme (which would orphan every stored vector) cannot go unnoticed.
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
    assert HashingEmbedder(dim=512).embed(["ABC  def"])[0] @ e.embed(["abc def"])[0] == pytest.approx(1.0)


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
                server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
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
