"""LlamaIndex integration for jina-embeddings-v3: embedding, late chunking and vector stores.

    from llama_index.core import VectorStoreIndex
    from jina_v3.connectors.llama_index import JinaV3Embedding, JinaV3VectorStore
    from jina_v3.connectors.milvus import MilvusStore

    embed_model = JinaV3Embedding(dimensions=256)  # local model; backend="api": the API
    vector_store = JinaV3VectorStore(MilvusStore("docs", uri="./docs.db"), embed_model=embed_model)
    index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed_model)

- :class:`JinaV3Embedding` (a ``BaseEmbedding``): query methods use ``retrieval.query``, text
  methods ``retrieval.passage``; real batched async methods with bounded concurrency. The API
  key is never a field: ``to_dict()`` / ``to_json()`` never contain it.
- :class:`JinaV3LateChunking` (a ``TransformComponent``): the nodes of one source document
  (``NodeRelationship.SOURCE``) embedded together in order, one document per pass; put it in
  an ``IngestionPipeline`` before the vector store.
- :class:`JinaV3VectorStore` (a ``BasePydanticVectorStore``) over any ``jina_v3`` store
  (Milvus, Pinecone, Qdrant Edge, Qdrant), with the embedding-signature checks; LlamaIndex's
  own Milvus and Pinecone stores do not install beside pymilvus 3 and the pinecone v10 SDK.
  LlamaIndex's ``QdrantVectorStore`` works with :class:`JinaV3Embedding` unchanged.
- :func:`to_filter` translates ``MetadataFilters`` into the ``jina_v3`` filter dialect;
  :func:`check_vector_store` compares a vector store's size with the embedding's.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from jina_v3.connectors._common import require

require("llama_index.core", "llama-index", "llama-index-core")

from llama_index.core.base.embeddings.base import BaseEmbedding  # noqa: E402
from llama_index.core.bridge.pydantic import Field, PrivateAttr  # noqa: E402
from llama_index.core.schema import (  # noqa: E402
    BaseNode,
    MetadataMode,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
    TransformComponent,
)
from llama_index.core.vector_stores.types import (  # noqa: E402
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import (  # noqa: E402
    metadata_dict_to_node,
    node_to_metadata_dict,
)

from jina_v3 import (  # noqa: E402
    AsyncEmbedder,
    DimensionMismatchError,
    Embedder,
    EmbeddingSignature,
    Hit,
    UnsupportedFilterError,
)
from jina_v3.errors import ConfigurationError  # noqa: E402
from jina_v3.store import (  # noqa: E402
    CHUNK_INDEX_KEY,
    DOCUMENT_ID_KEY,
    TEXT_KEY,
    Record,
    check_signature,
    point_id,
)

__all__ = [
    "JinaV3Embedding",
    "JinaV3LateChunking",
    "JinaV3VectorStore",
    "check_vector_store",
    "to_filter",
]

DEFAULT_LOCAL_MODEL = "jinaai/jina-embeddings-v3"
DEFAULT_API_MODEL = "jina-embeddings-v3"


class JinaV3Embedding(BaseEmbedding):
    """jina-embeddings-v3 as a LlamaIndex embedding: queries and passages get their own task.

    Example:
        >>> from llama_index.core import Settings
        >>> from jina_v3.connectors.llama_index import JinaV3Embedding
        >>> Settings.embed_model = JinaV3Embedding(dimensions=256)       # local model
        >>> # JinaV3Embedding(backend="api", dimensions=256)  # JINA_API_KEY / JINAAI_API_KEY
        >>> # JinaV3Embedding(embedder=my_embedder)           # an existing jina_v3.Embedder

    Args:
        model_name: Local checkpoint directory or hub id (default
            ``jinaai/jina-embeddings-v3``), or the API model name (``jina-embeddings-v3``).
        embedder: A ready :class:`~jina_v3.Embedder` or :class:`~jina_v3.AsyncEmbedder`
            instead of the settings (``close()`` then leaves it open).
        backend: ``"local"`` or ``"api"`` (default: ``"api"`` when ``api_key`` or
            ``base_url`` is given, else ``"local"``).
        device, dtype: Local backend options.
        api_key: The Jina API key (else ``JINA_API_KEY`` / ``JINAAI_API_KEY``); kept out of
            every serialised form.
        base_url, timeout, max_retries: API backend options.
        dimensions: Matryoshka size (None: the model's full size).
        truncate: Cut inputs over the model's context instead of raising.
        max_concurrency: Embedding calls in flight at once in the async batch methods.
        embed_batch_size: Texts per embedding call (LlamaIndex's batching).
    """

    model_name: str | None = Field(default=None, description="Checkpoint, hub id or API model.")
    backend: Literal["local", "api"] | None = Field(default=None, description="local or api")
    device: str | None = Field(default=None, description="Local backend: torch device.")
    dtype: str | None = Field(default=None, description="Local backend: float32 or bfloat16.")
    base_url: str | None = Field(default=None, description="API backend: base URL.")
    timeout: float | None = Field(default=None, description="API backend: seconds per request.")
    max_retries: int | None = Field(default=None, description="API backend: retries.")
    dimensions: int | None = Field(default=None, gt=0, description="Matryoshka size.")
    truncate: bool = Field(default=False, description="Cut over-long inputs instead of raising.")
    max_concurrency: int = Field(default=4, gt=0, description="Async calls in flight at once.")
    embed_batch_size: int = Field(default=32, gt=0, le=2048, description="Texts per call.")

    _api_key: str | None = PrivateAttr(default=None)
    _given: Embedder | AsyncEmbedder | None = PrivateAttr(default=None)
    _sync: Embedder | None = PrivateAttr(default=None)
    _async: AsyncEmbedder | None = PrivateAttr(default=None)
    _limits: Any = PrivateAttr(default=None)

    def __init__(
        self,
        model_name: str | None = None,
        *,
        embedder: Embedder | AsyncEmbedder | None = None,
        api_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        settings = ("backend", "device", "dtype", "base_url", "timeout", "max_retries")
        if embedder is not None:
            given = [k for k in settings if kwargs.get(k) is not None]
            given += [k for k, v in (("model_name", model_name), ("api_key", api_key)) if v]
            if given:
                raise ConfigurationError(
                    "Pass either embedder=... or the settings that make one, not both (got "
                    f"embedder and {', '.join(given)})."
                )
            if not isinstance(embedder, (Embedder, AsyncEmbedder)):
                raise ConfigurationError(
                    f"embedder must be a jina_v3 Embedder or AsyncEmbedder, got "
                    f"{type(embedder).__name__}"
                )
            model_name = embedder.model_name
        else:
            backend = kwargs.get("backend")
            if backend is None:
                api = api_key is not None or kwargs.get("base_url") is not None
                backend = kwargs["backend"] = "api" if api else "local"
            if backend not in ("local", "api"):
                raise ConfigurationError(f"backend must be 'local' or 'api', got {backend!r}")
            wrong = (
                ("device", "dtype") if backend == "api" else ("base_url", "timeout", "max_retries")
            )
            conflicting = [k for k in wrong if kwargs.get(k) is not None]
            if backend == "local" and api_key is not None:
                conflicting.append("api_key")
            if conflicting:
                other = "local" if backend == "api" else "api"
                raise ConfigurationError(
                    f"{', '.join(conflicting)} only apply to backend={other!r}, but this "
                    f"embedding uses backend={backend!r}; drop them or pass backend={other!r}."
                )
            if model_name is None:
                model_name = DEFAULT_API_MODEL if backend == "api" else DEFAULT_LOCAL_MODEL
        super().__init__(model_name=model_name, **kwargs)
        self._api_key = api_key
        self._given = embedder
        self._sync = embedder if isinstance(embedder, Embedder) else None
        self._async = embedder if isinstance(embedder, AsyncEmbedder) else None
        self._limits = weakref.WeakKeyDictionary()

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "JinaV3Embedding"

    # -- embedders (built lazily; one backend for sync and async) -------------------------------

    def _make(self) -> Embedder:
        if self.backend == "api":
            options: dict[str, Any] = {
                "backend": "api",
                "api_key": self._api_key,
                "base_url": self.base_url,
                "timeout": self.timeout,
                "max_retries": self.max_retries,
            }
        else:
            options = {"backend": "local", "device": self.device, "dtype": self.dtype}
        return Embedder(self.model_name, **{k: v for k, v in options.items() if v is not None})

    @property
    def embedder(self) -> Embedder:
        """The sync :class:`~jina_v3.Embedder` (built from the settings on first use)."""
        if self._sync is None:
            if self._async is not None:
                self._sync = Embedder(backend=self._async.backend)
            else:
                self._sync = self._make()
        return self._sync

    @property
    def async_embedder(self) -> AsyncEmbedder:
        """The :class:`~jina_v3.AsyncEmbedder`, sharing the sync one's backend (one model)."""
        if self._async is None:
            self._async = AsyncEmbedder(backend=self.embedder.backend)
        return self._async

    async def _aembedder(self) -> AsyncEmbedder:
        if self._async is None and self._sync is None:
            await asyncio.to_thread(lambda: self.embedder)  # load weights off the loop
        return self.async_embedder

    @property
    def output_dimensions(self) -> int:
        """The size of the vectors this embedding returns."""
        return self.dimensions or self.embedder.max_dimensions

    def _limit(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._limits.get(loop)
        if semaphore is None:
            semaphore = self._limits[loop] = asyncio.Semaphore(self.max_concurrency)
        return semaphore

    def _args(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions, "truncate": self.truncate}

    def close(self) -> None:
        """Release the model or HTTP connections (a given ``embedder=`` stays open)."""
        if self._given is None and self._sync is not None:
            self._sync.close()
        if self._given is None:
            self._sync = self._async = None

    async def aclose(self) -> None:
        """Release the model or HTTP connections, async clients included."""
        if self._given is None and (self._sync is not None or self._async is not None):
            await self.async_embedder.aclose()
            self._sync = self._async = None

    # -- BaseEmbedding ---------------------------------------------------------------------------

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embedder.encode_queries(query, **self._args()).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        embedder = await self._aembedder()
        async with self._limit():
            return (await embedder.encode_queries(query, **self._args())).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embedder.encode_passages(text, **self._args()).tolist()

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.embedder.encode_passages(list(texts), **self._args()).tolist()

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        # one batched call per LlamaIndex batch (the default makes one call per text),
        # at most `max_concurrency` of them in flight
        if not texts:
            return []
        embedder = await self._aembedder()
        async with self._limit():
            return (await embedder.encode_passages(list(texts), **self._args())).tolist()


# -- late chunking -----------------------------------------------------------------------------


def _source_id(node: BaseNode) -> str | None:
    source = node.relationships.get(NodeRelationship.SOURCE)
    return source.node_id if isinstance(source, RelatedNodeInfo) else None


def _group_nodes(nodes: Sequence[BaseNode]) -> list[list[int]]:
    """Positions of the nodes of each source document (first appearance order), each group
    in document order (``start_char_idx`` when every node has it, else input order)."""
    groups: list[list[int]] = []
    by_source: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        source = _source_id(node)
        if source is None:
            groups.append([i])
            continue
        if source not in by_source:
            by_source[source] = []
            groups.append(by_source[source])
        by_source[source].append(i)
    for members in by_source.values():
        starts = [getattr(nodes[i], "start_char_idx", None) for i in members]
        if all(isinstance(s, int) for s in starts):
            members.sort(key=lambda i: nodes[i].start_char_idx)  # type: ignore[attr-defined]
    return groups


class JinaV3LateChunking(TransformComponent):
    """Late chunking over nodes: each source document's nodes embedded in one pass, in order.

    Nodes are grouped by their source document (``NodeRelationship.SOURCE``, i.e.
    ``ref_doc_id``); a group's node texts are the consecutive chunks of one model input, so
    every chunk vector sees its whole document, and no document shares a pass with another.
    Nodes without a source are embedded alone. Each node's ``embedding`` is set (in place,
    like LlamaIndex's embedding transforms). Documents longer than the context are covered by
    overlapping windows (the embedder's ``window_tokens`` / ``window_overlap``).

    Example:
        >>> from llama_index.core.ingestion import IngestionPipeline
        >>> from llama_index.core.node_parser import SentenceSplitter
        >>> embed_model = JinaV3Embedding(dimensions=256)
        >>> pipeline = IngestionPipeline(
        ...     transformations=[SentenceSplitter(chunk_size=128), JinaV3LateChunking(embed_model)],
        ...     vector_store=vector_store,
        ... )
        >>> pipeline.run(documents=documents)

    Args:
        embed_model: The :class:`JinaV3Embedding` whose embedder and ``dimensions`` are used
            (use the same one for queries).
        metadata_mode: Which metadata goes into each chunk's text (default none: the chunks
            concatenate to the document, as late chunking needs).
        batch_size: Nodes per embedding call (a larger document goes alone).
    """

    embed_model: JinaV3Embedding
    metadata_mode: MetadataMode = Field(default=MetadataMode.NONE)
    batch_size: int = Field(default=64, gt=0)

    def __init__(self, embed_model: JinaV3Embedding, **kwargs: Any) -> None:
        if not isinstance(embed_model, JinaV3Embedding):
            raise ConfigurationError("embed_model must be a JinaV3Embedding")
        super().__init__(embed_model=embed_model, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "JinaV3LateChunking"

    def _batches(self, nodes: Sequence[BaseNode]) -> list[list[list[int]]]:
        batches: list[list[list[int]]] = []
        size = 0
        for group in _group_nodes(nodes):
            if batches and size + len(group) <= self.batch_size:
                batches[-1].append(group)
                size += len(group)
            else:
                batches.append([group])
                size = len(group)
        return batches

    def _docs(self, nodes: Sequence[BaseNode], batch: list[list[int]]) -> list[list[str]]:
        return [[nodes[i].get_content(metadata_mode=self.metadata_mode) for i in g] for g in batch]

    @staticmethod
    def _set(nodes: Sequence[BaseNode], batch: list[list[int]], arrays: list[np.ndarray]) -> None:
        for group, array in zip(batch, arrays, strict=True):
            for i, row in zip(group, array, strict=True):
                nodes[i].embedding = row.tolist()

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        """Set every node's embedding, one source document per pass."""
        embedder = self.embed_model.embedder
        for batch in self._batches(nodes):
            arrays = embedder.encode_late_chunked(
                self._docs(nodes, batch), dimensions=self.embed_model.dimensions
            )
            self._set(nodes, batch, arrays)
        return nodes

    async def acall(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        """The async twin of :meth:`__call__` (batches run one after another)."""
        embedder = await self.embed_model._aembedder()
        for batch in self._batches(nodes):
            arrays = await embedder.encode_late_chunked(
                self._docs(nodes, batch), dimensions=self.embed_model.dimensions
            )
            self._set(nodes, batch, arrays)
        return nodes


# -- filters -----------------------------------------------------------------------------------

_OPERATORS = {
    FilterOperator.EQ: "$eq",
    FilterOperator.NE: "$ne",
    FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte",
    FilterOperator.LT: "$lt",
    FilterOperator.LTE: "$lte",
    FilterOperator.IN: "$in",
    FilterOperator.NIN: "$nin",
    FilterOperator.ANY: "$in",  # a list field matches $in when any element does
    FilterOperator.CONTAINS: "$eq",  # ... and $eq when one element equals the value
}


def to_filter(filters: MetadataFilters) -> dict[str, Any]:
    """Translate LlamaIndex ``MetadataFilters`` into the ``jina_v3`` Mongo-style dialect.

    ``== != > >= < <= in nin`` map one to one, ``any`` to ``$in`` and ``contains`` to ``$eq``
    (list fields match when an element does), ``all`` to one ``$eq`` per value; ``and`` /
    ``or`` nest. Example: ``MetadataFilters(filters=[MetadataFilter(key="lang", value="en")])``
    gives ``{"$and": [{"lang": {"$eq": "en"}}]}``.

    Raises:
        UnsupportedFilterError: ``not``, text match or ``is_empty`` (no equivalent in every
            database).
    """
    children: list[dict[str, Any]] = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            children.append(to_filter(item))
        else:
            children.append(_condition(item))
    if not children:
        raise UnsupportedFilterError("MetadataFilters is empty; pass no filters instead")
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return {"$and": children}
    if condition == FilterCondition.OR:
        return {"$or": children}
    raise UnsupportedFilterError(
        f"Filter condition {condition.value!r} is not supported; use 'and' or 'or' (negate "
        "the operators instead: != for ==, nin for in)."
    )


def _condition(item: MetadataFilter) -> dict[str, Any]:
    operator = FilterOperator(item.operator)
    if operator == FilterOperator.ALL:
        values = item.value if isinstance(item.value, list) else [item.value]
        return {"$and": [{item.key: {"$eq": v}} for v in values]}
    op = _OPERATORS.get(operator)
    if op is None:
        supported = ", ".join(sorted({o.value for o in _OPERATORS} | {"all"}))
        raise UnsupportedFilterError(
            f"Filter operator {operator.value!r} on {item.key!r} is not supported; "
            f"supported: {supported}."
        )
    value = item.value
    if op in ("$in", "$nin") and not isinstance(value, list):
        value = [value]
    return {item.key: {op: value}}


# -- vector store ------------------------------------------------------------------------------

_RESERVED = (TEXT_KEY, DOCUMENT_ID_KEY, CHUNK_INDEX_KEY)


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
            assert self._embed_model is not None
            self._signature = EmbeddingSignature(
                model=self._embed_model.embedder.model_name,
                dimensions=self._embed_model.output_dimensions,
                late_chunking=self.late_chunking,
            )
        return self._signature

    def _collection(self) -> str:
        return str(getattr(self._store, "collection", None) or type(self._store).__name__)

    # -- signature checks ------------------------------------------------------------------------

    def _ensure(self) -> EmbeddingSignature:
        signature = self.signature
        if not self._ready:
            self._store.ensure_collection(signature, recreate=self.recreate)
            self._ready, self.recreate = True, False
        else:
            check_signature(signature, self._store.read_signature(), collection=self._collection())
        return signature

    async def _aensure(self) -> EmbeddingSignature:
        signature = await asyncio.to_thread(lambda: self.signature)
        if not self._ready:
            await self._call("ensure_collection", signature, recreate=self.recreate)
            self._ready, self.recreate = True, False
        else:
            stored = await self._call("read_signature")
            check_signature(signature, stored, collection=self._collection())
        return signature

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        afn = getattr(self._store, "a" + method, None)
        if afn is not None:
            return await afn(*args, **kwargs)
        return await asyncio.to_thread(getattr(self._store, method), *args, **kwargs)

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

    # -- conversions -----------------------------------------------------------------------------

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

    @staticmethod
    def _node(hit: Hit) -> BaseNode:
        if "_node_content" in hit.metadata:
            return metadata_dict_to_node(dict(hit.metadata), text=hit.text)
        # a point written by jina_v3's VectorIndex: rebuild a text node from its fields
        node = TextNode(id_=hit.id, text=hit.text, metadata=dict(hit.metadata))
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=hit.document_id)
        return node

    def _result(self, hits: list[Hit]) -> VectorStoreQueryResult:
        nodes = [self._node(h) for h in hits]
        return VectorStoreQueryResult(
            nodes=nodes, similarities=[h.score for h in hits], ids=[n.node_id for n in nodes]
        )

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

    @staticmethod
    def _no_filters(filters: MetadataFilters | None, method: str) -> None:
        if filters is not None:
            raise NotImplementedError(f"{method}(filters=...) is not supported; pass node_ids")

    def _fetchable(self) -> None:
        if not hasattr(self._store, "fetch"):
            raise NotImplementedError(f"{type(self._store).__name__} has no fetch(ids)")

    # -- BasePydanticVectorStore -----------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Write embedded nodes (overwrites by node id); returns their ids.

        Raises:
            DimensionMismatchError, SignatureMismatchError: The collection does not match.
        """
        signature = self._ensure()
        records = self._records(nodes, signature.dimensions)
        if records:
            self._store.upsert(records)
        return [n.node_id for n in nodes]

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """The async twin of :meth:`add`."""
        signature = await self._aensure()
        records = self._records(nodes, signature.dimensions)
        if records:
            await self._call("upsert", records)
        return [n.node_id for n in nodes]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The ``similarity_top_k`` nearest nodes to ``query.query_embedding`` (filters,
        ``doc_ids`` applied), best first; similarities are cosine."""
        signature = self._ensure()
        return self._result(self._store.query(**self._query_args(query, signature.dimensions)))

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The async twin of :meth:`query`."""
        signature = await self._aensure()
        hits = await self._call("query", **self._query_args(query, signature.dimensions))
        return self._result(hits)

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of the document `ref_doc_id`."""
        self._store.delete(document_ids=[ref_doc_id])

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """The async twin of :meth:`delete`."""
        await self._call("delete", document_ids=[ref_doc_id])

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete nodes by id (filters are not supported by every engine)."""
        self._no_filters(filters, "delete_nodes")
        if node_ids:
            self._store.delete(ids=[point_id(n) for n in node_ids])

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """The async twin of :meth:`delete_nodes`."""
        self._no_filters(filters, "delete_nodes")
        if node_ids:
            await self._call("delete", ids=[point_id(n) for n in node_ids])

    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """The nodes with these ids (those that exist, text included)."""
        self._no_filters(filters, "get_nodes")
        self._fetchable()
        if not node_ids:
            return []
        return [self._node(h) for h in self._store.fetch([point_id(n) for n in node_ids])]

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """The async twin of :meth:`get_nodes`."""
        self._no_filters(filters, "get_nodes")
        self._fetchable()
        if not node_ids:
            return []
        hits = await self._call("fetch", [point_id(n) for n in node_ids])
        return [self._node(h) for h in hits]

    def clear(self) -> None:
        """Delete every node (the collection and its signature stay)."""
        if not hasattr(self._store, "clear"):
            raise NotImplementedError(f"{type(self._store).__name__} has no clear()")
        self._store.clear()

    async def aclear(self) -> None:
        """The async twin of :meth:`clear`."""
        if not hasattr(self._store, "clear"):
            raise NotImplementedError(f"{type(self._store).__name__} has no clear()")
        await self._call("clear")

    def close(self) -> None:
        """Close the underlying store."""
        self._store.close()


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
        stored = vector_store.client.read_signature()
        expected = EmbeddingSignature(
            model=embed_model.embedder.model_name,
            dimensions=dims,
            late_chunking=vector_store.late_chunking,
        )
        check_signature(expected, stored, collection=vector_store._collection())
        return
    size = _qdrant_size(vector_store)
    if size is not None and size != dims:
        name = getattr(vector_store, "collection_name", "?")
        raise DimensionMismatchError(
            f"Collection {name!r} holds {size}-d vectors but the embedding makes {dims}-d ones. "
            f"Fix: JinaV3Embedding(dimensions={size}), or a new collection for {dims}-d vectors."
        )


def _qdrant_size(vector_store: Any) -> int | None:
    client = getattr(vector_store, "client", None)
    name = getattr(vector_store, "collection_name", None)
    if client is None or name is None or not hasattr(client, "collection_exists"):
        return None
    if not client.collection_exists(name):
        return None
    vectors = client.get_collection(name).config.params.vectors
    if isinstance(vectors, dict):
        dense = getattr(vector_store, "dense_vector_name", None) or ""
        vectors = vectors.get(dense) or next(iter(vectors.values()), None)
    size = getattr(vectors, "size", None)
    return size if isinstance(size, int) else None
