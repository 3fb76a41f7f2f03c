"""Hybrid retrieval in LangChain: langchain-qdrant's own QdrantVectorStore in HYBRID mode with
JinaV3SparseEmbeddings, and our JinaV3VectorStore(hybrid=True) on Qdrant Edge and Qdrant:
keyword and hybrid search find the literal code the random dense vectors of the tiny checkpoint
miss."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("torch")

from langchain_core.documents import Document

from jina_v3.connectors.langchain import JinaV3Embeddings, JinaV3VectorStore
from jina_v3.errors import ConfigurationError
from jina_v3.index.keywords import encoder_for

TEXTS = {
    "code": "The printer reports error XJ-4471b after the paper jam.",
    "zh": "北京是中国的首都，故宫在城市中心。",
    "de": "Die Hauptstadt von Frankreich ist Paris.",
    "winter": "The weather in winter is cold and the trains are late.",
    "museum": "The city museum opens on Sundays at ten.",
    "market": "The market sells bread and cheese.",
}
DOCUMENTS = [Document(page_content=t, metadata={"name": n}) for n, t in TEXTS.items()]
# the tiny checkpoint's tokenizer has few CJK pieces: a literal code is its exact-term case
CODE = "XJ-4471b"


@pytest.fixture
def embeddings(tiny_embedder):
    return JinaV3Embeddings(embedder=tiny_embedder, dimensions=32)


def _names(documents) -> list[str]:
    return [d.metadata["name"] for d in documents]


def test_langchain_qdrant_hybrid_with_our_sparse_embeddings(embeddings, tiny_embedder) -> None:
    pytest.importorskip("langchain_qdrant")
    from langchain_qdrant import QdrantVectorStore, RetrievalMode, SparseEmbeddings
    from qdrant_client import models

    from jina_v3.connectors.langchain import JinaV3SparseEmbeddings

    sparse = JinaV3SparseEmbeddings(embeddings)
    assert isinstance(sparse, SparseEmbeddings)
    expected = encoder_for(tiny_embedder).documents([TEXTS["code"]])[0]
    vector = sparse.embed_documents([TEXTS["code"]])[0]
    assert (vector.indices, vector.values) == (list(expected.indices), list(expected.values))
    query = sparse.embed_query(CODE)
    assert query.indices and query.values == [1.0] * len(query.indices)

    common = {"location": ":memory:", "embedding": embeddings, "sparse_embedding": sparse}
    idf = {"modifier": models.Modifier.IDF}
    stores = {
        mode: QdrantVectorStore.from_documents(
            DOCUMENTS, collection_name=mode.value, retrieval_mode=mode,
            sparse_vector_params=idf, **common,
        )
        for mode in RetrievalMode
    }  # fmt: skip
    hybrid = stores[RetrievalMode.HYBRID]
    params = hybrid.client.get_collection("hybrid").config.params.sparse_vectors
    assert params[hybrid.sparse_vector_name].modifier == models.Modifier.IDF
    dense = stores[RetrievalMode.DENSE].similarity_search(CODE, k=1)
    assert _names(dense) != ["code"]  # random vectors: the dense side misses it
    assert _names(stores[RetrievalMode.SPARSE].similarity_search(CODE, k=1)) == ["code"]
    assert "code" in _names(hybrid.similarity_search(CODE, k=2))
    retriever = hybrid.as_retriever(search_kwargs={"k": 2})
    assert "code" in _names(retriever.invoke(CODE))


async def test_langchain_qdrant_sparse_embeddings_async(embeddings) -> None:
    pytest.importorskip("langchain_qdrant")
    from jina_v3.connectors.langchain import JinaV3SparseEmbeddings

    sparse = JinaV3SparseEmbeddings(embeddings)
    assert await sparse.aembed_query(CODE) == sparse.embed_query(CODE)
    assert await sparse.aembed_documents(list(TEXTS.values())) == sparse.embed_documents(
        list(TEXTS.values())
    )


# -- our JinaV3VectorStore(hybrid=True) ----------------------------------------------------------


def _edge(name, tmp_path):
    pytest.importorskip("qdrant_edge")
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

    return QdrantEdgeStore(name, path=str(tmp_path / name))


def _qdrant(name, tmp_path):
    from jina_v3.connectors.qdrant import QdrantStore

    return QdrantStore(name, location=":memory:")


@pytest.mark.parametrize("factory", [_edge, _qdrant], ids=["qdrant-edge", "qdrant"])
async def test_jina_vector_store_keyword_and_hybrid_search(embeddings, tmp_path, factory) -> None:
    store = JinaV3VectorStore(factory("docs", tmp_path), embeddings, hybrid=True)
    store.add_documents(DOCUMENTS, ids=list(TEXTS))
    assert store.store.read_signature().keywords == store.keyword_encoder().identity
    assert _names(store.similarity_search(CODE, k=1)) != ["code"]  # random vectors miss it
    found = store.similarity_search_with_score(CODE, k=2, mode="keyword")
    assert _names(d for d, _ in found)[0] == "code" and found[0][1] > found[1][1]
    # the same hits and scores as the store's own hybrid search, sync, async and retriever
    vector = np.asarray(embeddings.embed_query(CODE), dtype=np.float32)
    terms = store.keyword_encoder().query(CODE)
    for weights in (None, (0.25, 0.75)):
        expected = store.store.query_hybrid(vector, terms, k=3, weights=weights)
        kwargs = {"k": 3, "mode": "hybrid", "weights": weights}
        retriever = store.as_retriever(search_kwargs=kwargs)
        for hits in (
            store.similarity_search_with_score(CODE, **kwargs),
            await store.asimilarity_search_with_score(CODE, **kwargs),
        ):
            assert _names(d for d, _ in hits) == [e.metadata["name"] for e in expected]
            assert [s for _, s in hits] == pytest.approx([e.score for e in expected])
            assert "code" in _names(d for d, _ in hits[:2])
            assert all(0 < s <= 1 for _, s in hits)
        assert _names(retriever.invoke(CODE)) == [e.metadata["name"] for e in expected]
    found = await store.asimilarity_search(CODE, k=1, mode="keyword", filter={"name": "de"})
    assert found == []  # the filter applies to the keyword channel too
    store.close()


def test_jina_vector_store_without_the_channel_names_the_fix(embeddings, tmp_path) -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    store = JinaV3VectorStore(_edge("plain", tmp_path), embeddings)
    store.add_documents(DOCUMENTS)
    for mode in ("hybrid", "keyword"):
        with pytest.raises(ConfigurationError, match=r"hybrid=True.*re-indexed"):
            store.similarity_search(CODE, mode=mode)
    with pytest.raises(ConfigurationError, match="mode='sparse'"):
        store.similarity_search(CODE, mode="sparse")
    store.close()
    hybrid = JinaV3VectorStore(_edge("other", tmp_path), embeddings, hybrid=True)
    with pytest.raises(ConfigurationError, match=r"weights="):
        hybrid.similarity_search(CODE, mode="hybrid", weights=(1.0, -1.0))
    hybrid.close()
    with pytest.raises(ConfigurationError, match="hybrid=True needs JinaV3Embeddings"):
        JinaV3VectorStore(_edge("fake", tmp_path), DeterministicFakeEmbedding(size=8), hybrid=True)
