"""Trust regressions on every store (real engines): a changed document's stored version
survives until its new version is written in full; a record the engine cannot hold is
skipped by name while the rest of its batch is written; a failed first run leaves no
collection that refuses the corrected one."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

from jina_v3.errors import StoreError
from jina_v3.index import VectorIndex
from jina_v3.store import Document

from .conftest import DIMS

VERSION_1 = [
    Document("notes.md", chunks=["one", "two", "three"], metadata={"v": 1}),
    Document("faq.jsonl#2", "plain answer", {"v": 1}),
]
VERSION_2 = [
    Document("notes.md", chunks=["uno", "dos"], metadata={"v": 2}),
    Document("faq.jsonl#2", "new answer", {"v": 2}),
]


def _stored(store: Any) -> set[tuple[str, int | None, str]]:
    hits = store.query(np.ones(DIMS, np.float32), k=50)
    return {(h.document_id, h.chunk_index, h.text) for h in hits}


def test_a_failed_write_keeps_every_stored_version(engine, make_store, tiny_embedder, monkeypatch):
    store = make_store()
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS, chunker=None)
    index.add(VERSION_1)
    before = _stored(store)
    assert len(before) == 4

    def refuse(items: Any, signature: Any) -> Any:
        raise StoreError("upsert on collection failed: the database went away")
        yield  # pragma: no cover

    monkeypatch.setattr(store, "_write", refuse)  # the engine fails the next write
    with pytest.raises(StoreError, match="went away"):
        index.add(VERSION_2)
    monkeypatch.undo()
    assert _stored(store) == before  # nothing deleted before the new version was written

    assert index.add(VERSION_2) == 3  # the re-run replaces them, stale chunks gone
    assert _stored(store) == {
        ("notes.md", 0, "uno"),
        ("notes.md", 1, "dos"),
        ("faq.jsonl#2", None, "new answer"),
    }
    assert index.add(VERSION_2) == 0 and store.count() == 3  # idempotent


def _unholdable(engine: str) -> Document:
    """A changed document whose metadata only this engine refuses."""
    if engine == "pinecone":
        return Document("faq.jsonl#2", "new answer", {"v": 2, "scores": [1, 2]})
    if engine.startswith("milvus"):
        return Document("x" * 70_000, "an id over the VARCHAR limit")
    pytest.skip("Qdrant holds any metadata the generic check lets through")


def test_a_record_the_engine_cannot_hold_is_skipped_by_name(
    engine, make_store, tiny_embedder, caplog
):
    store = make_store()
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS, chunker=None)
    index.add(VERSION_1)
    bad = _unholdable(engine)
    with caplog.at_level(logging.WARNING, logger="jina_v3"):
        summary = index.ingest([VERSION_2[0], bad])
    assert summary.refused == 1 and summary.replaced == 1 and "1 refused" in str(summary)
    (warning,) = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert repr(bad.id)[:60] in warning
    stored = _stored(store)
    assert ("notes.md", 0, "uno") in stored and ("notes.md", 1, "dos") in stored
    assert not {s for s in stored if s[0] == "notes.md" and s[2] in ("one", "two", "three")}
    assert ("faq.jsonl#2", None, "plain answer") in stored  # left as stored before
    assert store.count() == 3


def test_a_first_run_refused_by_the_api_does_not_bind_the_collection(
    engine, make_store, tiny_embedder
):
    from jina_v3 import Embedder
    from jina_v3.errors import AuthenticationError
    from tests._servers import FaultServer

    store = make_store()
    with FaultServer(dims=DIMS) as server:
        server.push(("status", 401, {}, "invalid API key"))
        api = Embedder(backend="api", api_key="wrong", base_url=server.url, max_retries=0)
        with pytest.raises(AuthenticationError):
            VectorIndex(api, store, dimensions=DIMS, chunker=None).add(VERSION_1)
        api.close()
    assert store.count() == 0

    corrected = VectorIndex(
        tiny_embedder, store, dimensions=DIMS // 2, chunker=None
    )  # the settings differ
    assert corrected.add(VERSION_1) == 4
    assert store.read_signature() == corrected.signature
    assert len(corrected.search("one", k=10)) == 4


def test_a_collection_with_data_is_still_refused(engine, make_store, tiny_embedder):
    from jina_v3.errors import DimensionMismatchError

    store = make_store()
    VectorIndex(tiny_embedder, store, dimensions=DIMS, chunker=None).add(VERSION_1)
    with pytest.raises(DimensionMismatchError):
        VectorIndex(tiny_embedder, store, dimensions=DIMS // 2, chunker=None).add(VERSION_1)
    assert store.count() == 4


def _uri(store: Any) -> str:
    kind = type(store).__name__
    if kind == "QdrantEdgeStore":
        return f"qdrant-edge:{store.root}"
    if kind == "QdrantStore":
        return f"qdrant:{store._path}"
    return f"milvus-lite:{store._uri}"


def test_a_store_another_process_holds_is_refused_in_one_line(
    engine, make_store, tiny_embedder, capfd
):
    from jina_v3.errors import StoreInUseError
    from tests._servers import hold_store

    if engine not in ("qdrant-path", "qdrant-edge", "milvus-lite"):
        pytest.skip("a server or an in-memory engine is not held by a process")
    name = f"held{engine.replace('-', '')}"
    first = make_store(name)
    VectorIndex(tiny_embedder, first, dimensions=DIMS, chunker=None).add(VERSION_1)
    first.close()
    second = make_store(name)
    with hold_store(_uri(first), name):
        capfd.readouterr()
        with pytest.raises(StoreInUseError, match=r"in use by another process \(a running"):
            VectorIndex.open(tiny_embedder, second).search("one")
        assert "Traceback" not in capfd.readouterr().err  # the engine logged nothing
    assert len(VectorIndex.open(tiny_embedder, second).search("one", k=10)) == 4  # released


def test_two_first_runs_on_one_edge_store_one_proceeds(fast_tmp, tiny_embedder):
    """In one process as across two: the shard's lock is taken before it is created."""
    pytest.importorskip("qdrant_edge")
    from jina_v3.errors import StoreInUseError
    from tests.connectors.conftest import FACTORIES

    first, second = (FACTORIES["qdrant-edge"]("docs", fast_tmp) for _ in range(2))
    index = VectorIndex(tiny_embedder, first, dimensions=DIMS, chunker=None)
    index.add(VERSION_1)
    with pytest.raises(StoreInUseError, match="in use by another process"):
        VectorIndex(tiny_embedder, second, dimensions=DIMS, chunker=None).add(VERSION_2)
    first.close()
    assert VectorIndex(tiny_embedder, second, dimensions=DIMS, chunker=None).add(VERSION_2) == 3
    assert second.count() == 3
    second.close()


def test_a_half_made_empty_edge_shard_is_adopted(fast_tmp, tiny_embedder):
    pytest.importorskip("qdrant_edge")
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

    with QdrantEdgeStore("docs", path=fast_tmp) as first:
        first.ensure_collection(
            VectorIndex(tiny_embedder, first, dimensions=DIMS, chunker=None).signature
        )
        first.signature_path.unlink()  # stopped between the shard and its signature
    with QdrantEdgeStore("docs", path=fast_tmp) as store:
        index = VectorIndex(tiny_embedder, store, dimensions=DIMS // 2, chunker=None)
        assert index.add(VERSION_1) == 4
        assert store.read_signature() == index.signature
