"""The filter dialect as Milvus boolean expressions, and Milvus string literals."""

from __future__ import annotations

import math
from collections.abc import Sequence

from jina_v3.errors import UnsupportedFilterError
from jina_v3.index.filters import And, Condition, FilterNode, Or
from jina_v3.index.store import CHUNK_INDEX_KEY, DOCUMENT_ID_KEY, TEXT_KEY

#: Reserved keys live in their own columns; user metadata in the JSON ``metadata`` field.
COLUMNS = {TEXT_KEY: "text", DOCUMENT_ID_KEY: "document_id", CHUNK_INDEX_KEY: "chunk_index"}


def to_expression(node: FilterNode, *, loose: bool = False) -> str:
    """Translate a parsed filter tree to a Milvus boolean expression.

    User fields live in the JSON ``metadata`` field (``metadata["genre"]``); the reserved keys
    ``text``, ``document_id`` and ``chunk_index`` map to their columns. Keys are literal
    (``metadata["a.b"]``). A list-valued field matches ``$eq``/``$in`` when any element does
    (``json_contains``), and a missing field satisfies ``$ne`` and ``$nin`` (the dialect's
    semantics), spelled out with ``exists`` because Milvus Lite and the server disagree on
    comparisons with missing JSON keys.

    Milvus compares JSON booleans as the numbers 1 and 0 (``true == 1``). With ``loose`` the
    expression is a superset of the dialect's matches (``$ne``/``$nin`` on a number or a
    boolean match everything), for the store to narrow with the reference evaluator; see
    :func:`needs_exact_check`.
    """
    if isinstance(node, And):
        return "(" + " and ".join(to_expression(c, loose=loose) for c in node.children) + ")"
    if isinstance(node, Or):
        return "(" + " or ".join(to_expression(c, loose=loose) for c in node.children) + ")"
    return _condition(node, loose)


def needs_exact_check(node: FilterNode) -> bool:
    """Whether Milvus may match more than the dialect: a number or boolean on metadata."""
    if isinstance(node, (And, Or)):
        return any(needs_exact_check(c) for c in node.children)
    values = node.value if isinstance(node.value, tuple) else (node.value,)
    return node.field not in COLUMNS and any(not isinstance(v, str) for v in values)


_TRUE = "not (id in [])"  # true on every engine


def _condition(node: Condition, loose: bool) -> str:
    column = COLUMNS.get(node.field)
    ref = column or f"metadata[{literal(node.field)}]"
    op, value = node.op, node.value
    values = value if isinstance(value, tuple) else (value,)
    if loose and op in ("$ne", "$nin") and needs_exact_check(node):
        return _TRUE
    if op in ("$gt", "$gte", "$lt", "$lte"):
        symbol = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
        return f"{ref} {symbol} {literal(value)}"  # type: ignore[arg-type]
    if op in ("$in", "$nin") and not values:
        return "id in []" if op == "$in" else _TRUE
    if op in ("$eq", "$in"):
        terms = [f"{ref} == {literal(v)}" for v in values]
        if not column:  # a list-valued field matches when any element does
            terms.append(_contains(ref, values))
        return "(" + " or ".join(terms) + ")"
    # $ne / $nin: no element equal, and a missing field matches too
    terms = [f"{ref} != {literal(v)}" for v in values]
    if column:
        return "(" + " and ".join(terms) + ")"
    terms.append(f"not {_contains(ref, values)}")
    return f"((not exists {ref}) or ({' and '.join(terms)}))"


def _contains(ref: str, values: tuple) -> str:
    if len(values) == 1:
        value = literal(values[0])
        if value.startswith("-"):  # Milvus parses a negative argument only in parentheses
            value = f"({value})"
        return f"json_contains({ref}, {value})"
    return f"json_contains_any({ref}, [{', '.join(literal(v) for v in values)}])"


#: The escapes Milvus' expression parser reads; every other character goes in as it is
#: (its parser rejects JSON's \u0000-style escapes, so control characters stay raw).
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r"}


def literal(value: str | int | float | bool) -> str:
    """A Milvus expression literal for a scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnsupportedFilterError(f"filter values must be finite numbers, got {value!r}")
        return repr(value)
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def list_literal(values: Sequence[str]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]"
