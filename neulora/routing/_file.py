"""Reading, validating and writing ``router_model.json``.

The format (the original app's, plus optional keys seen in other versions of it)::

    {"styles": ["direct", ...], "centroids": {"direct": [1024 floats], ...},
     "embedder": {"backend": "bge", "model_name": "BAAI/bge-m3"},
     "label_counts": {"direct": 6758, ...},
     "threshold": 0.3, "min_margin": 0.05, "fallback_style": "direct",
     "classifier": {"type": "mlp2", "state_dict": {"0.weight": [[...]], "0.bias": [...],
                                                   "2.weight": [[...]], "2.bias": [...]}}}

The optional ``classifier`` is either that ``mlp2`` form (a torch ``state_dict``) or a linear head,
``{"type": "linear", "weight": [[...]], "bias": [...]}`` of shape ``(n_styles, dim)`` and
``(n_styles,)``. Either replaces nearest-centroid scoring by the softmax of its logits over the
unit-norm embedding.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .._checks import is_int, is_real
from ..embedders._spec import EmbedderSpec
from ..errors import ConfigError, RouterFileError
from ._state import StateFeatures

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import NDArray

    Fail = Callable[[str], Exception]

_KNOWN_KEYS = (
    "styles",
    "centroids",
    "embedder",
    "label_counts",
    "threshold",
    "min_margin",
    "fallback_style",
    "classifier",
)


# the smallest normal float64; below it values lose precision
_TINY = float(np.finfo(np.float64).tiny)


@dataclass(frozen=True)
class MLP2:
    """Linear(dim -> hidden), ReLU, Linear(hidden -> n_styles): the ``mlp2`` classifier."""

    w1: NDArray[np.float64]
    b1: NDArray[np.float64]
    w2: NDArray[np.float64]
    b2: NDArray[np.float64]
    keys: tuple[str, str, str, str] = ("0.weight", "0.bias", "2.weight", "2.bias")
    kind: ClassVar[str] = "mlp2"

    def logits(self, x: NDArray[Any]) -> NDArray[Any]:
        """Return ``(n, n_styles)`` logits for ``(n, dim)`` inputs, in the dtype of ``x``."""
        dt = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        hidden = np.maximum(x @ self.w1.T.astype(dt) + self.b1.astype(dt), 0)
        out: NDArray[Any] = hidden @ self.w2.T.astype(dt) + self.b2.astype(dt)
        return out

    def to_json(self) -> dict[str, Any]:
        arrays = (self.w1, self.b1, self.w2, self.b2)
        return {
            "type": "mlp2",
            "state_dict": {k: a.tolist() for k, a in zip(self.keys, arrays, strict=True)},
        }


@dataclass(frozen=True)
class Linear:
    """One linear layer, ``weight @ x + bias``.

    The ``linear`` classifier (see :mod:`neulora.train`). With ``state`` it is a state head: its
    inputs are the unit question vector followed by the dialogue state's features
    (:class:`~neulora.routing.StateFeatures`), and ``weight`` has as many more columns.
    """

    weight: NDArray[np.float64]
    bias: NDArray[np.float64]
    state: StateFeatures | None = None
    kind: ClassVar[str] = "linear"

    def logits(self, x: NDArray[Any]) -> NDArray[Any]:
        """Return ``(n, n_styles)`` logits for ``(n, dim)`` inputs, in the dtype of ``x``."""
        dt = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        out: NDArray[Any] = x @ self.weight.T.astype(dt) + self.bias.astype(dt)
        return out

    def to_json(self) -> dict[str, Any]:
        out = {"type": "linear", "weight": self.weight.tolist(), "bias": self.bias.tolist()}
        return out | ({"state": self.state.to_json()} if self.state is not None else {})


@dataclass(frozen=True)
class RouterSpec:
    """The validated content of a router file.

    ``centroids`` keeps the stored (unnormalised) values.
    """

    styles: tuple[str, ...]
    centroids: NDArray[np.float64]
    embedder: dict[str, Any] | None = None
    label_counts: dict[str, int] | None = None
    threshold: float | None = None
    fallback_style: str | None = None
    classifier: MLP2 | Linear | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    min_margin: float | None = None
    # the file it was read from, for messages
    source: str | None = field(default=None, compare=False)

    @property
    def dim(self) -> int:
        return int(self.centroids.shape[1])

    @property
    def head(self) -> str:
        """What scores the styles: ``centroid`` (cosine to each), ``linear`` or ``mlp2``."""
        return self.classifier.kind if self.classifier is not None else "centroid"


def load_spec(path: str | os.PathLike[str]) -> RouterSpec:
    """Read and validate a router file.

    Every problem is a :class:`RouterFileError` naming the file.
    """
    where = str(path)
    try:
        raw = json.loads(_read_regular(Path(path), where), object_pairs_hook=_unique_keys(where))
    except RouterFileError:
        raise
    except FileNotFoundError:
        raise RouterFileError(f"router file {where}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RouterFileError(f"router file {where}: cannot be read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise RouterFileError(f"router file {where}: not valid JSON ({exc})") from exc
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise RouterFileError(f"router file {where}: cannot be parsed ({exc})") from exc
    except RecursionError:  # the C decoder recurses once per level of nesting
        raise RouterFileError(
            f"router file {where}: nested too deeply to parse (a router file is a flat object "
            "of lists of numbers)"
        ) from None
    return parse_spec(raw, where=where)


# bytes: a router file holds a few centroids or a small head, never this much
MAX_ROUTER_FILE = 256 << 20


def _read_regular(path: Path, where: str) -> str:
    """The text of a regular file.

    A FIFO, a device or a socket is refused before it is opened (reading a FIFO waits for a writer
    forever), and so is a file larger than any router file.
    """
    info = path.stat()  # follows links: what matters is what would be read
    if not stat.S_ISREG(info.st_mode):
        raise RouterFileError(
            f"router file {where}: not a regular file (a FIFO, device or socket is never read)"
        )
    if info.st_size > MAX_ROUTER_FILE:
        raise RouterFileError(
            f"router file {where}: {info.st_size} bytes, over the {MAX_ROUTER_FILE} a router "
            "file can be"
        )
    return path.read_text(encoding="utf-8")


def _unique_keys(where: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A JSON object hook that refuses a key given twice.

    json keeps the last one silently: a centroid or a setting would be replaced without a word.
    """

    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise RouterFileError(
                    f"router file {where}: the key {key[:60]!r} appears twice in one object"
                )
            out[key] = value
        return out

    return build


