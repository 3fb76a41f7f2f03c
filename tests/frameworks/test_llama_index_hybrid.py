"""LlamaIndex's own QdrantVectorStore(enable_hybrid=True) with our sparse_doc_fn /
sparse_query_fn: keyword and hybrid retrieval find the literal code the random dense vectors
miss, with Qdrant's IDF."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_index.core")
pytest.importorskip("llama_index.vector_stores.qdrant")
pytest.importorskip("torch")

from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.schema import TextNode

from jina_v3.connectors.llama_index import JinaV3Embedding, sparse_encoders
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
