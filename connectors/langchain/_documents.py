"""Conversions between LangChain documents and ``jina_v3`` store records, for
:mod:`.vectorstores`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from jina_v3.errors import ConfigurationError
from jina_v3.index.store import (
    CHUNK_INDEX_KEY,
    DOCUMENT_ID_KEY,
    RESERVED_KEYS,
    Hit,
    check_metadata,
    point_id,
)


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
    """A stored point as a LangChain Document. Its id names that point: a whole document's
    id (what LangChain wrote, or a document the index stored unchunked), or for one chunk of
    a document the index wrote, the chunk's point id (metadata ``document_id`` and
    ``chunk_index`` say which)."""
    if hit.chunk_index is None:
        return Document(id=hit.document_id, page_content=hit.text, metadata=dict(hit.metadata))
    # a chunk point written by jina_v3's VectorIndex: its point id, and where it came from
    metadata = {**hit.metadata, DOCUMENT_ID_KEY: hit.document_id, CHUNK_INDEX_KEY: hit.chunk_index}
    return Document(id=hit.id, page_content=hit.text, metadata=metadata)


def candidate_points(ids: Sequence[str]) -> list[str]:
    """The point ids that Document ids may name (see :func:`document`): each id's whole
    document, then, for an id that is a UUID, the chunk point of that id."""
    candidates = []
    for i in ids:
        if not isinstance(i, str):
            raise ConfigurationError(f"ids must be strings, got {type(i).__name__}")
        candidates.append(point_id(i))
        try:
            candidates.append(str(uuid.UUID(i)))
        except ValueError:
            pass  # not a point id: a document's own id only
    return candidates


def by_id(hits: Sequence[Hit]) -> dict[str, tuple[Document, Hit]]:
    """The fetched candidates by their Documents' ids (a whole document before a chunk that
    has its id: it was fetched first)."""
    found: dict[str, tuple[Document, Hit]] = {}
    for hit in hits:
        doc = document(hit)
        found.setdefault(str(doc.id), (doc, hit))
    return found