def parse_spec(raw: Any, *, where: str = "<dict>", require_embedder: bool = True) -> RouterSpec:
    """Validate a decoded router file."""

    def fail(problem: str) -> RouterFileError:
        return RouterFileError(f"router file {where}: {problem}")

    if not isinstance(raw, dict):
        raise fail(f"top level must be a JSON object, got {type(raw).__name__}")
    required = ("styles", "centroids", "embedder") if require_embedder else ("styles", "centroids")
    missing = [k for k in required if k not in raw]
    if missing:
        raise fail(f"missing key(s) {', '.join(missing)}")
    styles = check_styles(raw["styles"], fail)
    centroids = _centroids(raw["centroids"], styles, fail)
    embedder = _embedder(raw.get("embedder"), centroids.shape[1], fail)
    fallback = raw.get("fallback_style")
    if fallback is not None and fallback not in styles:
        raise fail(f"fallback_style {fallback!r} is not among the styles {list(styles)}")
    classifier = _classifier(raw.get("classifier"), len(styles), centroids.shape[1], fail)
    state = getattr(classifier, "state", None)
    if state is not None and state.styles != styles:
        raise fail(f"the state head's previous styles {list(state.styles)} are not {list(styles)}")
    return RouterSpec(
        styles=styles,
        centroids=centroids,
        embedder=embedder,
        label_counts=check_label_counts(raw.get("label_counts"), styles, fail),
        threshold=_bounded(raw.get("threshold"), "threshold", -1.0, 1.0, fail),
        min_margin=_bounded(raw.get("min_margin"), "min_margin", 0.0, 2.0, fail),
        fallback_style=fallback,
        classifier=classifier,
        extra={k: v for k, v in raw.items() if k not in _KNOWN_KEYS},
        source=where,
    )


