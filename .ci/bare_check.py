"""With the core dependencies only (numpy, httpx): the package imports, the API backend builds,
and the local backend and every connector name the pip extra they miss."""

import importlib

from jina_v3 import Embedder, MissingDependencyError

embedder = Embedder(backend="api", api_key="ci-key")  # no request is made at construction
assert embedder.max_dimensions == 1024, embedder.max_dimensions

checks = [
    ("local", lambda: Embedder("tests/fixtures/tiny-v3")),
    ("qdrant", lambda: _store("qdrant", "QdrantStore")("c", location=":memory:")),
    ("qdrant-edge", lambda: _store("qdrant_edge", "QdrantEdgeStore")("c", path="unused")),
    ("milvus", lambda: _store("milvus", "MilvusStore")("c", uri="x.db")),
    ("pinecone", lambda: _store("pinecone", "PineconeStore")("i", api_key="k")),
    ("formats", lambda: importlib.import_module("jina_v3.index.formats").to_markdown("a.pdf", b"")),
    ("mcp", lambda: importlib.import_module("jina_v3.cli.mcp").run_mcp(None)),
]


def _store(module: str, name: str):  # type: ignore[no-untyped-def]
    return getattr(importlib.import_module(f"jina_v3.connectors.{module}"), name)


for extra, build in checks:
    try:
        build()
    except MissingDependencyError as exc:
        assert f"jina-v3-connectors[{extra}]" in str(exc), str(exc)
    else:
        raise AssertionError(f"without the {extra!r} extra, construction should fail")
print(f"bare install: 1 API embedder built, {len(checks)} missing extras named")
