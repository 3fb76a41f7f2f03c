"""Helpers shared by the database connectors: lazy imports, argument checks, error wrapping."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from jina_v3.errors import (
    ConfigurationError,
    JinaV3Error,
    MissingDependencyError,
    StoreError,
    UnsupportedFilterError,
)
from jina_v3.filters import FilterNode, parse_filter

#: Metadata key under which connectors store the embedding signature (and store layout).
SIGNATURE_KEY = "jina_v3_signature"
LAYOUT_KEY = "jina_v3_layout"


def require(module: str, extra: str, package: str) -> ModuleType:
    """Import `module`, or raise MissingDependencyError naming the pip extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{package} is not installed; run `pip install 'jina-v3-connectors[{extra}]'`."
        ) from exc


def one_of(**sources: Any) -> str:
    """The name of the only source given (not None), or a ConfigurationError naming them."""
    given = [name for name, value in sources.items() if value is not None]
    if len(given) != 1:
        names = ", ".join(sources)
        got = ", ".join(given) if given else "none"
        raise ConfigurationError(f"Pass exactly one of {names} (got {got}).")
    return given[0]


def check_funnel(funnel_dimensions: int | None) -> int | None:
    if funnel_dimensions is None:
        return None
    if (
        isinstance(funnel_dimensions, bool)
        or not isinstance(funnel_dimensions, int)
        or funnel_dimensions < 1
    ):
        raise ConfigurationError(
            f"funnel_dimensions must be a positive integer or None, got {funnel_dimensions!r}"
        )
    return funnel_dimensions


def check_positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return value


#: Payload index types the Qdrant stores accept in ``payload_indexes``.
PAYLOAD_INDEX_TYPES = ("keyword", "integer", "float", "bool")


def check_payload_indexes(indexes: Mapping[str, str] | None) -> dict[str, str]:
    if indexes is None:
        return {}
    if not isinstance(indexes, Mapping):
        raise ConfigurationError("payload_indexes must be a dict of field name -> index type")
    for field, kind in indexes.items():
        if not isinstance(field, str) or not field or kind not in PAYLOAD_INDEX_TYPES:
            raise ConfigurationError(
                f"payload_indexes[{field!r}] = {kind!r}: use one of "
                f"{', '.join(PAYLOAD_INDEX_TYPES)}"
            )
    return dict(indexes)


def filter_tree(filter: Mapping[str, Any]) -> FilterNode:
    """Parse a Mongo-style filter dict (typed UnsupportedFilterError otherwise)."""
    return parse_filter(filter)


def unsupported_filter(filter: Any, native: str) -> UnsupportedFilterError:
    return UnsupportedFilterError(
        f"filter must be a Mongo-style dict or a {native}, got {type(filter).__name__}"
    )


@contextmanager
def wrap_errors(operation: str, collection: str) -> Iterator[None]:
    """Re-raise a database client's exception as StoreError naming the operation and collection."""
    try:
        yield
    except JinaV3Error:
        raise
    except Exception as exc:
        raise StoreError(
            f"{operation} on collection {collection!r} failed: {type(exc).__name__}: "
            f"{str(exc)[:300]}"
        ) from exc


def as_str_ids(ids: Sequence[str] | None) -> list[str]:
    if ids is None:
        return []
    if isinstance(ids, str):
        return [ids]
    return [str(i) for i in ids]
