"""Incremental, resumable ingestion and the store operations the main job uses, on every
store: content hashes, replaced documents, interrupts, delete by filter, collections, and
indexes reopened from a collection's signature."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from jina_v3.errors import ConfigurationError, StoreError
from jina_v3.index import AsyncVectorIndex, VectorIndex
from jina_v3.progress import Progress
from jina_v3.sources import folders_of
from jina_v3.store import Document

from .conftest import DIMS


def _docs(n: int = 12, changed: int | None = None) -> list[Document]:
    docs = []
    for i in range(n):
        text = f"Passage {i} about topic {i % 3}." + (" Edited." if i == changed else "")
        if i % 4 == 0:
            docs.append(Document(f"d{i}", chunks=[text, f"More on {i}.", "The end."]))
        else:
            docs.append(Document(f"d{i}", text, {"source": f"s{i % 2}", "i": i}))
    return docs


def _state(store) -> list[tuple]:
    return sorted(
        (h.id, h.document_id, h.chunk_index, h.text, h.content_hash)
        for h in store.query([1.0] * DIMS, k=100)
    )


def test_reruns_skip_unchanged_and_replace_changed(engine, make_store, tiny_embedder):
    store = make_store()
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS, batch_size=5)
    first = index.ingest(_docs())
    assert (first.documents, first.indexed, first.unchanged, first.replaced) == (12, 12, 0, 0)
    assert first.points == store.count() == 18 and first.tokens > 0
    before = _state(store)
    again = index.ingest(_docs())
    assert (again.indexed, again.unchanged, again.replaced, again.points) == (0, 12, 0, 0)
    assert again.tokens == 0 and _state(store) == before  # nothing re-embedded or duplicated
    edited = index.ingest(_docs(changed=4))  # a chunked document changes
    assert (edited.indexed, edited.unchanged, edited.replaced, edited.points) == (0, 11, 1, 3)
    assert store.count() == 18
    texts = {h.text for h in store.query([1.0] * DIMS, k=100) if h.document_id == "d4"}
    assert texts == {"Passage 4 about topic 1. Edited.", "More on 4.", "The end."}
    assert index.add(_docs(changed=4)) == 0  # add() is the same pipeline


def test_an_interrupted_run_resumes_to_the_same_index(engine, make_store, tiny_embedder):
    clean = make_store()
    VectorIndex(tiny_embedder, clean, dimensions=DIMS, batch_size=4).ingest(_docs())
    store = make_store()
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS, batch_size=4)
    calls = []
    first = index.ingest(_docs(), stop=lambda: calls.append(1) or len(calls) >= 2)
    assert first.interrupted and 0 < first.documents < 12
    assert 0 < store.count() < 18  # the batches in flight were written, nothing half
    rest = index.ingest(_docs())
    assert rest.unchanged == first.documents and rest.indexed == 12 - first.documents
    strip = [row[:-1] for row in _state(store)]
    assert strip == [row[:-1] for row in _state(clean)]


async def test_async_ingest_skips_unchanged(engine, make_store, tiny_embedder):
    index = AsyncVectorIndex(tiny_embedder, make_store(), dimensions=DIMS, batch_size=5)
    assert (await index.ingest(_docs())).indexed == 12
    summary = await index.ingest(_docs(changed=1))
    assert (summary.unchanged, summary.replaced) == (11, 1)


def test_delete_by_filter_collections_and_reopen(engine, make_store, tiny_embedder):
    store = make_store()
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS)
    index.add(_docs())
    store.delete(filter={"source": "s1"})
    assert {h.metadata.get("source") for h in store.query([1.0] * DIMS, k=100)} == {"s0", None}
    assert store.collection.split("/")[0] in store.collections() or engine == "pinecone"
    reopened = VectorIndex.open(tiny_embedder, store)
    assert reopened.signature == index.signature
    assert reopened.search("topic 1", k=3)
    with pytest.raises(StoreError, match="does not exist"):
        VectorIndex.open(tiny_embedder, make_store())


def test_the_reader_filters_of_prune_and_delete_source(engine, make_store, tiny_embedder):
    """What `jina-v3 index --prune` and `delete --source` send, on every store: a list-valued
    field (a file's folders) matched by any element, with $nin and $or beside it."""

    def doc(source, line=None):
        name = source if line is None else f"{source}#{line}"
        metadata = {"source": source, "source_folders": folders_of(source)}
        return Document(name, f"Text of {name}.", metadata)

    store = make_store()
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS)
    docs = [doc("/r/a.md"), doc("/r/b.md"), doc("/r/sub/c.md"), doc("/rx/d.md"), doc("/o/e.md")]
    docs += [doc("/o/kb.jsonl", 1), doc("/o/kb.jsonl", 2)]
    assert docs[2].metadata["source_folders"] == ["/", "/r", "/r/sub"]
    index.add(docs)

    def stored():
        return sorted(h.document_id for h in store.query([1.0] * DIMS, k=100))

    store.delete(filter={"source_folders": "/r", "source": {"$nin": ["/r/a.md"]}})  # a root
    assert stored() == ["/o/e.md", "/o/kb.jsonl#1", "/o/kb.jsonl#2", "/r/a.md", "/rx/d.md"]
    store.delete(filter={"source": "/o/kb.jsonl", "document_id": {"$nin": ["/o/kb.jsonl#2"]}})
    assert stored() == ["/o/e.md", "/o/kb.jsonl#2", "/r/a.md", "/rx/d.md"]  # a .jsonl's lines
    store.delete(filter={"$or": [{"source": "/o"}, {"source_folders": "/o"}]})  # a folder
    assert stored() == ["/r/a.md", "/rx/d.md"]
    store.delete(filter={"$or": [{"source": "/r/a.md"}, {"source_folders": "/r/a.md"}]})
    assert stored() == ["/rx/d.md"]


