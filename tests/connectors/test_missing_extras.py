"""Every connector imports its client lazily and names the pip extra that is missing."""

from __future__ import annotations

import sys

import pytest

from jina_v3.errors import MissingDependencyError


@pytest.mark.parametrize(
    ("blocked", "make", "extra"),
    [
        ("pymilvus", lambda: _store("milvus", "MilvusStore")("c", uri="x.db"), "milvus"),
        ("pinecone", lambda: _store("pinecone", "PineconeStore")("i", api_key="k"), "pinecone"),
        ("qdrant_client", lambda: _store("qdrant", "QdrantStore")("c", location=":memory:"),
         "qdrant"),
        ("qdrant_edge", lambda: _store("qdrant_edge", "QdrantEdgeStore")("c", path="unused"),
         "qdrant-edge"),
    ],
)  # fmt: skip
def test_missing_client_names_the_extra(monkeypatch, blocked, make, extra):
    for name in [m for m in sys.modules if m == blocked or m.startswith(blocked + ".")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, blocked, None)
    with pytest.raises(MissingDependencyError) as info:
        make()
    assert f"pip install 'jina-v3-connectors[{extra}]'" in str(info.value)
    assert isinstance(info.value, ImportError)


def _store(module: str, name: str):  # type: ignore[no-untyped-def]
    import importlib

    return getattr(importlib.import_module(f"jina_v3.connectors.{module}"), name)
