"""Import paths of the flat layout, kept for one release: they still work, and warn.

``import neulora.embeddings`` finds :class:`_Finder` (it is asked only after the real modules were
looked for), which makes a module whose attributes come, lazily, from the new places; a moved name
asked of a package that kept its name (``neulora.hf.classify``) is looked up the same way. Both warn
with :class:`DeprecationWarning`.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from types import ModuleType
from typing import Any, cast

# old module -> the modules its names live in now (the first is where users should import from)
MOVED: dict[str, tuple[str, ...]] = {
    "aio": ("neulora._streams", "neulora._pump"),
    "chroma": ("neulora.store._chroma",),
    "chunking": ("neulora.store", "neulora.store._chunking"),
    "cli_chat": ("neulora.cli._chat",),
    "cli_eval": ("neulora.cli._eval",),
    "collection": ("neulora.store", "neulora.store._collection"),
    "completion": ("neulora.hf._completion",),
    "config": ("neulora._assemble",),
    "deadline": ("neulora._deadline",),
    "demo": ("neulora.cli._demo",),
    "embedding_base": ("neulora.embedders", "neulora.embedders._base", "neulora.embedders._spec"),
    "embeddings": (
        "neulora.embedders",
        "neulora.embedders._transformers",
        "neulora.embedders._hashing",
        "neulora.embedders._build",
        "neulora.embedders._spec",
        "neulora.embedders._base",
    ),
    "embeddings_api": ("neulora.embedders", "neulora.embedders._api"),
    "embeddings_use": ("neulora.embedders", "neulora.embedders._use"),
    "exact": ("neulora.store._exact",),
    "filters": ("neulora.store", "neulora.store._filters"),
    "followup": ("neulora.turn", "neulora.turn._follow_up"),
    "hf_async": ("neulora.hf._async_clients", "neulora.hf._retry"),
    "ingest": ("neulora.store", "neulora.store._ingest"),
    "languages": ("neulora._languages",),
    "loaders": ("neulora.store", "neulora.store._loaders"),
    "local_llm": ("neulora.generation", "neulora.generation._transformers"),
    "memory_redis": ("neulora.memory", "neulora.memory._redis"),
    "metrics": ("neulora.train", "neulora.train._metrics"),
    "paging": ("neulora.store._paging",),
    "pdf": ("neulora.store._pdf",),
    "prompts": ("neulora.turn", "neulora.turn._prompts"),
    "relevance": ("neulora.turn", "neulora.turn._relevance"),
    "retry": ("neulora.hf", "neulora.hf._policy"),
    "routerfile": ("neulora.routing", "neulora.routing._file"),
    "samples": ("neulora.train", "neulora.train._samples"),
    "serve": ("neulora.server", "neulora.server._app", "neulora.server._middleware"),
    "serve_api": ("neulora.server._wire",),
    "stamps": ("neulora.store._stamps",),
    "styles": ("neulora._styles",),
    "text": ("neulora._checks", "neulora._redact"),
    "validate": ("neulora.routing._checks",),
}

# packages and faces that kept their name: where the names they no longer hold went
KEPT: dict[str, tuple[str, ...]] = {
    "neulora.cli": ("neulora.cli._main", "neulora.cli._chat"),
    "neulora.generation": (
        "neulora.generation._result",
        "neulora.generation._cleaning",
        "neulora._streams",
    ),
    "neulora.hf": (
        "neulora.hf._auth",
        "neulora.hf._clients",
        "neulora.hf._errors",
        "neulora.hf._retry",
        "neulora.hf._download",
        "neulora._redact",
    ),
    "neulora.memory": ("neulora.memory._base", "neulora.memory._file"),
    "neulora.pipeline": ("neulora.turn", "neulora.turn._answer"),
    "neulora.router": ("neulora.routing", "neulora.routing._centroid", "neulora._styles"),
    "neulora.testing": ("neulora.testing._fakes", "neulora.testing._stub_server"),
    "neulora.train": ("neulora.train._fit", "neulora.train._metrics"),
    "neulora.turn": ("neulora.turn._answer", "neulora.turn._state", "neulora._checks"),
}


def moved(package: str, name: str) -> Any:
    """``name`` of a kept package, from where it went (with a warning).

    AttributeError if it never was there.
    """
    for place in KEPT.get(package, ()):
        module = importlib.import_module(place)
        if name in vars(module) and not name.startswith("__"):
            value = vars(module)[name]
            # where it is defined, not where it is re-exported
            home = getattr(value, "__module__", None) or place
            _warn(f"{package}.{name}", _where(home, name), stacklevel=4)  # past __getattr__
            # warned once: ``from x import y`` asks twice
            setattr(sys.modules[package], name, value)
            return value
    raise AttributeError(f"module {package!r} has no attribute {name!r}")


def install() -> None:
    """Let the old paths import (once per process: the finder goes last on ``sys.meta_path``)."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.append(_Finder())


class _Finder:
    """Finds ``neulora.<old>`` for the names in :data:`MOVED` (asked after the real modules)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        package, _, old = fullname.rpartition(".")
        if package != "neulora" or old not in MOVED:
            return None
        from importlib.util import spec_from_loader

        return spec_from_loader(fullname, cast(Any, _Loader()))


class _Loader:
    """Makes an alias module whose attributes are looked up in the new places when asked for."""

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        places = MOVED[module.__name__.rpartition(".")[2]]
        _warn(module.__name__, _where(places[0], None))

        def __getattr__(name: str) -> Any:
            for place in places:
                found = importlib.import_module(place)
                if name in vars(found) and not name.startswith("__"):
                    return vars(found)[name]
            raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        module.__doc__ = f"Deprecated alias of {places[0]}."


def _where(place: str, name: str | None) -> str:
    """Where to import from now: the public module that exports it, or that it is internal."""
    parts = place.split(".")
    while parts and parts[-1].startswith("_"):
        parts.pop()
    public = ".".join(parts)
    if name is None and public == place:
        return f"import from {place}"
    if name is not None and public != "neulora":
        exported = getattr(importlib.import_module(public), "__all__", ())
        if name in exported:
            return f"import it from {public}"
    shown = place if name is None else f"{place}.{name}"
    return f"it is internal now ({shown}), with no promise to stay"


def _warn(old: str, where: str, *, stacklevel: int = 3) -> None:
    warnings.warn(
        f"{old} is deprecated and goes in the next release: {where}",
        DeprecationWarning,
        stacklevel=stacklevel,  # the importing line (the import system's own frames are skipped)
    )
