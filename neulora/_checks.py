"""Argument checks, one module: positive ints, finite numbers, temperatures, user text."""

from __future__ import annotations

import math
import re
from numbers import Integral, Real
from typing import Any, TypeGuard

from .errors import ConfigError, InvalidInputError, NeuloraError

_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(
    text: Any, *, what: str = "text", error: type[NeuloraError] = InvalidInputError
) -> str:
    """``text`` if it is a non-blank ``str`` that can be encoded, else ``error``.

    Refused: non-``str`` values, empty or whitespace-only strings, NUL bytes, and lone surrogates
    (which no tokenizer or HTTP body can encode).
    """
    if not isinstance(text, str):
        raise error(f"{what} must be a str, got {type(text).__name__}")
    if not text.strip():
        raise error(f"{what} is empty or whitespace only")
    if "\x00" in text:
        raise error(f"{what} contains a NUL byte at position {text.index(chr(0))}")
    return check_encodable(text, what=what)


def check_encodable(
    text: str, *, what: str = "text", error: type[NeuloraError] = InvalidInputError
) -> str:
    """``text`` if UTF-8 can encode it, else ``error`` naming the lone surrogate's position."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error(f"{what} contains a lone surrogate at position {exc.start}") from None
    return text


def without_surrogates(text: str) -> str:
    """``text`` without lone surrogates.

    An engine's JSON may escape one, and no byte of it could be sent on, stored or printed (a
    session holding one would fail on every later turn).
    """
    return _SURROGATE.sub("", text)


def truncate(text: str, max_chars: int) -> str:
    """Cut ``text`` to at most ``max_chars`` characters.

    Embedding models read only the first few hundred tokens.
    """
    return text if len(text) <= max_chars else text[:max_chars]


def is_int(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an integer.

    ``True`` and ``False`` are not, though Python says they are.
    """
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_real(value: object) -> TypeGuard[float]:
    """Whether ``value`` is a real number (NaN and infinities too; bools are not)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[float]:
    """Whether ``value`` is a finite real number (not a bool, not NaN, not infinite)."""
    return is_real(value) and math.isfinite(value)


def check_int(
    name: str,
    value: Any,
    *,
    low: int = 1,
    high: int | None = None,
    error: type[NeuloraError] = ConfigError,
) -> int:
    """``value`` if it is an int from ``low`` (to ``high``), else ``error`` naming ``name``."""
    if is_int(value) and value >= low and (high is None or value <= high):
        return int(value)
    if high is not None:
        wanted = f"an int from {low} to {high}"
    elif low == 1:
        wanted = "a positive int"
    else:
        wanted = f"an int >= {low}"
    raise error(f"{name} must be {wanted}, got {value!r}")


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    error: type[NeuloraError] = ConfigError,
    unit: str = "",
) -> float:
    """``value`` as a float if it is a finite number in range, else ``error``."""
    ok = is_number(value)
    ok = ok and (low is None or value >= low) and (high is None or value <= high)
    ok = ok and (above is None or value > above)
    if ok:
        return float(value)
    if above is not None:
        wanted = f"a number above {above:g}{unit}"
    elif low is not None and high is not None:
        wanted = f"a number between {low:g} and {high:g}"
    elif low is not None:
        wanted = f"a number >= {low:g}"
    else:
        wanted = "a finite number"
    raise error(f"{name} must be {wanted}, got {value!r}")


def check_seconds(
    name: str, value: Any, error: type[NeuloraError] = ConfigError, *, infinite: bool = False
) -> float:
    """``value`` if it is a positive number of seconds (``infinite``: inf too), else ``error``."""
    if (is_number(value) or (infinite and is_real(value) and value == math.inf)) and value > 0:
        return float(value)
    raise error(f"{name} must be a positive number of seconds, got {value!r}")


def check_temperature(value: Any, error: type[NeuloraError] = ConfigError) -> float:
    """A sampling temperature: a number from 0 to 2."""
    if is_number(value) and 0 <= value <= 2:
        return float(value)
    raise error(f"temperature must be a number between 0 and 2, got {value!r}")


def check_answer_checks(
    value: Any, *, what: str = "checks", error: type[NeuloraError] = ConfigError
) -> str:
    """What the answer checks do: ``off``, ``flag``, ``regenerate`` or ``fallback:<style>``.

    ``on`` is ``flag``; the words' case and the spaces around them do not matter (the style's
    name is kept as written).
    """
    text = value.strip() if isinstance(value, str) else ""
    word = text.lower()
    if word in ("off", "flag", "regenerate"):
        return word
    if word == "on":
        return "flag"
    style = text[len("fallback:") :].strip()
    if word.startswith("fallback:") and style:
        return f"fallback:{style}"
    raise error(f"{what} must be off, on, flag, regenerate or fallback:<style>, got {value!r}")
