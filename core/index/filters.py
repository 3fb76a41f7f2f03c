"""One metadata filter dialect for every store: the Mongo-style one Pinecone uses.

    {"genre": "drama"}                               # shorthand for $eq
    {"year": {"$gte": 2020, "$lt": 2024}}            # several operators on one field: AND
    {"$or": [{"lang": {"$in": ["de", "fr"]}}, {"stars": {"$gt": 4}}]}

Operators: $eq $ne $gt $gte $lt $lte $in $nin $and $or. As in Pinecone (and MongoDB), a
list-valued field matches when any element does: {"tags": "a"} matches tags ["a", "b"], and
$ne / $nin match when no element does (a missing field matches them too).

Keys are literal metadata keys: {"a.b": 1} matches metadata {"a.b": 1}, never {"a": {"b": 1}}
(to filter on a nested object, pass the database's native filter). Numbers compare by value,
3 == 3.0, and integers exactly at any size; booleans are not numbers: True matches True only,
never 1 (as in MongoDB and Pinecone). Filters nest at most 32 levels deep.

`parse_filter` turns a filter into a small tree that each connector translates to its
database's native form (Qdrant `Filter`, Milvus expression); anything else is an
UnsupportedFilterError naming the operator.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jina_v3.errors import UnsupportedFilterError

__all__ = [
    "COMPARISONS",
    "LOGICAL",
    "MAX_DEPTH",
    "And",
    "Condition",
    "FilterNode",
    "Or",
    "Scalar",
    "matches",
    "parse_filter",
    "same",
]

COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin")
LOGICAL = ("$and", "$or")

Scalar = str | int | float | bool


@dataclass(frozen=True)
class Condition:
    """`field <op> value`; for $in / $nin `value` is a tuple."""

    field: str
    op: str
    value: Scalar | tuple[Scalar, ...]


@dataclass(frozen=True)
class And:
    children: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[FilterNode, ...]


FilterNode = Condition | And | Or


MAX_DEPTH = 32

# values quoted in messages: a few levels and items (a filter may be deep or huge)
_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxdict, _repr.maxlist, _repr.maxstring = 3, 6, 6, 60
_show = _repr.repr


def parse_filter(filter: Mapping[str, Any], _depth: int = 0) -> FilterNode:
    """Validate a Mongo-style filter and return its tree (top-level keys are ANDed)."""
    if _depth > MAX_DEPTH:
        raise UnsupportedFilterError(
            f"filter nests over {MAX_DEPTH} levels of $and/$or; flatten it"
        )
    if not isinstance(filter, Mapping):
        raise UnsupportedFilterError(
            f"filter must be a dict in the Mongo-style dialect, got {type(filter).__name__}"
        )
    if not filter:
        raise UnsupportedFilterError("filter is empty; pass filter=None to match everything")
    nodes = [_parse_key(key, value, _depth) for key, value in filter.items()]
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


def _parse_key(key: str, value: Any, depth: int) -> FilterNode:
    if not isinstance(key, str) or not key:
        raise UnsupportedFilterError(f"filter keys are non-empty strings, got {key!r}")
    if key in LOGICAL:
        if not isinstance(value, list) or not value:
            raise UnsupportedFilterError(
                f"{key} takes a non-empty list of filters, got {_show(value)}"
            )
        children = tuple(parse_filter(item, depth + 1) for item in value)
        return And(children) if key == "$and" else Or(children)
    if key.startswith("$"):
        raise UnsupportedFilterError(
            f"Unsupported filter operator {key!r}; supported: {', '.join(COMPARISONS + LOGICAL)}"
        )
    if isinstance(value, Mapping):
        if not value:
            raise UnsupportedFilterError(f"filter on {key!r} has no operator")
        conditions = [_condition(key, op, operand) for op, operand in value.items()]
        return conditions[0] if len(conditions) == 1 else And(tuple(conditions))
    return _condition(key, "$eq", value)


def _condition(field: str, op: str, operand: Any) -> Condition:
    if op not in COMPARISONS:
        raise UnsupportedFilterError(
            f"Unsupported filter operator {op!r} on field {field!r}; supported: "
            f"{', '.join(COMPARISONS + LOGICAL)}"
        )
    if op in ("$in", "$nin"):
        if not isinstance(operand, (list, tuple)) or not all(_is_scalar(v) for v in operand):
            raise UnsupportedFilterError(
                f"{op} on {field!r} takes a list of scalars, got {_show(operand)}"
            )
        return Condition(field, op, tuple(operand))
    if not _is_scalar(operand):
        raise UnsupportedFilterError(
            f"{op} on {field!r} takes a string, number or boolean, got {_show(operand)}"
        )
    if op in ("$gt", "$gte", "$lt", "$lte") and (
        isinstance(operand, bool) or not isinstance(operand, (int, float))
    ):
        raise UnsupportedFilterError(f"{op} on {field!r} takes a number, got {_show(operand)}")
    return Condition(field, op, operand)


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, int, bool))


def same(a: Any, b: Any) -> bool:
    """The dialect's equality: by value for numbers (3 == 3.0), booleans only equal booleans."""
    return isinstance(a, bool) == isinstance(b, bool) and bool(a == b)


def matches(node: FilterNode, metadata: Mapping[str, Any]) -> bool:
    """Evaluate a filter tree on one metadata dict (the reference semantics for tests and
    stores without native filtering)."""
    if isinstance(node, And):
        return all(matches(child, metadata) for child in node.children)
    if isinstance(node, Or):
        return any(matches(child, metadata) for child in node.children)
    if node.field not in metadata:
        return node.op in ("$ne", "$nin")
    actual = metadata[node.field]
    op, value = node.op, node.value
    if isinstance(actual, (list, tuple)):
        if op in ("$ne", "$nin"):
            positive = Condition(node.field, "$eq" if op == "$ne" else "$in", value)
            return not any(matches(positive, {node.field: item}) for item in actual)
        return any(matches(node, {node.field: item}) for item in actual)
    values = value if isinstance(value, tuple) else (value,)
    if op in ("$eq", "$in"):
        return any(same(actual, v) for v in values)
    if op in ("$ne", "$nin"):
        return not any(same(actual, v) for v in values)
    if not isinstance(actual, (int, float)) or isinstance(actual, bool):
        return False
    return {
        "$gt": actual > value,  # type: ignore[operator]
        "$gte": actual >= value,  # type: ignore[operator]
        "$lt": actual < value,  # type: ignore[operator]
        "$lte": actual <= value,  # type: ignore[operator]
    }[op]
