"""Hybrid retrieval in LlamaIndex: its own QdrantVectorStore(enable_hybrid=True) with our
sparse_doc_fn / sparse_query_fn, and our JinaV3VectorStore(hybrid=True) through a real
VectorStoreIndex retriever on Qdrant Edge: keyword and hybrid retrieval find the literal code
the random dense vectors miss."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("llama_index.core")
pytest.importorskip("llama_index.vector_stores.qdrant")
pytest.importorskip("torch")

from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.schema import TextNode

from jina_v3.connectors.llama_index import JinaV3Embedding, JinaV3VectorStore, sparse_encoders
from jina_v3.errors import ConfigurationError
from jina_v3.index.keywords import encoder_for

TEXTS = {
    "code": "The printer reports error XJ-4471b after the paper jam.",
    "de": "Die Hauptstadt von Frankreich ist Paris.",
    "winter": "The weather in winter is cold and the trains are late.",
    "museum": "The city museum opens on Sundays at ten.",
    "market": "The market sells bread and cheese.",
}


def test_qdrant_vector_store_hybrid_with_our_sparse_functions(tiny_embedder) -> None:
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient, models

    embed_model = JinaV3Embedding(embedder=tiny_embedder, dimensions=32)
    doc_fn, query_fn = sparse_encoders(embed_model)
    indices, values = doc_fn([TEXTS["code"]])
    expected = encoder_for(tiny_embedder).documents([TEXTS["code"]])[0]
    assert indices == [list(expected.indices)] and values == [list(expected.values)]
    assert query_fn(["XJ-4471b"])[1] == [[1.0] * len(query_fn(["XJ-4471b"])[0][0])]

    store = QdrantVectorStore(
        "docs",
        client=QdrantClient(":memory:"),
        enable_hybrid=True,
        sparse_doc_fn=doc_fn,
        sparse_query_fn=query_fn,
        sparse_config=models.SparseVectorParams(modifier=models.Modifier.IDF),
    )
    nodes = [TextNode(text=text, id_=f"00000000-0000-0000-0000-00000000000{i}",
                      metadata={"name": name})
             for i, (name, text) in enumerate(TEXTS.items())]  # fmt: skip
    index = VectorStoreIndex(
        nodes, storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed_model,
    )  # fmt: skip
    dense = index.as_retriever(similarity_top_k=1).retrieve("XJ-4471b")
    assert dense[0].node.metadata["name"] != "code"  # random vectors: the dense side misses it
    sparse = index.as_retriever(vector_store_query_mode="sparse", sparse_top_k=2)
    assert sparse.retrieve("XJ-4471b")[0].node.metadata["name"] == "code"
    hybrid = index.as_retriever(
        vector_store_query_mode="hybrid", similarity_top_k=2, sparse_top_k=2
    ).retrieve("XJ-4471b")
    assert "code" in [n.node.metadata["name"] for n in hybrid]


# -- our JinaV3VectorStore: hybrid, sparse and text_search query modes ---------------------------


def _edge_index(tmp_path, name: str, embed_model, hybrid: bool) -> tuple[Any, Any]:
    pytest.importorskip("qdrant_edge")
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

    store = JinaV3VectorStore(
        QdrantEdgeStore(name, path=str(tmp_path)), embed_model=embed_model, hybrid=hybrid
    )
    nodes = [TextNode(text=text, id_=name, metadata={"name": name}) for name, text in TEXTS.items()]
    context = StorageContext.from_defaults(vector_store=store)
    return store, VectorStoreIndex(nodes, storage_context=context, embed_model=embed_model)


async def test_jina_vector_store_hybrid_retrieval_on_qdrant_edge(tiny_embedder, tmp_path) -> None:
    embed_model = JinaV3Embedding(embedder=tiny_embedder, dimensions=32)
    store, index = _edge_index(tmp_path, "docs", embed_model, hybrid=True)
    assert store.client.read_signature().keywords == store.keyword_encoder().identity
    dense = index.as_retriever(similarity_top_k=1).retrieve("XJ-4471b")
    assert dense[0].node.metadata["name"] != "code"  # random vectors: the dense side misses it
    for mode in ("sparse", "text_search"):
        found = index.as_retriever(vector_store_query_mode=mode, sparse_top_k=2).retrieve(
            "XJ-4471b"
        )
        assert found[0].node.metadata["name"] == "code" and found[0].score > found[1].score
    # the same hits and scores as the store's own hybrid search, alpha as (dense, keyword)
    vector = np.asarray(embed_model.get_query_embedding("XJ-4471b"), dtype=np.float32)
    terms = store.keyword_encoder().query("XJ-4471b")
    for alpha, weights in ((None, None), (0.25, (0.25, 0.75))):
        retriever = index.as_retriever(
            vector_store_query_mode="hybrid", similarity_top_k=3, alpha=alpha
        )
        for hits in (retriever.retrieve("XJ-4471b"), await retriever.aretrieve("XJ-4471b")):
            expected = store.client.query_hybrid(vector, terms, k=3, weights=weights)
            assert [h.node.metadata["name"] for h in hits] == [e.metadata["name"] for e in expected]
            assert [h.score for h in hits] == pytest.approx([e.score for e in expected])
            assert "code" in [h.node.metadata["name"] for h in hits[:2]]
            assert all(0 < h.score <= 1 for h in hits)
    store.close()


def test_jina_vector_store_without_the_channel_names_the_fix(tiny_embedder, tmp_path) -> None:
    embed_model = JinaV3Embedding(embedder=tiny_embedder, dimensions=32)
    store, index = _edge_index(tmp_path, "plain", embed_model, hybrid=False)
    for mode in ("hybrid", "sparse"):
        with pytest.raises(ConfigurationError, match=r"hybrid=True.*re-indexed"):
            index.as_retriever(vector_store_query_mode=mode).retrieve("XJ-4471b")
    with pytest.raises(ConfigurationError, match=r"alpha=1\.5"):
        index.as_retriever(vector_store_query_mode="hybrid", alpha=1.5).retrieve("XJ-4471b")
    store.close()
    with pytest.raises(ConfigurationError, match="embed_model"):
        JinaV3VectorStore(store.client, signature=store.signature, hybrid=True)
