"""Parts built from the command line's flags, the environment and ``--config``."""

from __future__ import annotations

import argparse
from typing import Any


def settings_from(args: argparse.Namespace) -> Any:
    """Settings from the flags, the environment and ``--config``, in that order of precedence."""
    from ..settings import Settings

    flags = {
        "collection": "collection",
        "chroma_path": "path",
        "chroma_host": "host",
        "chroma_port": "port",
        "embedder": "embedder",
        "router": "router",
        "checks": "checks",
    }
    overrides = {key: getattr(args, attr, None) for key, attr in flags.items()}
    return Settings.load(overrides=overrides, file=getattr(args, "config", None))


def retriever_from(args: argparse.Namespace, *, create: bool = True) -> Any:
    """The retriever the flags and settings name.

    ``create=False`` (read-only commands) creates nothing.
    """
    from .._assemble import build_embedder, build_retriever

    settings = settings_from(args)
    return build_retriever(settings, build_embedder(settings), create=create)


def router_from(args: argparse.Namespace) -> Any:
    from .._assemble import build_embedder, build_router
    from ..errors import EmbedderMismatchError

    settings = settings_from(args)
    try:
        return build_router(
            settings,
            build_embedder(settings),
            allow_mismatch=getattr(args, "allow_mismatch", False),
        )
    except EmbedderMismatchError as exc:
        # a command-line user's remedies are flags, not Python keywords
        raise EmbedderMismatchError(
            f"{exc.problem}: its routes would be meaningless. Pass --embedder (or set "
            "NEULORA_EMBEDDER and NEULORA_EMBED_MODEL) for the file's space, --router for a "
            "router made with this embedder, or --allow-mismatch to route anyway",
            problem=exc.problem,
        ) from exc
