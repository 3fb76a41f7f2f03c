"""LangChain's store on collections it did not write, under concurrent first use, and opened
from a store URI: the ids search returns work with ``get_by_ids`` and ``delete`` on a
collection ``VectorIndex`` wrote (chunk points included); ``delete()`` empties the collection
only when asked to; 20 concurrent first ``aadd_texts`` all succeed on every embedded engine;
``from_texts`` takes a store URI or the CLI's default store."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("torch")

from jina_v3 import (
    AsyncVectorIndex,
    ConfigurationError,
    DimensionMismatchError,
    Document,
    JinaV3Error,
    VectorIndex,
)
from jina_v3.connectors.langchain import JinaV3Embeddings, JinaV3VectorStore
from jina_v3.connectors.uris import DEFAULT_COLLECTION
from jina_v3.index.store import point_id
from tests.connectors import _milvus_pinecone as milvus_pinecone
from tests.frameworks.conftest import DIMS


@pytest.fixture(scope="module", autouse=True)
def _stop_servers():
    yield
    milvus_pinecone.cleanup()


@pytest.fixture
def embeddings(tiny_embedder):
    return JinaV3Embeddings(embedder=tiny_embedder, dimensions=DIMS)


def _qdrant_memory(name, tmp_path):
    from jina_v3.connectors.qdrant import QdrantStore

    return QdrantStore(name, location=":memory:")


def _qdrant_local(name, tmp_path):
    from jina_v3.connectors.qdrant import QdrantStore

    return QdrantStore(name, path=str(tmp_path / "qdrant"))


def _edge(name, tmp_path):
    pytest.importorskip("qdrant_edge")
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

    return QdrantEdgeStore(name, path=tmp_path / "edge")


STORES = {
    "qdrant": _qdrant_memory,
    "qdrant-edge": _edge,
    "milvus-lite": milvus_pinecone.FACTORIES["milvus-lite"],
    "pinecone": milvus_pinecone.FACTORIES["pinecone"],
}
#: The embedded engines, on disk: where concurrent first use raced.
EMBEDDED = {
    "qdrant-local": _qdrant_local,
    "qdrant-edge": _edge,
    "milvus-lite": milvus_pinecone.FACTORIES["milvus-lite"],
}


def _name() -> str:
    return f"lc_{uuid.uuid4().hex[:10]}"


# -- item 8: the ids search returns, on a collection the index wrote ---------------------------

GUIDE = ["Berlin is the capital of Germany.", "It is its largest city.", "Its river is the Spree."]
WHOLE = "Mount Everest is the highest mountain above sea level."


@pytest.mark.parametrize("name", sorted(STORES))
def test_ids_from_search_work_on_an_index_written_collection(name, tmp_path, embeddings):
    store = STORES[name](_name(), tmp_path)
    index = VectorIndex(embeddings.embedder, store, dimensions=DIMS, chunker=None)
    index.add([Document("guide", chunks=GUIDE, metadata={"lang": "en"}), Document("peak", WHOLE)])
    vectorstore = JinaV3VectorStore(store, embeddings)

    found = vectorstore.similarity_search("Berlin", k=10)
    assert sorted(d.page_content for d in found) == sorted([*GUIDE, WHOLE])
    chunks = [d for d in found if d.page_content in GUIDE]
    (whole,) = [d for d in found if d.page_content == WHOLE]
    assert whole.id == "peak"  # a whole document: its own id
    assert {d.metadata["document_id"] for d in chunks} == {"guide"}  # a chunk: its point's id
    assert sorted(d.metadata["chunk_index"] for d in chunks) == [0, 1, 2]

    # get_by_ids gives back exactly the Documents search returned, in the asked order
    asked = [whole.id, *(d.id for d in reversed(chunks)), "missing"]
    assert vectorstore.get_by_ids(asked) == [whole, *reversed(chunks)]
    assert asyncio.run(vectorstore.aget_by_ids([chunks[0].id])) == [chunks[0]]

    # delete removes what the id names: one chunk, then the whole document
    assert vectorstore.delete([chunks[0].id]) is True
    assert store.count() == 3 and vectorstore.get_by_ids([chunks[0].id]) == []
    assert asyncio.run(vectorstore.adelete([whole.id, "missing"])) is True
    assert store.count() == 2
    remaining = {d.id for d in vectorstore.similarity_search("Berlin", k=10)}
    assert remaining == {d.id for d in chunks[1:]}
    vectorstore.close()


def test_a_chunk_id_never_reaches_another_document(tmp_path, embeddings):
    """A LangChain document added under the id of an index's chunk is its own document:
    get_by_ids and delete name it, and the chunk stays where it was."""
    store = _qdrant_memory(_name(), tmp_path)
    VectorIndex(embeddings.embedder, store, dimensions=DIMS, chunker=None).add(
        [Document("guide", chunks=GUIDE)]
    )
    vectorstore = JinaV3VectorStore(store, embeddings)
    chunk = vectorstore.similarity_search("Berlin", k=1)[0]
    vectorstore.add_texts(["A note under the chunk's id."], ids=[chunk.id])
    assert store.count() == 4
    (got,) = vectorstore.get_by_ids([chunk.id])
    assert got.page_content == "A note under the chunk's id."
    vectorstore.delete([chunk.id])
    assert store.count() == 3  # the note is gone
    assert vectorstore.get_by_ids([chunk.id]) == [chunk]  # the chunk, named by the same id
    vectorstore.close()


def test_delete_without_ids_needs_delete_all(tmp_path, embeddings):
    vectorstore = JinaV3VectorStore(_edge(_name(), tmp_path), embeddings)
    vectorstore.add_texts(["Berlin is big.", "Paris is old."], ids=["b", "p"])
    for refused in (vectorstore.delete, lambda: asyncio.run(vectorstore.adelete())):
        with pytest.raises(ConfigurationError, match=r"delete_all=True"):
            refused()
    assert vectorstore.store.count() == 2  # nothing lost
    with pytest.raises(ConfigurationError, match="not both"):
        vectorstore.delete(["b"], delete_all=True)
    with pytest.raises(ConfigurationError, match="not one string"):
        vectorstore.delete("bp")  # not the documents "b" and "p"
    assert vectorstore.store.count() == 2
    assert vectorstore.delete(delete_all=True) is True
    assert vectorstore.store.count() == 0
    vectorstore.add_texts(["Rome is older."], ids=["r"])
    assert asyncio.run(vectorstore.adelete(delete_all=True)) is True
    assert vectorstore.store.count() == 0
    vectorstore.close()


# -- item 13: concurrent first use -------------------------------------------------------------

CALLS = 20


async def _add_concurrently(vectorstore, prefix="text"):
    return await asyncio.gather(
        *(vectorstore.aadd_texts([f"{prefix} {i}"], ids=[f"id{i}"]) for i in range(CALLS)),
        return_exceptions=True,
    )


def _assert_all_stored(vectorstore, results, prefix="text"):
    failed = [r for r in results if isinstance(r, BaseException)]
    assert not failed, failed[:3]
    assert vectorstore.store.count() == CALLS
    got = vectorstore.get_by_ids([f"id{i}" for i in range(CALLS)])
    assert [d.page_content for d in got] == [f"{prefix} {i}" for i in range(CALLS)]


@pytest.mark.parametrize("name", sorted(EMBEDDED))
def test_concurrent_first_aadd_texts_all_succeed(name, tmp_path, embeddings):
    vectorstore = JinaV3VectorStore(EMBEDDED[name](_name(), tmp_path), embeddings)
    _assert_all_stored(vectorstore, asyncio.run(_add_concurrently(vectorstore)))
    vectorstore.close()


@pytest.mark.parametrize("name", sorted(EMBEDDED))
def test_concurrent_writes_on_an_existing_collection(name, tmp_path, embeddings):
    collection = _name()
    first = JinaV3VectorStore(EMBEDDED[name](collection, tmp_path), embeddings)
    first.add_texts(["already there"], ids=["old"])
    first.close()
    # recreate=True: dropped once, by the first call; the other 19 wait for it and write
    again = JinaV3VectorStore(EMBEDDED[name](collection, tmp_path), embeddings, recreate=True)
    _assert_all_stored(again, asyncio.run(_add_concurrently(again)))
    # then 20 more concurrent writes on the existing collection, replacing those
    results = asyncio.run(_add_concurrently(again, "again"))
    _assert_all_stored(again, results, "again")
    again.close()


def test_qdrant_local_mode_takes_one_caller_at_a_time(tmp_path, embeddings):
    """Qdrant's local mode is not thread-safe: concurrent writes on an existing collection
    (each async call in its own worker thread) take turns, and none is lost."""
    vectorstore = JinaV3VectorStore(_qdrant_local(_name(), tmp_path), embeddings)
    vectorstore.add_texts(["already there"], ids=["old"])

    async def add_round(r: int) -> list[object]:
        return await asyncio.gather(
            *(
                vectorstore.aadd_texts(
                    [f"round {r} call {i} text {j}" for j in range(5)],
                    ids=[f"{r}-{i}-{j}" for j in range(5)],
                )
                for i in range(CALLS)
            ),
            return_exceptions=True,
        )

    for r in range(5):
        failed = [x for x in asyncio.run(add_round(r)) if isinstance(x, BaseException)]
        assert not failed, failed[:3]
    assert vectorstore.store.count() == 1 + 5 * CALLS * 5
    vectorstore.close()


def test_concurrent_first_add_texts_from_threads(tmp_path, embeddings):
    vectorstore = JinaV3VectorStore(_qdrant_local(_name(), tmp_path), embeddings)
    results: list[object] = []

    def add(i: int) -> None:
        try:
            results.append(vectorstore.add_texts([f"text {i}"], ids=[f"id{i}"]))
        except Exception as exc:  # reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(CALLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _assert_all_stored(vectorstore, results)
    vectorstore.close()


@pytest.mark.parametrize("name", sorted(EMBEDDED))
def test_concurrent_first_ensure_collection_on_one_store(name, tmp_path, embeddings):
    """Every caller of a store benefits: its collection is created once, the other concurrent
    callers find it made (with the signature they asked for)."""
    store = EMBEDDED[name](_name(), tmp_path)
    signature = JinaV3VectorStore(store, embeddings).signature

    async def ensure_all():
        return await asyncio.gather(
            *(store.aensure_collection(signature) for _ in range(CALLS)), return_exceptions=True
        )

    assert asyncio.run(ensure_all()) == [None] * CALLS
    assert store.read_signature() == signature
    store.close()


@pytest.mark.parametrize("name", sorted(EMBEDDED))
def test_concurrent_first_adds_of_the_async_index(name, tmp_path, tiny_embedder):
    collection = _name()
    store = EMBEDDED[name](collection, tmp_path)
    VectorIndex(tiny_embedder, store, dimensions=DIMS, chunker=None).add([Document("old", "x")])
    store.close()
    # recreate=True: the first add drops the collection once; the other 19 wait for it
    store = EMBEDDED[name](collection, tmp_path)
    index = AsyncVectorIndex(tiny_embedder, store, dimensions=DIMS, chunker=None, recreate=True)

    async def add_all():
        return await asyncio.gather(
            *(index.add([Document(f"d{i}", f"text {i}")]) for i in range(CALLS)),
            return_exceptions=True,
        )

    assert asyncio.run(add_all()) == [1] * CALLS
    assert store.count() == CALLS and not store.fetch([point_id("old")])
    store.close()


# -- item 19d: from_texts on a store URI, or the default store ---------------------------------


def test_from_texts_takes_a_store_uri(tmp_path, embeddings):
    uri = f"qdrant-edge:{tmp_path / 'edge'}"
    vectorstore = JinaV3VectorStore.from_texts(
        ["Berlin is big.", "Paris is old."], embeddings, ids=["b", "p"], store=uri,
        collection="cities",
    )  # fmt: skip
    assert type(vectorstore.store).__name__ == "QdrantEdgeStore"
    assert vectorstore.store.collection == "cities"
    assert {d.id for d in vectorstore.similarity_search("Berlin", k=2)} == {"b", "p"}
    vectorstore.close()

    async def from_uri():
        return await JinaV3VectorStore.afrom_texts(
            ["Rome is older."], embeddings, ids=["r"], store=uri, collection="cities"
        )

    again = asyncio.run(from_uri())  # the same collection, opened again from its URI
    assert again.store.count() == 3
    again.close()

    # refused (other settings): nothing lost
    smaller = JinaV3Embeddings(embedder=embeddings.embedder, dimensions=DIMS // 2)
    with pytest.raises(DimensionMismatchError):
        JinaV3VectorStore.from_texts(["x"], smaller, store=uri, collection="cities")
    # failed after the store was opened (the shard created, then no API to embed with): the
    # store it opened is closed again, so its files are not left locked
    unreachable = JinaV3Embeddings(
        api_key="k", base_url="http://127.0.0.1:9", dimensions=DIMS, max_retries=0
    )
    with pytest.raises(JinaV3Error):
        JinaV3VectorStore.from_texts(["x"], unreachable, store=uri, collection="fresh")
    third = JinaV3VectorStore.from_texts(["y"], embeddings, store=uri, collection="fresh")
    assert third.store.count() == 1
    third.close()


def test_from_texts_defaults_to_the_cli_store(tmp_path, monkeypatch, embeddings):
    monkeypatch.chdir(tmp_path)
    vectorstore = JinaV3VectorStore.from_texts(["Berlin is big."], embeddings, ids=["b"])
    assert vectorstore.store.collection == DEFAULT_COLLECTION
    assert vectorstore.get_by_ids(["b"])[0].page_content == "Berlin is big."
    vectorstore.close()
    assert (tmp_path / ".jina-v3" / DEFAULT_COLLECTION).is_dir()  # where `jina-v3 search` looks


def test_from_texts_refuses_unclear_stores(tmp_path, embeddings):
    with pytest.raises(ConfigurationError, match=r"store='qdrant:localhost:6333'.*qdrant:http"):
        JinaV3VectorStore.from_texts(["a"], embeddings, store="qdrant:localhost:6333")
    with pytest.raises(ConfigurationError, match=r"store='nowhere' is not a store URI"):
        JinaV3VectorStore.from_texts(["a"], embeddings, store="nowhere")
    with pytest.raises(ConfigurationError, match="collection="):
        JinaV3VectorStore.from_texts(
            ["a"], embeddings, store=_qdrant_memory("c", tmp_path), collection="other"
        )
    with pytest.raises(ConfigurationError, match="jina_v3 store"):
        JinaV3VectorStore.from_texts(["a"], embeddings, store=object())