def dump_spec(spec: RouterSpec) -> dict[str, Any]:
    """The JSON-ready dict of ``spec``, in the file's key order (floats written back exactly)."""
    out: dict[str, Any] = {
        "styles": list(spec.styles),
        "centroids": {s: spec.centroids[i].tolist() for i, s in enumerate(spec.styles)},
    }
    if spec.embedder is not None:
        out["embedder"] = spec.embedder
    if spec.label_counts is not None:
        out["label_counts"] = spec.label_counts
    if spec.threshold is not None:
        out["threshold"] = spec.threshold
    if spec.min_margin is not None:
        out["min_margin"] = spec.min_margin
    if spec.fallback_style is not None:
        out["fallback_style"] = spec.fallback_style
    if spec.classifier is not None:
        out["classifier"] = spec.classifier.to_json()
    out.update(spec.extra)
    return out


def check_styles(value: Any, fail: Fail) -> tuple[str, ...]:
    """The style names, refused through ``fail`` unless two or more distinct non-empty strings."""
    if not isinstance(value, (list, tuple)) or len(value) < 2:
        raise fail("'styles' must be a list of at least two style names")
    if not all(isinstance(s, str) and s.strip() for s in value):
        raise fail("'styles' must contain non-empty strings only")
    if len(set(value)) != len(value):
        raise fail(f"'styles' has duplicates: {value}")
    return tuple(value)


def check_centroid(vector: NDArray[np.float64]) -> str | None:
    """What makes a centroid unusable (no finite direction), or None.

    Huge finite values are fine: the router divides by the largest value before the norm, so nothing
    overflows. Values that are all subnormal are refused: they carry a few bits of precision, not a
    direction.
    """
    if not np.all(np.isfinite(vector)):
        return "contains NaN or infinity"
    peak = float(np.max(np.abs(vector)))
    if peak == 0.0:
        return "is a zero vector (it has no direction)"
    if peak < _TINY:
        return (
            f"is too small: its largest |value| {peak:.3g} is below the smallest normal float64 "
            f"({_TINY:.3g}), so its direction is unreliable; rescale it"
        )
    return None


def _vector(value: Any, what: str, fail: Fail) -> NDArray[np.float64]:
    if not isinstance(value, list) or not value:
        raise fail(f"{what} must be a non-empty list of numbers")
    bad = [v for v in value if not is_real(v)]
    if bad:
        raise fail(f"{what} contains a non-numeric value {bad[0]!r}")
    try:
        out = np.asarray(value, dtype=np.float64)
    except OverflowError:  # a JSON integer beyond float64, e.g. 10**400
        for i, v in enumerate(value):
            try:
                float(v)
            except OverflowError:
                raise fail(
                    f"{what} value at index {i} does not fit a float64 (an integer of "
                    f"{len(str(abs(v)))} "
                    "digits)"
                ) from None
        raise
    finite = np.isfinite(out)
    if not finite.all():
        raise fail(f"{what} contains NaN or infinity (at index {int(np.argmin(finite))})")
    return out


def _matrix(value: Any, what: str, fail: Fail) -> NDArray[np.float64]:
    if not isinstance(value, list) or not value:
        raise fail(f"{what} must be a non-empty list of rows")
    rows = [_vector(r, f"{what} row {i}", fail) for i, r in enumerate(value)]
    if len({r.shape[0] for r in rows}) != 1:
        raise fail(f"{what} is ragged (row lengths {sorted({r.shape[0] for r in rows})})")
    return np.stack(rows)


def _centroids(value: Any, styles: tuple[str, ...], fail: Fail) -> NDArray[np.float64]:
    if not isinstance(value, dict):
        raise fail("'centroids' must be an object mapping style -> vector")
    absent = [s for s in styles if s not in value]
    if absent:
        raise fail(f"style(s) without a centroid: {', '.join(absent)}")
    unknown = [s for s in value if s not in styles]
    if unknown:
        raise fail(f"centroid(s) for unknown style(s): {', '.join(unknown)}")
    vectors = [_vector(value[s], f"centroid {s!r}", fail) for s in styles]
    dims = {s: v.shape[0] for s, v in zip(styles, vectors, strict=True)}
    if len(set(dims.values())) != 1:
        raise fail(f"centroids are ragged: dimensions {dims}")
    for s, v in zip(styles, vectors, strict=True):
        if problem := check_centroid(v):
            raise fail(f"centroid {s!r} {problem}")
    return np.stack(vectors)


