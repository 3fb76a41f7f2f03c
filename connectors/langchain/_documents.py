"""Conversions between LangChain documents and ``jina_v3`` store records, for
:mod:`.vectorstores`."""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from jina_v3.errors import ConfigurationError
from jina_v3.index.store import CHUNK_INDEX_KEY, DOCUMENT_ID_KEY, RESERVED_KEYS, Hit, check_metadata


class AsyncEmbeddings:
    """LangChain embeddings' async twins under the sync names the flows call."""

    def __init__(self, embeddings: Embeddings) -> None:
        self._embeddings = embeddings

    async def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return await self._embeddings.aembed_documents(texts)

    async def embed_query(self, text: str) -> list[float]:
        return await self._embeddings.aembed_query(text)


def payload(metadata: Any, doc_id: str) -> dict[str, Any]:
    """A document's metadata as a store keeps it (no nulls: the engines take none)."""
    where = f"Document {doc_id!r}"
    metadata = check_metadata({} if metadata is None else metadata, where)
    clash = sorted(RESERVED_KEYS & set(metadata))
    if clash:
        raise ConfigurationError(
            f"{where}: metadata keys {clash} are reserved by jina_v3 stores (they hold the "
            "text, document id, chunk index and content hash); rename them."
        )
    return {k: v for k, v in metadata.items() if v is not None}


def document(hit: Hit) -> Document:
    if hit.chunk_index is None:
        return Document(id=hit.document_id, page_content=hit.text, metadata=dict(hit.metadata))
    # a chunk point written by jina_v3's VectorIndex: its point id, and where it came from
    metadata = {**hit.metadata, DOCUMENT_ID_KEY: hit.document_id, CHUNK_INDEX_KEY: hit.chunk_index}
    return Document(id=hit.id, page_content=hit.text, metadata=metadata)
