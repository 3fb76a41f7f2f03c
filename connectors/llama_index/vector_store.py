"""`JinaV3VectorStore`: a LlamaIndex vector store over any ``jina_v3`` store, and
`check_vector_store`.

LlamaIndex's own Milvus and Pinecone stores do not install beside pymilvus 3 and the pinecone
v10 SDK; this one runs on ``MilvusStore``, ``PineconeStore``, ``QdrantEdgeStore`` and
``QdrantStore``, with their embedding-signature checks. Every operation is one flow
(:mod:`jina_v3._flow`): the sync method drives it with the store, its async twin with the
store's async twins (or its sync methods in a worker thread), so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import (
    BaseNode,
    MetadataMode,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from jina_v3._flow import Call, Flow, InThread, arun, run
from jina_v3.connectors._framework import qdrant_vector_size
from jina_v3.connectors.llama_index.embedding import JinaV3Embedding
from jina_v3.connectors.llama_index.filters import to_filter
from jina_v3.errors import ConfigurationError, DimensionMismatchError
from jina_v3.index.store import (
    CHUNK_INDEX_KEY,
    DOCUMENT_ID_KEY,
    TEXT_KEY,
    EmbeddingSignature,
    Hit,
    Record,
    check_signature,
    point_id,
)

#: Payload keys the jina_v3 stores use themselves (a node's metadata may not use them).
_RESERVED = (TEXT_KEY, DOCUMENT_ID_KEY, CHUNK_INDEX_KEY)


class _AsyncTwins:
    """A store's async twins under the sync names (``aupsert`` as ``upsert``), or its sync
    methods in a worker thread where it has no twin."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._in_thread = InThread(store)

    def __getattr__(self, name: str) -> Any:
        twin = getattr(self._store, "a" + name, None)
        return twin if twin is not None else getattr(self._in_thread, name)


