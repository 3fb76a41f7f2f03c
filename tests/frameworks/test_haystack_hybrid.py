"""Our sparse embedders in Haystack's QdrantDocumentStore(use_sparse_embeddings=True,
sparse_idf=True) with QdrantHybridRetriever and QdrantSparseEmbeddingRetriever: the literal
code the tiny checkpoint's random dense vectors miss is found by its keyword channel."""

from __future__ import annotations

import pytest

pytest.importorskip("haystack")
pytest.importorskip("haystack_integrations.document_stores.qdrant")
pytest.importorskip("torch")

from haystack import Document, Pipeline
from haystack.core.errors import SerializationError

from jina_v3.connectors.haystack import (
    JinaV3DocumentEmbedder,
    JinaV3SparseDocumentEmbedder,
    JinaV3SparseTextEmbedder,
    JinaV3TextEmbedder,
)
from jina_v3.errors import ConfigurationError
from jina_v3.index.keywords import encoder_for
from tests.conftest import TINY_MODEL

TEXTS = {
    "code": "The printer reports error XJ-4471b after the paper jam.",
    "de": "Die Hauptstadt von Frankreich ist Paris.",
    "winter": "The weather in winter is cold and the trains are late.",
    "museum": "The city museum opens on Sundays at ten.",
    "market": "The market sells bread and cheese.",
}
DIMS = 32


def test_sparse_embedders_feed_qdrants_hybrid_retriever(tiny_embedder) -> None:
    from haystack_integrations.components.retrievers.qdrant import (
        QdrantEmbeddingRetriever,
        QdrantHybridRetriever,
        QdrantSparseEmbeddingRetriever,
    )
    from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

    store = QdrantDocumentStore(
        ":memory:", embedding_dim=DIMS, use_sparse_embeddings=True, sparse_idf=True
    )
    docs = [Document(content=t, meta={"name": n}) for n, t in TEXTS.items()]
    sparse = JinaV3SparseDocumentEmbedder(TINY_MODEL)
    weighted = sparse.run(docs)["documents"]
    assert all(d.sparse_embedding is None for d in docs)  # inputs untouched
    expected = encoder_for(tiny_embedder).documents([TEXTS["code"]])[0]
    assert weighted[0].sparse_embedding.indices == list(expected.indices)
    dense = JinaV3DocumentEmbedder(embedder=tiny_embedder, dimensions=DIMS)
    store.write_documents(dense.run(weighted)["documents"])

    query = JinaV3TextEmbedder(embedder=tiny_embedder, dimensions=DIMS).run("XJ-4471b")
    terms = JinaV3SparseTextEmbedder(embedder=tiny_embedder).run("XJ-4471b")["sparse_embedding"]
    assert terms.values == [1.0] * len(terms.indices)
    by_dense = QdrantEmbeddingRetriever(store, top_k=1).run(query["embedding"])["documents"]
    assert by_dense[0].meta["name"] != "code"  # random vectors: the dense side misses it
    by_terms = QdrantSparseEmbeddingRetriever(store, top_k=1).run(terms)["documents"]
    assert by_terms[0].meta["name"] == "code"
    hybrid = QdrantHybridRetriever(store, top_k=2).run(query["embedding"], terms)["documents"]
    assert "code" in [d.meta["name"] for d in hybrid]


def test_sparse_embedders_serialise_and_check_their_input(tmp_path) -> None:
    text = JinaV3SparseTextEmbedder(TINY_MODEL / "tokenizer.json")
    data = text.to_dict()
    assert data["init_parameters"] == {"tokenizer": str(TINY_MODEL / "tokenizer.json")}
    pipeline = Pipeline()
    pipeline.add_component("terms", JinaV3SparseTextEmbedder.from_dict(data))
    again = Pipeline.loads(pipeline.dumps(), allowed_modules=["jina_v3.connectors.haystack"])
    result = again.run({"terms": {"text": "Berlin"}})["terms"]["sparse_embedding"]
    assert result.indices == text.run("Berlin")["sparse_embedding"].indices
    with pytest.raises(ConfigurationError, match="tokenizer="):
        JinaV3SparseTextEmbedder()
    with pytest.raises(ConfigurationError, match=r"no tokenizer\.json"):
        JinaV3SparseDocumentEmbedder(tmp_path).warm_up()
    with pytest.raises(TypeError, match="list of Documents"):
        JinaV3SparseDocumentEmbedder(TINY_MODEL).run(["text"])
    from jina_v3 import Embedder

    with pytest.raises(SerializationError, match="tokenizer="):
        JinaV3SparseTextEmbedder(embedder=Embedder.__new__(Embedder)).to_dict()