def test_progress_counts_documents_chunks_and_tokens(tiny_embedder, engine, make_store):
    if engine != "qdrant-memory":
        pytest.skip("one engine is enough")
    out = io.StringIO()
    bar = Progress(12, mode="lines", stream=out, interval=0.0)
    summary = VectorIndex(tiny_embedder, make_store(), dimensions=DIMS).ingest(
        _docs(), progress=bar
    )
    bar.close(str(summary))
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("12 documents indexed, 0 skipped unchanged, 0 replaced: 18 chunks")
    assert "12/12 docs, 18 chunks" in lines[-2] and "tokens/s" in lines[-2]
    assert bar.tokens == summary.tokens > 0
    silent = io.StringIO()
    Progress(mode="off", stream=silent).close("nothing")
    assert silent.getvalue() == ""


def test_store_uris():
    pytest.importorskip("qdrant_client")
    from jina_v3.connectors.qdrant import QdrantStore
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore
    from jina_v3.connectors.uris import DEFAULT_STORE_URI, open_store

    assert isinstance(open_store("qdrant::memory:", "c"), QdrantStore)
    assert open_store("qdrant:./x", "c")._path == "./x"
    assert open_store("qdrant:http://localhost:6333", "c")._url == "http://localhost:6333"
    edge = open_store(DEFAULT_STORE_URI, "docs")
    assert isinstance(edge, QdrantEdgeStore) and str(edge.root) == ".jina-v3"
    pytest.importorskip("pymilvus")
    from jina_v3.connectors.milvus import MilvusStore

    assert isinstance(open_store("milvus-lite:./m.db", "c"), MilvusStore)
    assert open_store("milvus:http://127.0.0.1:19530", "c")._uri == "http://127.0.0.1:19530"
    for bad in ("qdrant", "nosuch:x", "milvus-lite:./m", "milvus:./m.db", "", "qdrant:"):
        with pytest.raises(ConfigurationError, match=r"qdrant-edge:\./DIR"):
            open_store(bad, "c")


@pytest.mark.parametrize(
    ("uri", "fix"),
    [
        ("qdrant:localhost:6333", "qdrant:http://localhost:6333"),
        ("qdrant://localhost:6333", "qdrant:http://localhost:6333"),
        ("qdrant:127.0.0.1:6333/", "qdrant:http://127.0.0.1:6333"),
        ("qdrant:[::1]:6333", "qdrant:http://[::1]:6333"),
        ("qdrant:grpc://db:6334", "qdrant:http://db:6334"),
        ("qdrant-edge:localhost:6333", "qdrant:http://localhost:6333"),
        ("qdrant-edge://data", "qdrant-edge:./DIR"),
        ("milvus://host:19530", "milvus:http://host:19530"),
        ("milvus:tcp://host:19530", "milvus:http://host:19530"),
        ("milvus-lite:localhost:19530", "milvus:http://localhost:19530"),
        ("milvus-lite://m.db", "milvus-lite:./m.db"),
        ("pinecone://my-index", "pinecone:INDEX"),
    ],
)
def test_store_uris_that_look_like_servers_are_refused(uri, fix, tmp_path, monkeypatch):
    from jina_v3.connectors.uris import open_store

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="looks like a server") as err:
        open_store(uri, "c")
    assert fix in str(err.value)
    assert list(tmp_path.iterdir()) == []  # no folder or file named after the address


def test_local_store_paths_still_open(tmp_path):
    pytest.importorskip("qdrant_client")
    pytest.importorskip("pymilvus")
    from jina_v3.connectors.uris import open_store

    for uri, attribute, where in (
        ("qdrant:./localhost:6333", "_path", "./localhost:6333"),  # a folder, said so
        (f"qdrant:{tmp_path}/q", "_path", f"{tmp_path}/q"),
        (f"qdrant-edge:{tmp_path}/e", "root", tmp_path / "e"),
        ("qdrant-edge:./x", "root", Path("x")),
        (f"milvus-lite:{tmp_path}/m.db", "_uri", f"{tmp_path}/m.db"),
    ):
        assert getattr(open_store(uri, "c"), attribute) == where, uri
