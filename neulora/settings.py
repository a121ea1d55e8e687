"""Typed, frozen settings with one precedence.

Explicit argument or CLI flag > environment > file > default.

Each setting, its environment variable, and what it means (its default):

``backend`` (``NEULORA_BACKEND``)
    ``hf`` (Inference API) or ``local`` (transformers); default ``hf`` when a Hugging Face token
    is found, else ``local``
``local_model`` (``NEULORA_LOCAL_MODEL``)
    local backend: a model directory or Hub id for every style
``embedder`` (``NEULORA_EMBEDDER``)
    ``hash`` | ``local`` | ``api`` | ``use`` (offline USE, ``neulora[use]``); default ``api``
    with hf, else ``hash``
``embed_model`` (``NEULORA_EMBED_MODEL``)
    embedding model (``BAAI/bge-m3``)
``router`` (``NEULORA_ROUTER``)
    router file path (default: the Hub file, or the exemplar router with ``hash``)
``router_repo`` (``NEULORA_ROUTER_REPO``)
    Hub repo of the router file (``marimmo/multi-lora``)
``router_file`` (``NEULORA_ROUTER_FILE``)
    its path in the repo (``router/router_model.json``)
``chroma_path`` (``NEULORA_CHROMA_PATH``)
    embedded Chroma directory (``./chroma_db``)
``chroma_host`` (``NEULORA_CHROMA_HOST``)
    a ``chroma run`` server instead
``chroma_port`` (``NEULORA_CHROMA_PORT``)
    its port (8000)
``chroma_freshness`` (``NEULORA_CHROMA_FRESHNESS``)
    seconds a read trusts its last look at the collection's stamp: writes through neulora in
    this process are seen at once, others (another process, a raw client) within it (1.0; 0:
    every read)
``collection`` (``NEULORA_COLLECTION``)
    collection name (``neulora``)
``base_url`` (``NEULORA_BASE_URL``)
    one multi-LoRA server for every style (adapter names in models)
``models`` (``NEULORA_MODEL_<STYLE>``)
    per-style target: repo id, endpoint URL or adapter name
``provider`` (``NEULORA_PROVIDER``)
    Inference Provider for repo-id targets
``k`` (``NEULORA_K``)
    passages per turn (4)
``min_score`` (``NEULORA_MIN_SCORE``)
    lowest cosine similarity a passage needs (``off``: keep all; unset: the embedder's
    calibrated rule, see :mod:`neulora.turn`)
``sessions_dir`` (``NEULORA_SESSIONS_DIR``)
    where ``neulora ask/chat --session`` keep sessions
``token`` ((see :mod:`neulora.hf`))
    a Hugging Face token given explicitly (file or argument only)
``judge_token`` (``NEULORA_JUDGE_TOKEN``)
    the token for an LLM judge's endpoint (``neulora eval``); a replay never sends ``token`` there
``api_key`` (``NEULORA_API_KEY``)
    ``neulora serve``: every ``/v1`` call needs ``Bearer <key>``
``redis_url`` (``NEULORA_REDIS_URL``)
    ``neulora serve``: sessions in Redis, shared by replicas
``max_body`` (``NEULORA_MAX_BODY``)
    ``neulora serve``: largest JSON body in bytes (1 MiB)
``max_upload`` (``NEULORA_MAX_UPLOAD``)
    ``neulora serve``: largest uploaded document in bytes (20 MiB)
``uploads_dir`` (``NEULORA_UPLOADS_DIR``)
    ``neulora serve``: where uploaded documents are kept
``checks`` (``NEULORA_CHECKS``)
    answer checks: ``off``, ``on`` or ``flag`` (report a broken style contract), ``regenerate``
    (answer once more, stricter), ``fallback:<style>`` (default: ``flag`` when the shipped scorer
    can run, i.e. ``neulora[use]`` is installed, else off)

Where Chroma lives is decided as a whole by the highest level that names a place: ``--path`` beats
``NEULORA_CHROMA_HOST`` (and the reverse), a port alone means a local server on 127.0.0.1, and
``NEULORA_CHROMA_PORT`` applies to a ``--host`` given on the command line.

Why a dataclass and not pydantic-settings: the per-style ``NEULORA_MODEL_<STYLE>`` variables, error
messages that name the variable or file key, an injectable environment for tests, and the
chroma-location rule above each need custom code around pydantic-settings; the table below is the
whole mechanism instead.

>>> Settings.load(environ={"NEULORA_K": "3"}, overrides={"collection": "notes"}).k
3
>>> Settings.load(environ={"NEULORA_K": "abc"})
Traceback (most recent call last):
neulora.errors.ConfigError: NEULORA_K: expected a positive int, got 'abc'
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ._checks import check_answer_checks, is_int, is_number, is_real
from ._styles import STYLES
from .errors import ConfigError
from .hf._auth import check_url


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value.strip()


def _choice(*options: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _text(value).lower()
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {value!r}")
        return text

    return parse


def _int(low: int, high: int, what: str) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        try:
            number = int(value.strip()) if isinstance(value, str) else value
        except ValueError:
            number = None
        if not is_int(number) or not low <= number <= high:
            raise ValueError(f"expected {what}, got {value!r}")
        return number

    return parse


def _score(value: Any) -> float | None:
    if isinstance(value, str) and value.strip().lower() in ("none", "off"):
        return -1.0  # a floor no cosine similarity is below: every passage is kept
    try:
        number = float(value.strip()) if isinstance(value, str) else value
    except ValueError:
        number = None
    if not is_number(number) or not -1.0 <= number <= 1.0:
        raise ValueError(f"expected a cosine similarity between -1 and 1 (or 'off'), got {value!r}")
    return float(number)


def _seconds(value: Any) -> float:
    try:
        number = float(value.strip()) if isinstance(value, str) else value
    except ValueError:
        number = None
    if not is_real(number) or not 0.0 <= number < math.inf:
        raise ValueError(f"expected a number of seconds >= 0, got {value!r}")
    return float(number)


def _url(value: Any) -> str:
    try:
        return check_url(_text(value), "the URL")
    except ConfigError as exc:  # the layer adds the variable's or key's name
        raise ValueError(str(exc)) from None


def _models(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object mapping style -> target, got {type(value).__name__}")
    unknown = sorted(set(value) - set(STYLES))
    if unknown:
        raise ValueError(f"unknown style(s) {unknown}: expected {list(STYLES)}")
    return {str(k): _text(v) for k, v in value.items()}


def _checks_mode(value: Any) -> str | None:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return None  # the default (the pipeline checks a fallback's style against its router's)
    try:
        return check_answer_checks(value, what="the mode")
    except ConfigError as exc:  # the layer adds the variable's or key's name
        raise ValueError(str(exc)) from None


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "backend": _choice("hf", "local"),
    "local_model": _text,
    "embedder": _choice("hash", "local", "api", "use"),
    "embed_model": _text,
    "router": _text,
    "router_repo": _text,
    "router_file": _text,
    "chroma_path": _text,
    "chroma_host": _text,
    "chroma_port": _int(1, 65535, "a port number between 1 and 65535"),
    "collection": _text,
    "chroma_freshness": _seconds,
    "base_url": _url,
    "models": _models,
    "provider": _text,
    "k": _int(1, 1000, "a positive int"),
    "min_score": _score,
    "sessions_dir": _text,
    "token": _text,
    "judge_token": _text,
    "api_key": _text,
    "redis_url": _text,
    "max_body": _int(1024, 2**30, "a size in bytes from 1024"),
    "max_upload": _int(1024, 2**32, "a size in bytes"),
    "uploads_dir": _text,
    "checks": _checks_mode,
}


__all__ = ["Settings"]

_NOT_FROM_ENV = {"models", "token"}


@dataclass(frozen=True)
class Settings:
    """Everything that configures a pipeline.

    Build it with :meth:`load`, read it, pass it to the builders.
    """

    backend: str | None = None
    local_model: str | None = None
    embedder: str | None = None
    embed_model: str = "BAAI/bge-m3"
    router: str | None = None
    router_repo: str = "marimmo/multi-lora"
    router_file: str = "router/router_model.json"
    chroma_path: str | None = None
    chroma_host: str | None = None
    chroma_port: int = 8000
    chroma_freshness: float = 1.0
    collection: str = "neulora"
    base_url: str | None = None
    models: dict[str, str] = field(default_factory=dict)
    provider: str | None = None
    k: int = 4
    min_score: float | None = None  # None: the embedder's calibrated relevance rule
    sessions_dir: str = ".neulora/sessions"
    token: str | None = field(default=None, repr=False)
    judge_token: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    max_body: int = 1 << 20
    max_upload: int = 20 << 20
    uploads_dir: str = ".neulora/uploads"
    checks: str | None = None  # None: on when the shipped scorer can run

    @classmethod
    def load(
        cls,
        *,
        overrides: Mapping[str, Any] | None = None,
        file: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Settings from ``overrides`` (arguments, flags), the environment, a file, the defaults."""
        env = os.environ if environ is None else environ
        layers = [
            _from_file(file) if file is not None else {},
            _from_env(env),
            _layer({k: v for k, v in (overrides or {}).items() if v is not None}, "argument {}"),
        ]
        merged: dict[str, Any] = {}
        for layer in layers:
            merged.update(layer)
        named = [layer for layer in layers if "chroma_path" in layer or "chroma_host" in layer]
        place: dict[str, Any] = named[-1] if named else {}
        merged.pop("chroma_path", None)
        merged.pop("chroma_host", None)
        merged.update({k: place[k] for k in ("chroma_path", "chroma_host") if k in place})
        if "chroma_port" in layers[-1] and not ({"chroma_path", "chroma_host"} & set(layers[-1])):
            merged.pop("chroma_path", None)  # a port given alone means a server
            merged.setdefault("chroma_host", "127.0.0.1")
        return cls(**merged)

    def chroma_location(self) -> dict[str, Any]:
        """``{"host": ..., "port": ...}`` for a server, else ``{"path": ...}``."""
        if self.chroma_host:
            return {"host": self.chroma_host, "port": self.chroma_port}
        return {"path": self.chroma_path or "./chroma_db"}


def _layer(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) {unknown}; known: {sorted(known)}")
    out = {}
    for key, value in raw.items():
        try:
            out[key] = _PARSERS[key](value)
        except ValueError as exc:
            raise ConfigError(f"{where.format(key)}: {exc}") from None
    return out


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, parse in _PARSERS.items():
        var = f"NEULORA_{key.upper()}"
        if key not in _NOT_FROM_ENV and env.get(var, "").strip():
            try:
                out[key] = parse(env[var])
            except ValueError as exc:
                raise ConfigError(f"{var}: {exc}") from None
    models = {
        var[len("NEULORA_MODEL_") :].lower(): value
        for var, value in env.items()
        if var.startswith("NEULORA_MODEL_") and value.strip()
    }
    if models:
        try:
            out["models"] = _models(models)
        except ValueError as exc:
            raise ConfigError(f"NEULORA_MODEL_<STYLE>: {exc}") from None
    return out


def _from_file(file: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(file, Mapping):
        return _layer(file, "config key {!r}")
    try:
        data = json.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"config file {file}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {file}: must hold a JSON object")
    return _layer(data, f"config file {file}: key {{!r}}")
