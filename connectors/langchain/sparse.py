"""`JinaV3SparseEmbeddings`: the keyword channel of hybrid search as langchain-qdrant's
``SparseEmbeddings``, for its ``QdrantVectorStore(retrieval_mode=RetrievalMode.HYBRID)``.

BM25 term weights keyed by the model's own token ids (:mod:`jina_v3.index.keywords`): every
language the model reads, no English analyzer. Documents get saturated term frequencies,
queries 1.0 per term; ``sparse_vector_params={"modifier": models.Modifier.IDF}`` makes Qdrant
apply the collection's IDF.

    from langchain_qdrant import QdrantVectorStore, RetrievalMode
    from qdrant_client import models

    store = QdrantVectorStore.from_documents(
        documents, embeddings, sparse_embedding=JinaV3SparseEmbeddings(embeddings),
        retrieval_mode=RetrievalMode.HYBRID, location=":memory:", collection_name="docs",
        sparse_vector_params={"modifier": models.Modifier.IDF},
    )
"""

from __future__ import annotations

from typing import Any

from langchain_qdrant import SparseEmbeddings, SparseVector

from jina_v3.index.keywords import KeywordEncoder, encoder_for
from jina_v3.index.keywords import SparseVector as Weights


def _vector(weights: Weights) -> SparseVector:
    return SparseVector(indices=list(weights.indices), values=list(weights.values))


class JinaV3SparseEmbeddings(SparseEmbeddings):
    """BM25 term weights over the tokenizer of `embeddings` (a
    :class:`~jina_v3.connectors.langchain.JinaV3Embeddings`, or an
    :class:`~jina_v3.Embedder`), loaded on first use.

    Raises:
        ConfigurationError: On first use, an API embedder without a ``tokenizer.json``.
    """

    def __init__(self, embeddings: Any) -> None:
        self._source = embeddings
        self._encoder: KeywordEncoder | None = None

    @property
    def encoder(self) -> KeywordEncoder:
        """The keyword encoder (shares the embedder's tokenizer)."""
        if self._encoder is None:
            self._encoder = encoder_for(getattr(self._source, "embedder", self._source))
        return self._encoder

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        """Each text's BM25 document weights (saturated term frequencies)."""
        return [_vector(w) for w in self.encoder.documents(list(texts))]

    def embed_query(self, text: str) -> SparseVector:
        """The query's terms, 1.0 each (the collection's IDF weighs them)."""
        return _vector(self.encoder.query(text))
