"""Checks and safe arithmetic for the router.

Its options, its inputs, vector norms, and embedder spaces.

Kept apart from :mod:`neulora.router` so that the router reads as routing. Router *file* values are
checked in :mod:`neulora.routing`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .._checks import check_int, check_text
from ..embedders._spec import EmbedderSpec, spec_of
from ..errors import ConfigError, EmbedderMismatchError, InvalidInputError, RouterFileError
from ._file import check_centroid

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..embedders._base import Embedder
    from ._file import RouterSpec

logger = logging.getLogger(__name__)

# A norm at least this large was computed from squares far above the subnormal range (sqrt(tiny) /
# eps): below it, or when it overflowed, the row is first divided by its largest |value|.
_FLOORS = {
    np.dtype(t): float(np.sqrt(np.finfo(t).tiny) / np.finfo(t).eps)
    for t in (np.float32, np.float64)
}


_HF_CACHE = re.compile(r"models--[^/]+--([^/]+)/snapshots/[^/]+$")


def check_count(value: Any, name: str) -> int:
    """``value`` as an int >= 1, else a :class:`ConfigError` naming the option."""
    return check_int(name, value)


def as_texts(texts: Any) -> list[str]:
    """The texts of a batch as a list, each checked.

    A bare ``str`` (a batch of its characters) is refused.
    """
    if isinstance(texts, (str, bytes, bytearray, Mapping)) or not isinstance(texts, Iterable):
        kind = "a str" if isinstance(texts, str) else type(texts).__name__
        raise InvalidInputError(
            f"route_many takes a list or tuple of str, got {kind}: wrap one text as [text]"
        )
    items = list(texts)
    for i, t in enumerate(items):
        check_text(t, what=f"text {i}")
    return items


def as_history(history: Any) -> list[tuple[str, str]]:
    """``history`` as (role, content) pairs.

    A list of ``{"role", "content"}`` dicts or of (role, content) pairs.
    """
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Iterable):
        raise InvalidInputError(f"history must be a list of turns, got {type(history).__name__}")
    pairs = []
    for i, turn in enumerate(history):
        pair: tuple[Any, ...] | None = None
        if isinstance(turn, Mapping):
            pair = (turn.get("role"), turn.get("content"))
        elif isinstance(turn, (list, tuple)):
            pair = tuple(turn)
        if pair is None or len(pair) != 2 or not all(isinstance(x, str) for x in pair):
            raise InvalidInputError(
                f"history turn {i} must be a {{'role': str, 'content': str}} dict or a "
                f"(role, content) pair of str, got {turn!r:.80}"
            )
        pairs.append((pair[0], pair[1]))
    return pairs


def as_vectors(value: Any) -> NDArray[np.floating[Any]]:
    """``value`` as a float32 or float64 array (other real dtypes become float64).

    Anything else is refused.
    """
    try:
        x = np.asarray(value)
    except (ValueError, TypeError):
        raise InvalidInputError(
            "vectors must be a rectangular array of numbers, got rows of different lengths"
        ) from None
    if x.dtype.kind not in "fiu":
        raise InvalidInputError(f"vectors must be real numbers, got dtype {x.dtype}")
    return x if x.dtype in _FLOORS else x.astype(np.float64)


def safe_norm_floor(dtype: np.dtype[Any]) -> float:
    """The smallest norm :func:`row_norms` trusts as computed for ``dtype`` (float32 or float64)."""
    return _FLOORS[dtype]


class Scaled(NamedTuple):
    """Rows and their norms (rows rescaled where their squares would overflow or underflow)."""

    rows: NDArray[Any]
    norms: NDArray[Any]


def row_norms(x: NDArray[Any]) -> Scaled:
    """``x`` and its row norms, neither overflowing nor underflowing.

    Rows whose squares would overflow or underflow are divided by their largest |value| first (a
    copy is returned then): directions, and so cosines, are unchanged. Zero, NaN or infinite rows
    get a NaN norm.
    """
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))  # einsum raises no floating-point warnings
    odd = ~((norms >= _FLOORS[x.dtype]) & (norms < np.inf))
    if odd.any():
        with np.errstate(all="ignore"):
            rows = x[odd]
            rows = rows / np.max(np.abs(rows), axis=1, keepdims=True)  # zero or inf rows become NaN
            x = x.copy()
            norms = norms.copy()
            x[odd] = rows
            norms[odd] = np.sqrt(np.einsum("ij,ij->i", rows, rows))
    return Scaled(x, norms)


def unit_rows(x: NDArray[Any]) -> NDArray[Any]:
    """``x`` with unit rows (see :func:`row_norms`); zero, NaN or infinite rows become NaN."""
    scaled = row_norms(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: NDArray[Any] = scaled.rows / scaled.norms[:, None]
    return out


def embedder_mismatch(
    named: Mapping[str, Any] | None, embedder: Embedder, *, dim: int
) -> str | None:
    """Why ``embedder`` does not make the vectors a router file's ``embedder`` names, or None.

    Vector spaces are compared, not backends: bge-m3 through transformers, the Inference API or a
    local folder named ``bge-m3`` (or a Hub cache snapshot of it) are one space; the pooling must
    agree where both say it.
    """
    if named is None:
        return None
    # recorded for an embedder without spec(): known by its name only
    if named.get("backend") == "custom":
        theirs = EmbedderSpec("custom", str(named.get("model_name")), dim)
    else:
        theirs = EmbedderSpec.from_json(dict(named), dim=dim)
    mine = spec_of(embedder)
    (their_model, their_pool) = _space(theirs)
    (my_model, my_pool) = _space(mine)
    if their_model == my_model and (their_pool == my_pool or None in (their_pool, my_pool)):
        return None
    their_name = theirs.model if theirs.backend == "custom" else theirs.name
    return f"made with embedder {their_name!r}, but the embedder given is {embedder.name!r}"


def centroid_matrix(centroids: Any, styles: tuple[str, ...]) -> NDArray[np.float64]:
    """``centroids`` as a float64 matrix with one usable row per style, else a ConfigError."""
    try:
        matrix = np.asarray(centroids, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(
            f"centroids must be a ({len(styles)}, dim) array of numbers ({exc})"
        ) from None
    if matrix.ndim != 2 or matrix.shape[0] != len(styles):
        raise ConfigError(f"centroids must be ({len(styles)}, dim), got {matrix.shape}")
    for style, row in zip(styles, matrix, strict=True):
        if problem := check_centroid(row):
            raise ConfigError(f"centroid {style!r} {problem}")
    return matrix


def check_embedder(spec: RouterSpec, embedder: Embedder, where: str, allow_mismatch: bool) -> None:
    """Refuse an embedder whose vectors the spec's centroids cannot be compared with."""
    if embedder.dim != spec.dim:
        raise RouterFileError(
            f"{where}: centroid dimension {spec.dim} does not match embedder {embedder.name!r} "
            f"of dimension {embedder.dim}"
        )
    problem = embedder_mismatch(spec.embedder, embedder, dim=spec.dim)
    if problem is None:
        return
    if not allow_mismatch:
        raise EmbedderMismatchError(
            f"{where} was {problem}: its routes would be meaningless. Use an embedder of "
            "the file's space (or none: the one it names is built), or pass "
            "allow_mismatch=True to route anyway",
            problem=f"{where} was {problem}",
        )
    logger.warning(
        "%s was %s: routing anyway (allow_mismatch=True), expect meaningless routes", where, problem
    )


def _space(spec: EmbedderSpec) -> tuple[str, str | None]:
    """(model, pooling) of the vectors ``spec`` makes, the model reduced to its name."""
    if spec.backend == "hash":
        return spec.name, None
    if spec.backend == "custom":
        model, sep, pooling = spec.model.rpartition(":")
        return (
            (_model_name(model), pooling)
            if sep and pooling in ("cls", "mean")
            else (_model_name(spec.model), None)
        )
    return _model_name(spec.model), spec.pooling or "cls"


def _model_name(model: str) -> str:
    path = model.replace("\\", "/").rstrip("/")
    cached = _HF_CACHE.search(path)
    return (cached.group(1) if cached else path.rsplit("/", 1)[-1]).lower()
