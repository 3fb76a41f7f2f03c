"""The filters of the Qdrant and Qdrant Edge stores: one translator for both engines' filter
models, metadata keys as payload paths, and the payload indexes a store may ask for."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from jina_v3.errors import ConfigurationError, UnsupportedFilterError
from jina_v3.index.filters import And, Condition, FilterNode, Or

#: Payload index types the Qdrant stores accept in ``payload_indexes``.
PAYLOAD_INDEX_TYPES = ("keyword", "integer", "float", "bool")

#: Integers beyond this are not exact as floats: Qdrant's ranges compare floats.
_EXACT_FLOAT_INT = 2**53
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def check_payload_indexes(indexes: Mapping[str, str] | None) -> dict[str, str]:
    if indexes is None:
        return {}
    if not isinstance(indexes, Mapping):
        raise ConfigurationError("payload_indexes must be a dict of field name -> index type")
    for name, kind in indexes.items():
        if not isinstance(name, str) or not name or kind not in PAYLOAD_INDEX_TYPES:
            raise ConfigurationError(
                f"payload_indexes[{name!r}] = {kind!r}: use one of {', '.join(PAYLOAD_INDEX_TYPES)}"
            )
    return {payload_key(name): kind for name, kind in indexes.items()}


def payload_key(field: str) -> str:
    """A metadata key as a Qdrant payload path: literal, so ``"a.b"`` is the key ``a.b`` (quoted),
    never the field ``b`` inside ``a``."""
    if _PLAIN_KEY.fullmatch(field):
        return field
    if '"' in field:
        raise UnsupportedFilterError(
            f"Qdrant cannot filter on the metadata key {field!r}: its path syntax has no escape "
            "for '\"'. Rename the key, or pass a native qdrant Filter."
        )
    return f'"{field}"'


class FilterModels:
    """The filter vocabulary of a Qdrant engine: ``qdrant_client.models`` or ``qdrant_edge``
    (same class names, except the range: ``Range`` / ``RangeFloat``)."""

    def __init__(self, module: Any, range_type: Any, boolean: Any = bool) -> None:
        self.m, self._range, self._bool = module, range_type, boolean

    def filter(self, must: Any = None, should: Any = None, must_not: Any = None) -> Any:
        return self.m.Filter(must=must, should=should, must_not=must_not)

    def is_filter(self, obj: Any) -> bool:
        return isinstance(obj, self.m.Filter)

    def match(self, key: str, value: Any) -> Any:
        value = self._bool(value) if isinstance(value, bool) else value
        return self.m.FieldCondition(key=key, match=self.m.MatchValue(value=value))

    def match_any(self, key: str, values: list[Any]) -> Any:
        return self.m.FieldCondition(key=key, match=self.m.MatchAny(any=values))

    def range(self, key: str, **bounds: float) -> Any:
        return self.m.FieldCondition(key=key, range=self._range(**bounds))

    def translate(self, node: FilterNode) -> Any:
        """A parsed filter tree in this engine's ``Filter`` (see to_qdrant_family_filter)."""
        return to_qdrant_family_filter(node, self)


def to_qdrant_family_filter(node: FilterNode, models: FilterModels) -> Any:
    """Translate a parsed filter tree to a Qdrant-family ``Filter``.

    The dialect's semantics (see :mod:`jina_v3.filters`): keys are literal; a list-valued
    payload matches when any element does; numbers compare by value whether stored as int or
    float, and integers exactly even beyond 2**53 (Qdrant's ranges are floats, so near a
    large integer the range is narrowed by exact integer matches); booleans are not numbers.
    """
    if isinstance(node, And):
        return models.filter(must=[to_qdrant_family_filter(c, models) for c in node.children])
    if isinstance(node, Or):
        return models.filter(should=[to_qdrant_family_filter(c, models) for c in node.children])
    condition = _condition(node, models)
    return condition if models.is_filter(condition) else models.filter(must=[condition])


def _condition(node: Condition, models: FilterModels) -> Any:
    key, op, value = payload_key(node.field), node.op, node.value
    if op in ("$ne", "$nin"):
        positive = Condition(node.field, "$eq" if op == "$ne" else "$in", value)
        return models.filter(must_not=[_condition(positive, models)])
    if op == "$eq":
        return _equals(key, value, models)  # type: ignore[arg-type]
    if op == "$in":
        assert isinstance(value, tuple)
        if all(isinstance(v, str) for v in value):
            return models.match_any(key, list(value))
        return models.filter(should=[_equals(key, v, models) for v in value])
    assert isinstance(value, (int, float)) and not isinstance(value, bool)
    if op == "$gt" and isinstance(value, int):
        op, value = "$gte", value + 1
    if op == "$lte" and isinstance(value, int):
        op, value = "$lt", value + 1
    bound = {"$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}[op]
    if not isinstance(value, int) or abs(value) < _EXACT_FLOAT_INT:
        return models.range(key, **{bound: float(value)})
    # x >= v: every x whose float is above float(v), plus the integers from v that share its
    # float (x < v: below, plus those up to v - 1): exact where a float range alone is not.
    low, high = _same_float(value)
    if bound == "gte":
        near = list(range(value, high + 1))
        outer = models.range(key, gt=float(value))
    else:
        near = list(range(low, value))
        outer = models.range(key, lt=float(value))
    if not near:
        return outer
    return models.filter(should=[outer, models.match_any(key, near)])


def _equals(key: str, value: str | int | float | bool, models: FilterModels) -> Any:
    if isinstance(value, (str, bool)):
        return models.match(key, value)
    if isinstance(value, int) and abs(value) >= _EXACT_FLOAT_INT:
        return models.match(key, value)  # exact integer match: a range would be a float one
    # a closed range matches 3 stored as 3 or 3.0 (MatchValue(3) misses the float), never True
    return models.range(key, gte=float(value), lte=float(value))


def _same_float(value: int) -> tuple[int, int]:
    """The smallest and largest integers whose float equals float(value)."""
    target = float(value)
    step = int(math.ulp(target))
    low = high = value
    while float(low - 1) == target and value - low <= step:
        low -= 1
    while float(high + 1) == target and high - value <= step:
        high += 1
    return low, high