def _embedder(value: Any, dim: int, fail: Fail) -> dict[str, Any] | None:
    """The ``embedder`` object, checked as :class:`EmbedderSpec` reads it.

    And its ``dim`` against the centroids'.
    """
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("backend"), str):
        raise fail(
            "'embedder' must be an object with a str 'backend' (and usually 'model_name'), got "
            f"{value!r:.80}"
        )
    model = value.get("model_name")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise fail(f"embedder 'model_name' must be a non-empty str, got {model!r}")
    seed = value.get("seed", 0)
    ngrams = value.get("ngrams", [2])
    if not is_int(seed):
        raise fail(f"embedder 'seed' must be an int, got {seed!r}")
    if not isinstance(ngrams, list) or not ngrams or not all(is_int(n) and n >= 1 for n in ngrams):
        raise fail(f"embedder 'ngrams' must be a list of positive ints, got {ngrams!r}")
    # "custom" is what a router made with an embedder that cannot describe itself records: known by
    # name only.
    checked = {**value, "backend": "hash"} if value["backend"] == "custom" else value
    try:
        EmbedderSpec.from_json(checked, dim=dim)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    return value


def check_label_counts(value: Any, styles: tuple[str, ...], fail: Fail) -> dict[str, int] | None:
    """The training label counts (style -> count), refused through ``fail`` unless well-formed."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(is_int(v) and v >= 0 for v in value.values()):
        raise fail("'label_counts' must map style -> non-negative int")
    unknown = [s for s in value if s not in styles]
    if unknown:
        raise fail(f"label_counts for unknown style(s): {', '.join(unknown)}")
    return dict(value)


def _bounded(value: Any, key: str, low: float, high: float, fail: Fail) -> float | None:
    if value is None:
        return None
    if not is_real(value) or not low <= value <= high:
        raise fail(f"'{key}' must be a number between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _classifier(value: Any, n_styles: int, dim: int, fail: Fail) -> MLP2 | Linear | None:
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "linear":
        return _linear(value, n_styles, dim, fail)
    if kind != "mlp2":
        raise fail("'classifier' must be an object with type 'mlp2' or 'linear'")
    state = value.get("state_dict")
    if not isinstance(state, dict):
        raise fail("classifier has no 'state_dict' object")
    # Layer names vary ("0.weight" in nn.Sequential, "fc1.weight", "net.0.weight"): take them in
    # order.
    weights = [k for k in state if k.endswith(".weight")]
    biases = [k for k in state if k.endswith(".bias")]
    if len(weights) != 2 or len(biases) != 2 or len(state) != 4:
        raise fail(
            f"classifier state_dict must hold two weights and two biases, got keys {list(state)}"
        )
    w1, w2 = (_matrix(state[k], f"classifier {k}", fail) for k in weights)
    b1, b2 = (_vector(state[k], f"classifier {k}", fail) for k in biases)
    hidden = w1.shape[0]
    expected = {
        "first weight": ((hidden, dim), w1.shape),
        "first bias": ((hidden,), b1.shape),
        "second weight": ((n_styles, hidden), w2.shape),
        "second bias": ((n_styles,), b2.shape),
    }
    for what, (want, got) in expected.items():
        if want != got:
            raise fail(f"classifier {what} has shape {got}, expected {want}")
    return MLP2(w1, b1, w2, b2, keys=(weights[0], biases[0], weights[1], biases[1]))


def _linear(value: dict[str, Any], n_styles: int, dim: int, fail: Fail) -> Linear:
    unknown = sorted(set(value) - {"type", "weight", "bias", "state"})
    if unknown or "weight" not in value or "bias" not in value:
        raise fail(
            "linear classifier must hold 'weight' and 'bias' (and, for a state head, 'state'), "
            f"got keys {sorted(value)}"
        )
    state = None
    if "state" in value:
        try:
            state = StateFeatures.from_json(value["state"])
        except ValueError as exc:
            raise fail(f"linear classifier {exc}") from None
    weight = _matrix(value["weight"], "linear classifier weight", fail)
    bias = _vector(value["bias"], "linear classifier bias", fail)
    inputs = dim + (state.size if state is not None else 0)
    if weight.shape != (n_styles, inputs):
        raise fail(
            f"linear classifier weight has shape {weight.shape}, expected {(n_styles, inputs)}"
            + (f" (the vector's {dim} and the state's {state.size})" if state is not None else "")
        )
    if bias.shape != (n_styles,):
        raise fail(f"linear classifier bias has shape {bias.shape}, expected {(n_styles,)}")
    return Linear(weight, bias, state)
