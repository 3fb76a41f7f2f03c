"""`JinaV3SparseDocumentEmbedder` and `JinaV3SparseTextEmbedder`: the keyword channel of hybrid
search as Haystack ``SparseEmbedding``s, for ``QdrantDocumentStore(use_sparse_embeddings=True,
sparse_idf=True)`` and its ``QdrantHybridRetriever`` / ``QdrantSparseEmbeddingRetriever``.

BM25 term weights keyed by the model's own token ids (:mod:`jina_v3.index.keywords`): every
language the model reads, no English analyzer. Documents get saturated term frequencies,
queries 1.0 per term; ``sparse_idf=True`` makes Qdrant apply the collection's IDF. They need
the model's ``tokenizer.json`` only (no weights): a checkpoint directory or the file, or
``embedder=`` to share a loaded one's.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Self

from haystack import Document, component, default_from_dict, default_to_dict
from haystack.core.errors import SerializationError
from haystack.dataclasses import SparseEmbedding

from jina_v3.connectors.haystack._base import PUBLIC_MODULE
from jina_v3.embedder import AsyncEmbedder, Embedder
from jina_v3.errors import ConfigurationError
from jina_v3.index.keywords import KeywordEncoder, SparseVector, encoder_for


def _sparse(vector: SparseVector) -> SparseEmbedding:
    return SparseEmbedding(indices=list(vector.indices), values=list(vector.values))


class _SparseBase:
    def __init__(
        self,
        tokenizer: str | os.PathLike[str] | None = None,
        *,
        embedder: Embedder | AsyncEmbedder | None = None,
    ) -> None:
        if (tokenizer is None) == (embedder is None):
            raise ConfigurationError(
                f"{type(self).__name__} needs the model's tokenizer: pass tokenizer= (a "
                "checkpoint directory or its tokenizer.json) or embedder= (an Embedder's)"
            )
        self.tokenizer = None if tokenizer is None else os.fspath(tokenizer)
        self._embedder = embedder
        self._encoder: KeywordEncoder | None = None

    def warm_up(self) -> None:
        """Load the tokenizer (idempotent)."""
        if self._encoder is not None:
            return
        if self._embedder is not None:
            self._encoder = encoder_for(self._embedder)
            return
        import tokenizers

        path = Path(self.tokenizer or "").expanduser()
        file = path / "tokenizer.json" if path.is_dir() else path
        if not file.is_file():
            raise ConfigurationError(f"tokenizer={self.tokenizer!r}: no tokenizer.json there")
        self._encoder = KeywordEncoder(tokenizers.Tokenizer.from_file(str(file)))

    @property
    def encoder(self) -> KeywordEncoder:
        self.warm_up()
        assert self._encoder is not None
        return self._encoder

    def to_dict(self) -> dict[str, Any]:
        """The settings (a shared ``embedder=`` cannot be serialised)."""
        if self._embedder is not None:
            raise SerializationError(
                f"{type(self).__name__} was built from an Embedder object; pass tokenizer= "
                "to save the pipeline."
            )
        return default_to_dict(self, tokenizer=self.tokenizer)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return default_from_dict(cls, data)


@component
class JinaV3SparseDocumentEmbedder(_SparseBase):
    """Adds BM25 term weights over the model's tokens to each document's
    ``sparse_embedding`` (new Document objects; the input is not changed)."""

    __module__ = PUBLIC_MODULE

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Weigh the documents' content (an empty content weighs nothing)."""
        if not isinstance(documents, list) or not all(isinstance(d, Document) for d in documents):
            raise TypeError("JinaV3SparseDocumentEmbedder expects a list of Documents")
        weights = self.encoder.documents([d.content or "" for d in documents])
        return {
            "documents": [
                replace(doc, sparse_embedding=_sparse(vector))
                for doc, vector in zip(documents, weights, strict=True)
            ]
        }


@component
class JinaV3SparseTextEmbedder(_SparseBase):
    """A query's terms (1.0 each) as a ``SparseEmbedding``."""

    __module__ = PUBLIC_MODULE

    @component.output_types(sparse_embedding=SparseEmbedding)
    def run(self, text: str) -> dict[str, Any]:
        """Weigh one query."""
        if not isinstance(text, str):
            raise TypeError("JinaV3SparseTextEmbedder expects a string")
        return {"sparse_embedding": _sparse(self.encoder.query(text))}