class JinaV3VectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store over a ``jina_v3`` store, with the embedding-signature checks.

    The collection is created on first use with the signature of ``embed_model`` (model,
    dimensions, query/passage tasks, late chunking) and checked before every write and query:
    a collection built with other settings raises ``SignatureMismatchError`` /
    ``DimensionMismatchError`` instead of returning wrong neighbours.

    Example:
        >>> from llama_index.core import StorageContext, VectorStoreIndex
        >>> from jina_v3.connectors.pinecone import PineconeStore
        >>> embed_model = JinaV3Embedding(dimensions=256)
        >>> store = JinaV3VectorStore(PineconeStore("docs"), embed_model=embed_model)
        >>> index = VectorStoreIndex.from_documents(
        ...     documents, storage_context=StorageContext.from_defaults(vector_store=store),
        ...     embed_model=embed_model,
        ... )

    Args:
        store: A ``jina_v3`` store (``MilvusStore``, ``PineconeStore``, ``QdrantEdgeStore``,
            ``QdrantStore``); this object closes it in :meth:`close`.
        embed_model: The :class:`JinaV3Embedding` the nodes are embedded with (gives the
            signature), or pass ``signature=`` directly.
        signature: The collection's :class:`~jina_v3.EmbeddingSignature`.
        late_chunking: Whether the nodes are embedded with :class:`JinaV3LateChunking`
            (recorded in the signature).
        recreate: Drop an existing collection on first use.
    """

    stores_text: bool = True
    flat_metadata: bool = True
    late_chunking: bool = False
    recreate: bool = False

    _store: Any = PrivateAttr()
    _embed_model: JinaV3Embedding | None = PrivateAttr(default=None)
    _signature: EmbeddingSignature | None = PrivateAttr(default=None)
    _ready: bool = PrivateAttr(default=False)

    def __init__(
        self,
        store: Any,
        *,
        embed_model: JinaV3Embedding | None = None,
        signature: EmbeddingSignature | None = None,
        late_chunking: bool = False,
        recreate: bool = False,
    ) -> None:
        if (embed_model is None) == (signature is None):
            raise ConfigurationError("Pass exactly one of embed_model=... or signature=...")
        if embed_model is not None and not isinstance(embed_model, JinaV3Embedding):
            raise ConfigurationError("embed_model must be a JinaV3Embedding")
        if not all(hasattr(store, m) for m in ("ensure_collection", "upsert", "query")):
            raise ConfigurationError(
                f"store must be a jina_v3 store (jina_v3.connectors.*), got {type(store).__name__}"
            )
        super().__init__(late_chunking=late_chunking, recreate=recreate)
        self._store = store
        self._embed_model = embed_model
        self._signature = signature

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "JinaV3VectorStore"

    @property
    def client(self) -> Any:
        """The underlying ``jina_v3`` store."""
        return self._store

    @property
    def signature(self) -> EmbeddingSignature:
        """The signature this store writes and checks (loads the model if needed)."""
        if self._signature is None:
            self._signature = _signature_of(self._embed_model, late_chunking=self.late_chunking)
        return self._signature

    def _collection(self) -> str:
        return str(getattr(self._store, "collection", None) or type(self._store).__name__)

    # -- the drivers -----------------------------------------------------------------------------

    def _run(self, flow: Flow[Any]) -> Any:
        return run(flow, owner=self, store=self._store)

    async def _arun(self, flow: Flow[Any]) -> Any:
        return await arun(flow, owner=InThread(self), store=_AsyncTwins(self._store))

    def _ensure_flow(self) -> Flow[EmbeddingSignature]:
        """Create the collection on first use, else check its stored signature."""
        signature = self._signature
        if signature is None:  # from the embedding model, which may have to load: I/O
            signature = yield Call("owner", "_signature_now")
        if not self._ready:
            yield Call("store", "ensure_collection", (signature,), {"recreate": self.recreate})
            self._ready, self.recreate = True, False
        else:
            stored = yield Call("store", "read_signature")
            check_signature(signature, stored, collection=self._collection())
        return signature

    def _signature_now(self) -> EmbeddingSignature:
        return self.signature

    # -- the flows -------------------------------------------------------------------------------

    def _add_flow(self, nodes: Sequence[BaseNode]) -> Flow[list[str]]:
        signature = yield from self._ensure_flow()
        records = self._records(nodes, signature.dimensions)
        if records:
            yield Call("store", "upsert", (records,))
        return [n.node_id for n in nodes]

    def _query_flow(self, query: VectorStoreQuery) -> Flow[VectorStoreQueryResult]:
        signature = yield from self._ensure_flow()
        hits = yield Call("store", "query", (), self._query_args(query, signature.dimensions))
        nodes = [_node(h) for h in hits]
        return VectorStoreQueryResult(
            nodes=nodes, similarities=[h.score for h in hits], ids=[n.node_id for n in nodes]
        )

    def _delete_flow(self, ids: list[str] | None, document_ids: list[str] | None) -> Flow[None]:
        if ids or document_ids:
            yield Call("store", "delete", (), {"ids": ids, "document_ids": document_ids})

    def _fetch_flow(
        self, node_ids: list[str] | None, filters: MetadataFilters | None
    ) -> Flow[list[BaseNode]]:
        _no_filters(filters, "get_nodes")
        _require(self._store, "fetch", "fetch(ids)")
        if not node_ids:
            return []
        hits = yield Call("store", "fetch", ([point_id(n) for n in node_ids],))
        return [_node(h) for h in hits]

    def _clear_flow(self) -> Flow[None]:
        _require(self._store, "clear", "clear()")
        yield Call("store", "clear")

    # -- conversions (pure) ----------------------------------------------------------------------

    def _vector(self, embedding: Sequence[float] | None, what: str, dims: int) -> np.ndarray:
        if embedding is None:
            raise ConfigurationError(f"{what} has no embedding; embed it first")
        vector = np.asarray(embedding, dtype=np.float32)
        if vector.shape != (dims,):
            raise DimensionMismatchError(
                f"{what} has a {vector.size}-d embedding but collection {self._collection()!r} "
                f"holds {dims}-d vectors. Fix: embed with dimensions={dims}, or use a new "
                "collection (or recreate=True) for the new size."
            )
        return vector

    def _records(self, nodes: Sequence[BaseNode], dims: int) -> list[Record]:
        records = []
        for node in nodes:
            clash = [k for k in _RESERVED if k in node.metadata]
            if clash:
                raise ConfigurationError(
                    f"Node {node.node_id!r}: metadata keys {clash} are reserved by jina_v3 "
                    "stores (they hold the text, document id and chunk index); rename them."
                )
            payload = node_to_metadata_dict(
                node, remove_text=True, flat_metadata=self.flat_metadata
            )
            # the engines take no nulls (a node without a source has doc_id None)
            payload = {k: v for k, v in payload.items() if v is not None and k not in _RESERVED}
            records.append(
                Record(
                    id=point_id(node.node_id),
                    vector=self._vector(node.embedding, f"Node {node.node_id!r}", dims),
                    text=node.get_content(metadata_mode=MetadataMode.NONE),
                    metadata=payload,
                    document_id=node.ref_doc_id or node.node_id,
                )
            )
        return records

    def _query_args(self, query: VectorStoreQuery, dims: int) -> dict[str, Any]:
        if query.mode != VectorStoreQueryMode.DEFAULT:
            raise NotImplementedError(
                f"JinaV3VectorStore runs dense queries only (mode 'default'), got {query.mode!r}"
            )
        if query.node_ids:
            raise NotImplementedError("query(node_ids=...) is not supported; use get_nodes()")
        parts = [to_filter(query.filters)] if query.filters is not None else []
        if query.doc_ids:
            parts.append({DOCUMENT_ID_KEY: {"$in": list(query.doc_ids)}})
        native = None if not parts else parts[0] if len(parts) == 1 else {"$and": parts}
        return {
            "vector": self._vector(query.query_embedding, "The query", dims),
            "k": query.similarity_top_k,
            "filter": native,
        }

    # -- BasePydanticVectorStore -----------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Write embedded nodes (overwrites by node id); returns their ids.

        Raises:
            DimensionMismatchError, SignatureMismatchError: The collection does not match.
        """
        return self._run(self._add_flow(nodes))

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """The async twin of :meth:`add`."""
        return await self._arun(self._add_flow(nodes))

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The ``similarity_top_k`` nearest nodes to ``query.query_embedding`` (filters,
        ``doc_ids`` applied), best first; similarities are cosine."""
        return self._run(self._query_flow(query))

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The async twin of :meth:`query`."""
        return await self._arun(self._query_flow(query))

    def delete(self, ref_doc_id: str, **kwargs: Any) -> None:
        """Delete every node of the document `ref_doc_id`."""
        self._run(self._delete_flow(None, [ref_doc_id]))

    async def adelete(self, ref_doc_id: str, **kwargs: Any) -> None:
        """The async twin of :meth:`delete`."""
        await self._arun(self._delete_flow(None, [ref_doc_id]))

    def delete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **kw: Any
    ) -> None:
        """Delete nodes by id (filters are not supported by every engine)."""
        _no_filters(filters, "delete_nodes")
        self._run(self._delete_flow([point_id(n) for n in node_ids or []], None))

    async def adelete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **kw: Any
    ) -> None:
        """The async twin of :meth:`delete_nodes`."""
        _no_filters(filters, "delete_nodes")
        await self._arun(self._delete_flow([point_id(n) for n in node_ids or []], None))

    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """The nodes with these ids (those that exist, text included)."""
        return self._run(self._fetch_flow(node_ids, filters))

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """The async twin of :meth:`get_nodes`."""
        return await self._arun(self._fetch_flow(node_ids, filters))

    def clear(self) -> None:
        """Delete every node (the collection and its signature stay)."""
        self._run(self._clear_flow())

    async def aclear(self) -> None:
        """The async twin of :meth:`clear`."""
        await self._arun(self._clear_flow())

    def close(self) -> None:
        """Close the underlying store."""
        self._store.close()


