"""Small helpers of the database connectors: lazy imports, argument checks, error wrapping."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from jina_v3.errors import ConfigurationError, JinaV3Error, MissingDependencyError, StoreError
from jina_v3.index.store import check_text

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


def as_str_ids(ids: Sequence[str] | None, name: str) -> list[str]:
    if ids is None:
        return []
    if isinstance(ids, str):
        ids = [ids]
    out = list(ids)
    for i in out:
        if not isinstance(i, str):
            raise ConfigurationError(f"{name} must be strings, got {type(i).__name__} {i!r}")
        check_text(i, name)
    return out


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
