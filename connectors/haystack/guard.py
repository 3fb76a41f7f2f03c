"""The dimension guard: a document store's embedding size checked before anything is written.

:func:`document_store_dimension` reads the size a Haystack document store holds (or will
create), :func:`check_document_store` compares it with the embedder's, and
:class:`JinaV3DimensionGuard` is that check as a component in front of a ``DocumentWriter``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Self

from haystack import Document, component, default_from_dict, default_to_dict

from jina_v3.connectors.base.framework import qdrant_vector_size
from jina_v3.connectors.haystack._base import PUBLIC_MODULE
from jina_v3.errors import DimensionMismatchError


def document_store_dimension(document_store: Any) -> int | None:
    """The embedding size a Haystack document store holds or will create, where it says.

    Reads an existing collection's or index's real size (Qdrant, Milvus, Pinecone) before
    the store's configured one; None when the store does not expose it (or has no collection
    yet and sizes it from the first write, as Milvus does).
    """
    reader = _READERS.get(type(document_store).__name__)
    if reader is not None:
        return reader(document_store)
    for attribute in ("embedding_dim", "dimension", "embedding_dimension"):
        value = getattr(document_store, attribute, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _pinecone_dimension(store: Any) -> int | None:
    # the store silently adopts an existing index's size: ask the control plane first
    from pinecone import Pinecone

    client = Pinecone(api_key=store.api_key.resolve_value(), source_tag="haystack")
    if store.index_name in client.list_indexes().names():
        description = client.describe_index(store.index_name)
        dimension = getattr(description, "dimension", None)
        if isinstance(dimension, int):
            return dimension
    return int(store.dimension)


def _milvus_dimension(store: Any) -> int | None:
    client, name = store.client, store.collection_name
    if not client.has_collection(name):
        return None  # created from the first write's embeddings
    vector_field = getattr(store, "_vector_field", "vector")
    for field in client.describe_collection(name).get("fields", []):
        if field.get("name") == vector_field:
            dim = field.get("params", {}).get("dim")
            return None if dim is None else int(dim)
    return None


def _qdrant_dimension(store: Any) -> int | None:
    # the store connects lazily (`_client` stays None until then): never force a connection
    size = qdrant_vector_size(store._client, store.index, "text-dense")
    return size if size is not None else int(store.embedding_dim)


_READERS = {
    "PineconeDocumentStore": _pinecone_dimension,
    "MilvusDocumentStore": _milvus_dimension,
    "QdrantDocumentStore": _qdrant_dimension,
}


def check_document_store(document_store: Any, dimensions: int) -> None:
    """Raise if `document_store` holds (or will create) vectors of another size.

    Args:
        document_store: A Haystack document store.
        dimensions: The embedder's output size.

    Raises:
        DimensionMismatchError: The sizes differ; the message names both and the fix.

    Example:
        >>> check_document_store(QdrantDocumentStore(":memory:", embedding_dim=768), 256)
        Traceback (most recent call last):
        DimensionMismatchError: ... 768-d ... 256-d ...
    """
    stored = document_store_dimension(document_store)
    if stored is None or stored == dimensions:
        return
    raise DimensionMismatchError(
        f"{type(document_store).__name__} holds {stored}-d embeddings but the embedder makes "
        f"{dimensions}-d ones. Fix: build the embedder with dimensions={stored}, or give the "
        f"document store a new index/collection with embedding size {dimensions} (Qdrant: "
        f"embedding_dim={dimensions}; Pinecone: dimension={dimensions})."
    )


@component
class JinaV3DimensionGuard:
    """Passes documents through after checking their embedding size against a document store.

    Put it between a :class:`JinaV3DocumentEmbedder` and a ``DocumentWriter``: a mismatch
    raises before anything is written (Haystack's Pinecone store would otherwise adopt the
    index's size silently, and its Qdrant store defaults to 768).

    Example:
        >>> pipeline.add_component("guard", JinaV3DimensionGuard(document_store=store))
        >>> pipeline.connect("embed.documents", "guard.documents")
        >>> pipeline.connect("guard.documents", "write.documents")

    Args:
        document_store: The store the documents are written to.
    """

    __module__ = PUBLIC_MODULE

    def __init__(self, document_store: Any) -> None:
        self.document_store = document_store
        self._checked: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Serialise the guard with its document store."""
        return default_to_dict(self, document_store=self.document_store)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild the guard (and its document store) from :meth:`to_dict`'s output."""
        return default_from_dict(cls, data)

    def _check(self, documents: list[Document]) -> None:
        sizes = {len(d.embedding) for d in documents if d.embedding is not None}
        if len(sizes) > 1:
            raise DimensionMismatchError(
                f"The documents carry embeddings of several sizes {sorted(sizes)}: embed them "
                "with one dimensions setting."
            )
        if sizes:
            (size,) = sizes
            if size != self._checked:
                check_document_store(self.document_store, size)
                self._checked = size

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Check the documents' embedding size, then pass them on unchanged.

        Raises:
            DimensionMismatchError: The store holds another size (nothing is passed on).
        """
        self._check(documents)
        return {"documents": documents}

    @component.output_types(documents=list[Document])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """The async twin of :meth:`run` (the store is asked in a worker thread)."""
        await asyncio.to_thread(self._check, documents)
        return {"documents": documents}
