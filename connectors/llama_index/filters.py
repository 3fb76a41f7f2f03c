"""`to_filter`: LlamaIndex ``MetadataFilters`` in the ``jina_v3`` Mongo-style filter dialect.

One table maps LlamaIndex's operators to the dialect's; ``all`` expands to one ``$eq`` per
value; ``and`` / ``or`` nest. What no database has an equivalent for is refused.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from jina_v3.errors import UnsupportedFilterError

_OPERATORS = {
    FilterOperator.EQ: "$eq",
    FilterOperator.NE: "$ne",
    FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte",
    FilterOperator.LT: "$lt",
    FilterOperator.LTE: "$lte",
    FilterOperator.IN: "$in",
    FilterOperator.NIN: "$nin",
    FilterOperator.ANY: "$in",  # a list field matches $in when any element does
    FilterOperator.CONTAINS: "$eq",  # ... and $eq when one element equals the value
}


def to_filter(filters: MetadataFilters) -> dict[str, Any]:
    """Translate LlamaIndex ``MetadataFilters`` into the ``jina_v3`` Mongo-style dialect.

    ``== != > >= < <= in nin`` map one to one, ``any`` to ``$in`` and ``contains`` to ``$eq``
    (list fields match when an element does), ``all`` to one ``$eq`` per value; ``and`` /
    ``or`` nest. Example: ``MetadataFilters(filters=[MetadataFilter(key="lang", value="en")])``
    gives ``{"$and": [{"lang": {"$eq": "en"}}]}``.

    Raises:
        UnsupportedFilterError: ``not``, text match or ``is_empty`` (no equivalent in every
            database).
    """
    children: list[dict[str, Any]] = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            children.append(to_filter(item))
        else:
            children.append(_condition(item))
    if not children:
        raise UnsupportedFilterError("MetadataFilters is empty; pass no filters instead")
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return {"$and": children}
    if condition == FilterCondition.OR:
        return {"$or": children}
    raise UnsupportedFilterError(
        f"Filter condition {condition.value!r} is not supported; use 'and' or 'or' (negate "
        "the operators instead: != for ==, nin for in)."
    )


def _condition(item: MetadataFilter) -> dict[str, Any]:
    operator = FilterOperator(item.operator)
    if operator == FilterOperator.ALL:
        values = item.value if isinstance(item.value, list) else [item.value]
        return {"$and": [{item.key: {"$eq": v}} for v in values]}
    op = _OPERATORS.get(operator)
    if op is None:
        supported = ", ".join(sorted({o.value for o in _OPERATORS} | {"all"}))
        raise UnsupportedFilterError(
            f"Filter operator {operator.value!r} on {item.key!r} is not supported; "
            f"supported: {supported}."
        )
    value = item.value
    if op in ("$in", "$nin") and not isinstance(value, list):
        value = [value]
    return {item.key: {op: value}}
