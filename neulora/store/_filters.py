"""Metadata filters (Chroma's ``where`` grammar).

Checked, and evaluated on the metadata an exact index holds.

Checking here gives the caller one clear :class:`~neulora.errors.InvalidInputError` (an HTTP 400 in
``neulora serve``) that names the fault without echoing the whole filter, and bounds the nesting so
that no filter can exhaust the interpreter's stack. Evaluating here lets a filtered search run
exactly over the matching records: an HNSW search with a filter can miss matching records when most
of the graph does not match.

>>> check_where({"$and": [{"source": "a.md"}, {"page": {"$gte": 2}}]})
{'$and': [{'source': 'a.md'}, {'page': {'$gte': 2}}]}
>>> matches({"$or": [{"source": "a.md"}, {"page": {"$in": [1, 2]}}]}, {"source": "b.md", "page": 2})
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .._checks import is_real
from ..errors import InvalidInputError

MAX_WHERE_DEPTH = 16  # nested $and/$or levels a filter may have


MAX_WHERE_TERMS = 256  # field conditions in one filter


_COMPARE = ("$gt", "$gte", "$lt", "$lte")


_EQUAL = ("$eq", "$ne")


_MEMBER = ("$in", "$nin")


_LOGIC = ("$and", "$or")


_Scalar = (str, int, float, bool)


def check_where(where: Any) -> dict[str, Any]:
    """``where`` if it is a valid filter, else :class:`InvalidInputError` saying where it is wrong.

    A filter is one field condition (``{"field": value}`` or ``{"field": {"$op": operand}}`` with
    ``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``, ``$in``, ``$nin``) or ``{"$and" | "$or":
    [two or more filters]}``, nested at most :data:`MAX_WHERE_DEPTH` levels, with at most
    :data:`MAX_WHERE_TERMS` conditions.
    """
    terms = 0
    # iterative: no recursion for the filter to exhaust
    stack: list[tuple[Any, str, int]] = [(where, "where", 1)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_WHERE_DEPTH:
            raise InvalidInputError(f"where: the filter nests deeper than {MAX_WHERE_DEPTH} levels")
        if not isinstance(node, Mapping) or len(node) != 1:
            raise InvalidInputError(
                f"{path} must be an object with exactly one key (a field, $and or $or), "
                f"got {_kind(node)}"
            )
        ((key, value),) = node.items()
        if not isinstance(key, str) or not key:
            raise InvalidInputError(f"{path}: keys must be non-empty strings")
        if key in _LOGIC:
            if not isinstance(value, list) or len(value) < 2:
                raise InvalidInputError(
                    f"{path}.{key} must be a list of at least two filters, got {_kind(value)}"
                )
            stack.extend((item, f"{path}.{key}[{i}]", depth + 1) for i, item in enumerate(value))
            continue
        if key.startswith("$"):
            raise InvalidInputError(
                f"{path}: unknown operator {key[:40]!r} where a field name or $and/$or belongs"
            )
        terms += 1
        if terms > MAX_WHERE_TERMS:
            raise InvalidInputError(f"the filter has more than {MAX_WHERE_TERMS} conditions")
        _check_condition(value, f"{path}.{key[:60]}")
    return dict(where)


def _finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def _check_condition(value: Any, path: str) -> None:
    if isinstance(value, _Scalar) and not _finite(value):
        raise InvalidInputError(f"{path}: numbers in a filter must be finite, got {value!r}")
    if isinstance(value, _Scalar):
        return
    if not isinstance(value, Mapping) or len(value) != 1:
        raise InvalidInputError(
            f'{path} must be a string, number, boolean or one {{"$op": operand}}, '
            f"got {_kind(value)}"
        )
    ((op, operand),) = value.items()
    for item in operand if isinstance(operand, list) else [operand]:
        if not _finite(item):
            raise InvalidInputError(
                f"{path}.{str(op)[:40]}: numbers in a filter must be finite, got {item!r}"
            )
    if op in _MEMBER and isinstance(operand, list) and len({type(v) for v in operand}) > 1:
        # Chroma refuses a list that mixes types (even int with float): refused here, the same on
        # every path
        raise InvalidInputError(
            f"{path}.{op} needs values of one type (strings, integers, floats or booleans), "
            f"got {sorted({type(v).__name__ for v in operand})}"
        )
    if op in _EQUAL and isinstance(operand, _Scalar):
        return
    if op in _COMPARE and is_real(operand):
        return
    if (
        op in _MEMBER
        and isinstance(operand, list)
        and operand
        and all(isinstance(v, _Scalar) for v in operand)
    ):
        return
    if op not in (*_EQUAL, *_COMPARE, *_MEMBER):
        raise InvalidInputError(
            f"{path}: unknown operator {str(op)[:40]!r}: use one of "
            f"{', '.join((*_EQUAL, *_COMPARE, *_MEMBER))}"
        )
    wants = {
        "$gt": "a number",
        "$gte": "a number",
        "$lt": "a number",
        "$lte": "a number",
        "$in": "a non-empty list of strings, numbers or booleans",
    }.get(op, "a string, number or boolean")
    raise InvalidInputError(f"{path}.{op} needs {wants.replace('$in', op)}, got {_kind(operand)}")


def matches(where: Mapping[str, Any], metadata: Mapping[str, Any] | None) -> bool:
    """Whether ``metadata`` satisfies a filter :func:`check_where` accepted, as Chroma decides it.

    Measured on chromadb 1.5 (tests/unit/store/test_filters.py holds the two side by side): a record
    without the field satisfies only ``$ne`` and ``$nin``; a boolean equals only a boolean (``True``
    is not ``1``) and is not a number for ``$gt``...; ``1`` equals ``1.0``.
    """
    meta = metadata or {}
    ((key, value),) = where.items()
    if key == "$and":
        return all(matches(item, meta) for item in value)
    if key == "$or":
        return any(matches(item, meta) for item in value)
    op, operand = next(iter(value.items())) if isinstance(value, Mapping) else ("$eq", value)
    if key not in meta:
        return op in ("$ne", "$nin")
    held = meta[key]
    if op == "$eq":
        return _same(held, operand)
    if op == "$ne":
        return not _same(held, operand)
    if op == "$in":
        return any(_same(held, v) for v in operand)
    if op == "$nin":
        return not any(_same(held, v) for v in operand)
    if not is_real(held):
        return False
    number = float(held)
    bound = float(operand)
    return {
        "$gt": number > bound,
        "$gte": number >= bound,
        "$lt": number < bound,
        "$lte": number <= bound,
    }[op]


def _same(held: Any, wanted: Any) -> bool:
    # True == 1 in Python, not in a metadata filter: a boolean only equals a boolean
    return isinstance(held, bool) == isinstance(wanted, bool) and held == wanted


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return f"an object with {len(value)} key(s)"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return type(value).__name__