def _signature_of(embed_model: Any, *, late_chunking: bool) -> EmbeddingSignature:
    """The signature of vectors `embed_model` makes (loads the model if needed)."""
    return EmbeddingSignature(
        model=embed_model.embedder.model_name,
        dimensions=embed_model.output_dimensions,
        late_chunking=late_chunking,
    )


def _node(hit: Hit) -> BaseNode:
    if "_node_content" in hit.metadata:
        return metadata_dict_to_node(dict(hit.metadata), text=hit.text)
    # a point written by jina_v3's VectorIndex: rebuild a text node from its fields
    node = TextNode(id_=hit.id, text=hit.text, metadata=dict(hit.metadata))
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=hit.document_id)
    return node


def _no_filters(filters: MetadataFilters | None, method: str) -> None:
    if filters is not None:
        raise NotImplementedError(f"{method}(filters=...) is not supported; pass node_ids")


def _require(store: Any, method: str, what: str) -> None:
    if not hasattr(store, method):
        raise NotImplementedError(f"{type(store).__name__} has no {what}")


# -- the dimension check -----------------------------------------------------------------------


def check_vector_store(vector_store: Any, embed_model: JinaV3Embedding) -> None:
    """Raise if `vector_store` holds vectors of another size (or signature) than `embed_model`.

    Works with :class:`JinaV3VectorStore` (its full signature) and LlamaIndex's
    ``QdrantVectorStore`` (the existing collection's vector size; it checks nothing itself).

    Raises:
        DimensionMismatchError: The sizes differ; the message names both and the fix.
    """
    dims = embed_model.output_dimensions
    if isinstance(vector_store, JinaV3VectorStore):
        expected = _signature_of(embed_model, late_chunking=vector_store.late_chunking)
        stored = vector_store.client.read_signature()
        check_signature(expected, stored, collection=vector_store._collection())
        return
    client = getattr(vector_store, "client", None)
    name = getattr(vector_store, "collection_name", None)
    if name is None or not hasattr(client, "collection_exists"):
        return
    size = qdrant_vector_size(client, name, getattr(vector_store, "dense_vector_name", None))
    if size is not None and size != dims:
        raise DimensionMismatchError(
            f"Collection {name!r} holds {size}-d vectors but the embedding makes {dims}-d ones. "
            f"Fix: JinaV3Embedding(dimensions={size}), or a new collection for {dims}-d vectors."
        )
