"""The keyword channel for LlamaIndex's own ``QdrantVectorStore(enable_hybrid=True)``: BM25
term weights over the model's tokenizer (:mod:`jina_v3.index.keywords`) as its
``sparse_doc_fn`` / ``sparse_query_fn``, instead of its default English SPLADE model.

    from qdrant_client import models
    doc_fn, query_fn = sparse_encoders(embed_model)
    store = QdrantVectorStore(
        "docs", client=client, enable_hybrid=True, sparse_doc_fn=doc_fn, sparse_query_fn=query_fn,
        sparse_config=models.SparseVectorParams(modifier=models.Modifier.IDF),  # Qdrant's IDF
    )
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jina_v3.index.keywords import SparseVector, encoder_for

#: LlamaIndex's ``SparseEncoderCallable``: texts -> (indices of each, values of each).
SparseEncoder = Callable[[list[str]], tuple[list[list[int]], list[list[float]]]]


def _batch(vectors: list[SparseVector]) -> tuple[list[list[int]], list[list[float]]]:
    return [list(v.indices) for v in vectors], [list(v.values) for v in vectors]


def sparse_encoders(embedder: Any) -> tuple[SparseEncoder, SparseEncoder]:
    """``(sparse_doc_fn, sparse_query_fn)`` over the tokenizer of `embedder` (a
    :class:`~jina_v3.connectors.llama_index.JinaV3Embedding` or an :class:`~jina_v3.Embedder`).

    Documents get BM25's saturated term frequencies, queries 1.0 per term; pass
    ``sparse_config=SparseVectorParams(modifier=Modifier.IDF)`` so that Qdrant applies the
    collection's IDF.

    Raises:
        ConfigurationError: An API embedder without a ``tokenizer.json``.
    """
    encoder = encoder_for(getattr(embedder, "embedder", embedder))

    def documents(texts: list[str]) -> tuple[list[list[int]], list[list[float]]]:
        return _batch(encoder.documents(texts))

    def queries(texts: list[str]) -> tuple[list[list[int]], list[list[float]]]:
        return _batch([encoder.query(t) for t in texts])

    return documents, queries
