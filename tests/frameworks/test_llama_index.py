"""LlamaIndex integration on real engines: VectorStoreIndex over LlamaIndex's QdrantVectorStore
and over JinaV3VectorStore on Milvus Lite, Pinecone (test server) and Qdrant Edge."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import ClassVar

import numpy as np
import pytest

pytest.importorskip("llama_index.core")
pytest.importorskip("torch")

from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.llms import MockLLM
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import MetadataMode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

from jina_v3 import (
    ConfigurationError,
    DimensionMismatchError,
    EmbeddingSignature,
    UnsupportedFilterError,
)
from jina_v3.connectors.llama_index import (
    JinaV3Embedding,
    JinaV3LateChunking,
    JinaV3VectorStore,
    check_vector_store,
    to_filter,
)
from tests.frameworks.conftest import CORPUS, DIMS, cosine, matching_query


@pytest.fixture
def embed_model(tiny_embedder):
    return JinaV3Embedding(embedder=tiny_embedder, dimensions=DIMS)


def _documents() -> list[Document]:
    # metadata kept out of the embedded text, so the vectors are those of the text alone
    return [
        Document(
            text=text,
            id_=doc_id,
            metadata={"lang": lang, "name": doc_id},
            excluded_embed_metadata_keys=["lang", "name"],
            excluded_llm_metadata_keys=["lang", "name"],
        )
        for doc_id, text, lang in CORPUS
    ]


# -- JinaV3Embedding ---------------------------------------------------------------------------


def test_query_and_text_sides_use_their_tasks(embed_model, tiny_embedder):
    texts = [text for _, text, _ in CORPUS]
    queries = tiny_embedder.encode_queries(texts[:2], dimensions=DIMS)
    passages = tiny_embedder.encode_passages(texts, dimensions=DIMS)
    np.testing.assert_allclose(embed_model.get_query_embedding(texts[0]), queries[0], atol=1e-6)
    np.testing.assert_allclose(embed_model.get_text_embedding(texts[1]), passages[1], atol=1e-6)
    np.testing.assert_allclose(embed_model.get_text_embedding_batch(texts), passages, atol=1e-6)
    assert not np.allclose(queries[0], passages[0], atol=1e-3)  # the tasks differ

    async def both():
        query = await embed_model.aget_query_embedding(texts[1])
        batch = await embed_model.aget_text_embedding_batch(texts)
        one = await embed_model.aget_text_embedding(texts[2])
        return query, batch, one

    query, batch, one = asyncio.run(both())
    np.testing.assert_allclose(query, queries[1], atol=1e-6)
    np.testing.assert_allclose(batch, passages, atol=1e-6)
    np.testing.assert_allclose(one, passages[2], atol=1e-6)


def test_async_batches_are_real_and_bounded(tiny_embedder):
    model = JinaV3Embedding(
        embedder=tiny_embedder, dimensions=DIMS, embed_batch_size=4, max_concurrency=2
    )

    class Spy:
        calls: ClassVar[list[int]] = []
        in_flight = peak = 0

        async def encode_passages(self, texts, **kwargs):
            Spy.calls.append(len(texts))
            Spy.in_flight += 1
            Spy.peak = max(Spy.peak, Spy.in_flight)
            await asyncio.sleep(0.02)
            Spy.in_flight -= 1
            return np.ones((len(texts), DIMS), np.float32)

    model._async = Spy()
    out = asyncio.run(model.aget_text_embedding_batch([f"text {i}" for i in range(20)]))
    assert len(out) == 20
    assert Spy.calls == [4] * 5  # one call per LlamaIndex batch, not one per text
    assert Spy.peak == 2  # at most max_concurrency in flight


def test_embedding_serialises_settings_never_the_key(monkeypatch):
    secret = "jina_" + uuid.uuid4().hex
    model = JinaV3Embedding(
        backend="api",
        api_key=secret,
        base_url="http://127.0.0.1:9/v1",
        timeout=3.0,
        max_retries=1,
        dimensions=256,
    )
    data = model.to_dict()
    assert data == {
        "model_name": "jina-embeddings-v3",
        "embed_batch_size": 32,
        "num_workers": None,
        "embeddings_cache": None,
        "backend": "api",
        "device": None,
        "dtype": None,
        "base_url": "http://127.0.0.1:9/v1",
        "timeout": 3.0,
        "max_retries": 1,
        "dimensions": 256,
        "truncate": False,
        "max_concurrency": 4,
        "class_name": "JinaV3Embedding",
    }
    assert JinaV3Embedding.from_dict(data).to_dict() == data
    assert JinaV3Embedding.from_json(model.to_json()).to_dict() == data
    for form in (json.dumps(data), model.to_json(), repr(model), str(model), str(model.dict())):
        assert secret not in form
    local = JinaV3Embedding("path/to/ckpt", device="cpu", dtype="float32")
    assert local.backend == "local" and local.to_dict()["model_name"] == "path/to/ckpt"


def test_a_built_embedding_pickles_with_the_key_variable_name_only(monkeypatch):
    import pickle

    secret = "jina_" + uuid.uuid4().hex
    monkeypatch.setenv("JINA_API_KEY", secret)
    model = JinaV3Embedding(backend="api", base_url="http://127.0.0.1:9/v1")
    assert model.embedder.backend.options.api_key.get() == secret  # built, from the variable
    data = pickle.dumps(model)
    assert secret.encode() not in data
    monkeypatch.setenv("JINA_API_KEY", "jina_rotated")
    assert pickle.loads(data).embedder.backend.options.api_key.get() == "jina_rotated"


def test_embedding_from_object_or_settings(tiny_embedder):
    with pytest.raises(ConfigurationError, match="not both"):
        JinaV3Embedding(embedder=tiny_embedder, device="cpu")
    with pytest.raises(ConfigurationError, match="not both"):
        JinaV3Embedding("m", embedder=tiny_embedder)
    with pytest.raises(ConfigurationError, match="only apply to backend='api'"):
        JinaV3Embedding(backend="local", api_key="k")
    with pytest.raises(ConfigurationError, match="only apply to backend='local'"):
        JinaV3Embedding(backend="api", dtype="float32")
    model = JinaV3Embedding(embedder=tiny_embedder)
    assert model.model_name == tiny_embedder.model_name and model.output_dimensions == 64
    model.close()  # a given embedder stays open
    assert tiny_embedder.encode_queries("open").shape == (64,)
    lazy = JinaV3Embedding("/nonexistent/checkpoint")  # construction does no I/O
    assert lazy._sync is None


def test_embedding_takes_model_and_refuses_unknown_keywords(tiny_model_path, tiny_embedder):
    # `model=` is what llama-index-embeddings-jinaai users write: honoured, not dropped
    # float32 like tiny_embedder: the default dtype is bf16 on CPUs with native bf16
    model = JinaV3Embedding(model=str(tiny_model_path), dimensions=DIMS, dtype="float32")
    assert model.model_name == str(tiny_model_path)
    np.testing.assert_allclose(
        model.get_query_embedding("Berlin"),
        tiny_embedder.encode_queries("Berlin", dimensions=DIMS),
        atol=1e-5,
    )
    model.close()
    with pytest.raises(ConfigurationError, match=r"model.*model_name"):
        JinaV3Embedding(model="a", model_name="b")
    with pytest.raises(ConfigurationError, match=r"'dimensoins'.*did you mean 'dimensions'"):
        JinaV3Embedding(dimensoins=DIMS)
    with pytest.raises(ConfigurationError, match=r"'batchsize'.*did you mean 'batch_size'"):
        JinaV3LateChunking(JinaV3Embedding(embedder=tiny_embedder), batchsize=4)


# -- late chunking -----------------------------------------------------------------------------


def _nodes() -> list[TextNode]:
    nodes = []
    for doc_id, text, _ in CORPUS:
        words, start = text.split(), 0
        for j in range(0, len(words), 4):
            chunk = " ".join(words[j : j + 4])
            start = text.index(chunk, start)
            node_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{doc_id}-{j}"))  # Qdrant: UUIDs
            node = TextNode(text=chunk, id_=node_id, start_char_idx=start)
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc_id)
            nodes.append(node)
    return nodes


def test_late_chunking_never_crosses_a_document(embed_model, tiny_embedder):
    transform = JinaV3LateChunking(embed_model, batch_size=6)
    nodes = _nodes()
    rng = np.random.default_rng(1)
    shuffled = [nodes[i].model_copy() for i in rng.permutation(len(nodes))]
    # shuffled: the sources interleave and each source's nodes come out of order
    together = {n.node_id: n.embedding for n in transform(shuffled)}
    async_nodes = asyncio.run(transform.acall([n.model_copy() for n in shuffled]))
    for node in async_nodes:
        np.testing.assert_array_equal(node.embedding, together[node.node_id])
    for doc_id, _, _ in CORPUS:
        members = [n.model_copy() for n in nodes if n.ref_doc_id == doc_id]
        alone = transform(members)
        direct = tiny_embedder.encode_late_chunked([[n.text for n in members]], dimensions=DIMS)
        for node, row in zip(alone, direct[0], strict=True):
            np.testing.assert_array_equal(together[node.node_id], node.embedding)
            np.testing.assert_allclose(node.embedding, row, atol=1e-6)
    lone = TextNode(text="No source at all.")
    transform([lone])
    single = tiny_embedder.encode_late_chunked([[lone.text]], dimensions=DIMS)[0][0]
    np.testing.assert_allclose(lone.embedding, single, atol=1e-6)


def test_late_chunking_drops_an_empty_node_and_keeps_its_document(
    tmp_path, embed_model, tiny_embedder, caplog
):
    nodes = _nodes()
    blank = TextNode(text=" ", id_="blank-node", start_char_idx=30)
    blank.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id="berlin")
    vector_store = STORES["qdrant-edge"](
        "lc-empty", tmp_path, None, embed_model, late_chunking=True
    )
    pipeline = IngestionPipeline(
        transformations=[JinaV3LateChunking(embed_model)], vector_store=vector_store
    )
    with caplog.at_level(logging.WARNING, logger="jina_v3.connectors"):
        out = pipeline.run(nodes=[*nodes, blank])
    assert [n.node_id for n in out] == [n.node_id for n in nodes]  # the blank one is dropped
    assert vector_store.client.count() == len(nodes)
    warnings = [r.getMessage() for r in caplog.records if r.name == "jina_v3.connectors"]
    assert len(warnings) == 1 and "'blank-node'" in warnings[0] and "'berlin'" in warnings[0]
    berlin = [n for n in out if n.ref_doc_id == "berlin"]
    direct = tiny_embedder.encode_late_chunked([[n.text for n in berlin]], dimensions=DIMS)
    np.testing.assert_allclose([n.embedding for n in berlin], direct[0], atol=1e-6)


# -- filters -----------------------------------------------------------------------------------


def test_metadata_filters_translate_to_the_dialect():
    filters = MetadataFilters(
        filters=[
            MetadataFilter(key="lang", value="en"),
            MetadataFilter(key="year", value=2020, operator=FilterOperator.GTE),
            MetadataFilters(
                filters=[
                    MetadataFilter(key="tag", value=["a", "b"], operator=FilterOperator.IN),
                    MetadataFilter(key="tag", value="c", operator=FilterOperator.CONTAINS),
                    MetadataFilter(key="n", value=["x"], operator=FilterOperator.NIN),
                    MetadataFilter(key="k", value=["p", "q"], operator=FilterOperator.ALL),
                ],
                condition=FilterCondition.OR,
            ),
        ]
    )
    assert to_filter(filters) == {
        "$and": [
            {"lang": {"$eq": "en"}},
            {"year": {"$gte": 2020}},
            {
                "$or": [
                    {"tag": {"$in": ["a", "b"]}},
                    {"tag": {"$eq": "c"}},
                    {"n": {"$nin": ["x"]}},
                    {"$and": [{"k": {"$eq": "p"}}, {"k": {"$eq": "q"}}]},
                ]
            },
        ]
    }
    with pytest.raises(UnsupportedFilterError, match="text_match"):
        to_filter(
            MetadataFilters(
                filters=[MetadataFilter(key="t", value="x", operator=FilterOperator.TEXT_MATCH)]
            )
        )
    with pytest.raises(UnsupportedFilterError, match="not"):
        to_filter(
            MetadataFilters(
                filters=[MetadataFilter(key="t", value="x")], condition=FilterCondition.NOT
            )
        )


# -- end to end on four stores -----------------------------------------------------------------


def _llama_qdrant(name, tmp_path, pinecone_env, embed_model):
    pytest.importorskip("llama_index.vector_stores.qdrant")
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    return QdrantVectorStore(collection_name=name, client=QdrantClient(":memory:"))


def _ours(make):
    def factory(name, tmp_path, pinecone_env, embed_model, **kw):
        return JinaV3VectorStore(make(name, tmp_path, pinecone_env), embed_model=embed_model, **kw)

    return factory


def _milvus(name, tmp_path, pinecone_env):
    pytest.importorskip("milvus_lite")
    from jina_v3.connectors.milvus import MilvusStore

    return MilvusStore(name.replace("-", "_"), uri=str(tmp_path / "m.db"))


def _pinecone(name, tmp_path, pinecone_env):
    from jina_v3.connectors.pinecone import PineconeStore

    return PineconeStore(
        name, api_key=pinecone_env.api_key, controller_host=pinecone_env.url, namespace="li"
    )


def _edge(name, tmp_path, pinecone_env):
    pytest.importorskip("qdrant_edge")
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

    return QdrantEdgeStore(name, path=tmp_path / "edge")


STORES = {
    "llama-qdrant": _llama_qdrant,
    "milvus": _ours(_milvus),
    "pinecone": _ours(_pinecone),
    "qdrant-edge": _ours(_edge),
}


@pytest.mark.parametrize("name", sorted(STORES))
def test_vector_store_index_retriever_and_query_engine(
    name, tmp_path, pinecone_env, embed_model, tiny_embedder
):
    vector_store = STORES[name](f"li-{uuid.uuid4().hex[:8]}", tmp_path, pinecone_env, embed_model)
    documents = _documents()
    index = VectorStoreIndex.from_documents(
        documents,
        storage_context=StorageContext.from_defaults(vector_store=vector_store),
        embed_model=embed_model,
    )
    texts = [d.text for d in documents]
    passages = tiny_embedder.encode_passages(texts, dimensions=DIMS)  # retrieval.passage
    target = matching_query(tiny_embedder, texts, passages)
    query_text = texts[target]
    query = tiny_embedder.encode_queries(query_text, dimensions=DIMS)  # retrieval.query
    by_text = dict(zip(texts, passages, strict=True))

    hits = index.as_retriever(similarity_top_k=5).retrieve(query_text)
    assert len(hits) == 5
    assert hits[0].node.ref_doc_id == documents[target].id_
    assert hits[0].node.get_content() == query_text
    assert hits[0].node.metadata == documents[target].metadata
    for hit in hits:
        assert hit.score == pytest.approx(cosine(query, by_text[hit.node.get_content()]), abs=1e-4)
    wrong_task = tiny_embedder.encode_passages(query_text, dimensions=DIMS)
    assert abs(cosine(wrong_task, passages[target]) - hits[0].score) > 1e-3

    other = "de" if documents[target].metadata["lang"] == "en" else "en"
    filters = MetadataFilters(filters=[MetadataFilter(key="lang", value=other)])
    filtered = index.as_retriever(similarity_top_k=5, filters=filters).retrieve(query_text)
    assert filtered and all(h.node.metadata["lang"] == other for h in filtered)
    best = max((i for i, d in enumerate(documents) if d.metadata["lang"] == other),
               key=lambda i: passages[i] @ query)  # fmt: skip
    assert filtered[0].node.get_content() == texts[best]

    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=2)
    response = engine.query(query_text)
    assert response.source_nodes[0].node.get_content() == query_text
    assert isinstance(response.response, str)

    if name != "llama-qdrant":  # async twins (QdrantVectorStore needs an AsyncQdrantClient)

        async def aretrieve():
            return await index.as_retriever(similarity_top_k=5).aretrieve(query_text)

        async_hits = asyncio.run(aretrieve())
        assert [h.node.node_id for h in async_hits] == [h.node.node_id for h in hits]
        np.testing.assert_allclose(
            [h.score for h in async_hits], [h.score for h in hits], atol=1e-5
        )

    # deleting a document removes its nodes
    index.delete_ref_doc(documents[target].id_)
    after = index.as_retriever(similarity_top_k=5).retrieve(query_text)
    assert len(after) == 4 and all(h.node.ref_doc_id != documents[target].id_ for h in after)


@pytest.mark.parametrize("name", ["milvus", "pinecone", "qdrant-edge"])
def test_ingestion_pipeline_with_late_chunking(
    name, tmp_path, pinecone_env, embed_model, tiny_embedder
):
    vector_store = STORES[name](
        f"lc-{uuid.uuid4().hex[:8]}", tmp_path, pinecone_env, embed_model, late_chunking=True
    )
    splitter = SentenceSplitter(chunk_size=8, chunk_overlap=0)
    pipeline = IngestionPipeline(
        transformations=[splitter, JinaV3LateChunking(embed_model)], vector_store=vector_store
    )

    async def ingest():
        return await pipeline.arun(documents=_documents())

    nodes = asyncio.run(ingest()) if name == "pinecone" else pipeline.run(documents=_documents())
    assert vector_store.client.count() == len(nodes) > len(CORPUS)
    assert vector_store.client.read_signature().late_chunking is True

    groups: dict[str, list] = {}
    for node in nodes:
        groups.setdefault(node.ref_doc_id, []).append(node)
    arrays = tiny_embedder.encode_late_chunked(
        [[n.get_content(metadata_mode=MetadataMode.NONE) for n in g] for g in groups.values()],
        dimensions=DIMS,
    )
    vectors = {
        n.node_id: row
        for g, a in zip(groups.values(), arrays, strict=True)
        for n, row in zip(g, a, strict=True)
    }
    texts = [n.get_content() for n in nodes]
    target = matching_query(tiny_embedder, texts, np.stack([vectors[n.node_id] for n in nodes]))
    query = tiny_embedder.encode_queries(texts[target], dimensions=DIMS)
    index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed_model)
    hits = index.as_retriever(similarity_top_k=3).retrieve(texts[target])
    assert hits[0].node.node_id == nodes[target].node_id
    for hit in hits:
        assert hit.score == pytest.approx(cosine(query, vectors[hit.node.node_id]), abs=1e-4)


# -- node-level operations and signature checks ------------------------------------------------


@pytest.mark.parametrize("name", ["milvus", "pinecone", "qdrant-edge"])
def test_nodes_delete_get_clear(name, tmp_path, pinecone_env, embed_model):
    vector_store = STORES[name](f"n-{uuid.uuid4().hex[:8]}", tmp_path, pinecone_env, embed_model)
    nodes = JinaV3LateChunking(embed_model)(_nodes())
    assert vector_store.add(nodes) == [n.node_id for n in nodes]
    store = vector_store.client
    assert store.count() == len(nodes)
    vector_store.delete_nodes([nodes[0].node_id, nodes[1].node_id])
    assert store.count() == len(nodes) - 2
    asyncio.run(vector_store.adelete("python"))
    left = len(nodes) - 2 - sum(n.ref_doc_id == "python" for n in nodes)
    assert store.count() == left
    query = VectorStoreQuery(
        query_embedding=nodes[5].embedding, similarity_top_k=3, doc_ids=["reef"]
    )
    result = vector_store.query(query)
    assert result.nodes and all(n.ref_doc_id == "reef" for n in result.nodes)
    if not hasattr(store, "fetch"):
        pytest.skip(f"{type(store).__name__} has no fetch() / clear() yet")
    got = vector_store.get_nodes([nodes[2].node_id, nodes[0].node_id])
    assert [n.node_id for n in got] == [nodes[2].node_id]
    assert got[0].get_content() == nodes[2].get_content()
    vector_store.clear()
    assert store.count() == 0


@pytest.mark.parametrize("name", sorted(STORES))
def test_dimension_mismatch(name, tmp_path, pinecone_env, embed_model, tiny_embedder):
    vector_store = STORES[name](f"d-{uuid.uuid4().hex[:8]}", tmp_path, pinecone_env, embed_model)
    nodes = JinaV3LateChunking(embed_model)(_nodes()[:4])
    vector_store.add(nodes)
    smaller = JinaV3Embedding(embedder=tiny_embedder, dimensions=16)
    with pytest.raises(DimensionMismatchError, match=r"32-d.*16-d|16-d.*32-d"):
        check_vector_store(vector_store, smaller)
    check_vector_store(vector_store, embed_model)
    if name == "llama-qdrant":
        return
    # a second index on the same collection with another size is refused, nothing written
    other = JinaV3VectorStore(
        vector_store.client, signature=EmbeddingSignature(tiny_embedder.model_name, 16)
    )
    small_nodes = JinaV3LateChunking(smaller)(_nodes()[4:6])
    with pytest.raises(DimensionMismatchError, match="dimensions=32"):
        other.add(small_nodes)
    with pytest.raises(DimensionMismatchError):
        other.query(VectorStoreQuery(query_embedding=[0.1] * 16, similarity_top_k=1))
    # and a 16-d node offered to the 32-d store is refused before any write
    with pytest.raises(DimensionMismatchError, match="16-d embedding"):
        vector_store.add(small_nodes)
    assert vector_store.client.count() == 4
