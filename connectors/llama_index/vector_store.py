"""`JinaV3VectorStore`: a LlamaIndex vector store over any ``jina_v3`` store, and
`check_vector_store`.

LlamaIndex's own Milvus and Pinecone stores do not install beside pymilvus 3 and the pinecone
v10 SDK; this one runs on ``MilvusStore``, ``PineconeStore``, ``QdrantEdgeStore`` and
``QdrantStore``, with their embedding-signature checks. Every operation is one flow
(:mod:`jina_v3._flow`): the sync method drives it with the store, its async twin with the
store's async twins (or its sync methods in a worker thread), so the two cannot drift apart.

With ``hybrid=True`` the nodes also get the keyword channel (BM25 over the model's tokens,
:mod:`jina_v3.index.keywords`), and ``VectorStoreQueryMode.HYBRID`` / ``SPARSE`` /
``TEXT_SEARCH`` queries run on the store's ``query_hybrid`` / ``query_keywords``, the calls
``VectorIndex.search(mode="hybrid" | "keyword")`` makes.
"""

from __future__ import annotations

import uuid
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
from jina_v3.connectors.base.framework import qdrant_vector_size
from jina_v3.connectors.llama_index.embedding import JinaV3Embedding
from jina_v3.connectors.llama_index.filters import to_filter
from jina_v3.errors import ConfigurationError, DimensionMismatchError
from jina_v3.index.hybrid import with_keywords
from jina_v3.index.keywords import KeywordEncoder, encoder_for
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
#: LlamaIndex's query modes and the search modes they run as.
_MODES = {
    VectorStoreQueryMode.DEFAULT: "dense",
    VectorStoreQueryMode.HYBRID: "hybrid",
    VectorStoreQueryMode.SPARSE: "keyword",
    VectorStoreQueryMode.TEXT_SEARCH: "keyword",
}


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
        hybrid: Also store the keyword channel (needs ``embed_model``, whose tokenizer gives
            the terms) and answer ``hybrid``, ``sparse`` and ``text_search`` queries: scores
            are the fused (0, 1] of hybrid search, or BM25. ``alpha`` weighs the channels
            as ``(alpha, 1 - alpha)`` = (dense, keyword); 1 is dense only, 0 keywords only.
    """

    stores_text: bool = True
    flat_metadata: bool = True
    late_chunking: bool = False
    recreate: bool = False
    hybrid: bool = False

    _store: Any = PrivateAttr()
    _keywords: KeywordEncoder | None = PrivateAttr(default=None)
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
        hybrid: bool = False,
    ) -> None:
        if (embed_model is None) == (signature is None):
            raise ConfigurationError("Pass exactly one of embed_model=... or signature=...")
        if hybrid and embed_model is None:
            raise ConfigurationError(
                "hybrid=True needs embed_model=... (its tokenizer gives the keyword channel's "
                "terms) instead of signature=..."
            )
        if embed_model is not None and not isinstance(embed_model, JinaV3Embedding):
            raise ConfigurationError("embed_model must be a JinaV3Embedding")
        if not all(hasattr(store, m) for m in ("ensure_collection", "upsert", "query")):
            raise ConfigurationError(
                f"store must be a jina_v3 store (jina_v3.connectors.*), got {type(store).__name__}"
            )
        super().__init__(late_chunking=late_chunking, recreate=recreate, hybrid=hybrid)
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
            keywords = self.keyword_encoder().identity if self.hybrid else None
            self._signature = _signature_of(
                self._embed_model, late_chunking=self.late_chunking, keywords=keywords
            )
        return self._signature

    def keyword_encoder(self) -> KeywordEncoder:
        """The keyword channel's encoder, over the embedding model's tokenizer (loads it)."""
        if self._keywords is None:
            assert self._embed_model is not None  # hybrid=True requires it
            self._keywords = encoder_for(self._embed_model.embedder)
        return self._keywords

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
        if records and self.hybrid:
            records = with_keywords(records, (yield Call("owner", "keyword_encoder")))
        if records:
            yield Call("store", "upsert", (records,))
        return [n.node_id for n in nodes]

    def _query_flow(self, query: VectorStoreQuery) -> Flow[VectorStoreQueryResult]:
        signature = yield from self._ensure_flow()
        mode, weights = self._search_mode(query)
        args = self._query_args(query, signature.dimensions, dense=mode != "keyword")
        if mode == "dense":
            hits = yield Call("store", "query", (), args)
        else:
            encoder = yield Call("owner", "keyword_encoder")
            terms = encoder.query(query.query_str)
            if mode == "keyword":
                args["k"] = query.sparse_top_k or query.similarity_top_k
                hits = yield Call("store", "query_keywords", (terms,), args)
            else:
                args["k"] = query.hybrid_top_k or query.similarity_top_k
                args["weights"] = weights
                hits = yield Call("store", "query_hybrid", (args.pop("vector"), terms), args)
        nodes = [_node(h) for h in hits]
        return VectorStoreQueryResult(
            nodes=nodes, similarities=[h.score for h in hits], ids=[n.node_id for n in nodes]
        )

    def _delete_flow(self, ids: list[str] | None, document_ids: list[str] | None) -> Flow[None]:
        yield from self._ensure_flow()  # a delete writes: never on a collection not ours
        if ids or document_ids:
            yield Call("store", "delete", (), {"ids": ids, "document_ids": document_ids})

    def _fetch_flow(
        self, node_ids: list[str] | None, filters: MetadataFilters | None
    ) -> Flow[list[BaseNode]]:
        _no_filters(filters, "get_nodes")
        _require(self._store, "fetch", "fetch(ids)")
        if not node_ids:
            return []
        hits = yield Call("store", "fetch", (_point_ids(node_ids),))
        wanted = set(node_ids)
        return [node for node in map(_node, hits) if node.node_id in wanted]

    def _clear_flow(self) -> Flow[None]:
        _require(self._store, "clear", "clear()")
        yield from self._ensure_flow()
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

    def _search_mode(self, query: VectorStoreQuery) -> tuple[str, tuple[float, float] | None]:
        """The search mode of a LlamaIndex query, and the (dense, keyword) weights."""
        mode = _MODES.get(query.mode)
        if mode is None:
            modes = ", ".join(repr(m.value) for m in _MODES)
            raise NotImplementedError(f"JinaV3VectorStore runs modes {modes}, got {query.mode!r}")
        alpha = query.alpha
        if mode == "hybrid" and alpha is not None and not 0 <= alpha <= 1:
            raise ConfigurationError(
                f"alpha={alpha!r}: pass a number in [0, 1] (the dense channel's weight; 1 is "
                "dense only, 0 keywords only)"
            )
        if mode == "dense":
            return mode, None
        if not self.hybrid:
            raise ConfigurationError(
                f"query mode {query.mode.value!r} needs the keyword channel, and this store "
                "has none. Fix: JinaV3VectorStore(..., hybrid=True) over a collection indexed "
                "with it (a collection indexed without it must be re-indexed into a new one), "
                "or vector_store_query_mode='default'."
            )
        if not query.query_str:
            raise ConfigurationError(f"query mode {query.mode.value!r} needs the query's text")
        if mode == "keyword" or alpha is None:
            return mode, None
        if alpha in (0, 1):
            return ("keyword" if alpha == 0 else "dense"), None
        return mode, (alpha, 1 - alpha)

    def _query_args(self, query: VectorStoreQuery, dims: int, *, dense: bool) -> dict[str, Any]:
        if query.node_ids:
            raise NotImplementedError("query(node_ids=...) is not supported; use get_nodes()")
        parts = [to_filter(query.filters)] if query.filters is not None else []
        if query.doc_ids:
            parts.append({DOCUMENT_ID_KEY: {"$in": list(query.doc_ids)}})
        native = None if not parts else parts[0] if len(parts) == 1 else {"$and": parts}
        args: dict[str, Any] = {"k": query.similarity_top_k, "filter": native}
        if dense:
            args["vector"] = self._vector(query.query_embedding, "The query", dims)
        return args

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
        self._run(self._delete_flow(_point_ids(node_ids or []), None))

    async def adelete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **kw: Any
    ) -> None:
        """The async twin of :meth:`delete_nodes`."""
        _no_filters(filters, "delete_nodes")
        await self._arun(self._delete_flow(_point_ids(node_ids or []), None))

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


def _signature_of(
    embed_model: Any, *, late_chunking: bool, keywords: str | None = None
) -> EmbeddingSignature:
    """The signature of vectors `embed_model` makes (loads the model if needed)."""
    return EmbeddingSignature(
        model=embed_model.embedder.model_name,
        dimensions=embed_model.output_dimensions,
        late_chunking=late_chunking,
        keywords=keywords,
    )


def _point_ids(node_ids: Sequence[str]) -> list[str]:
    """The stored points node ids name. A node this store wrote is the point of its id; a
    point another writer made (``VectorIndex``, ``jina-v3 index``, LangChain) comes back as
    a node whose id is the point's own (see :func:`_node`), so that id names it as it is."""
    out = []
    for node_id in node_ids:
        out.append(point_id(node_id))
        try:
            out.append(str(uuid.UUID(node_id)))  # only a UUID can be a point id
        except (ValueError, TypeError, AttributeError):
            pass
    return list(dict.fromkeys(out))


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
        keywords = encoder_for(embed_model.embedder).identity if vector_store.hybrid else None
        expected = _signature_of(
            embed_model, late_chunking=vector_store.late_chunking, keywords=keywords
        )
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
