"""Vector-store side of the core: documents, records, hits, the embedding signature, the
small `VectorStore` protocol (and its async twin) that every connector in
`jina_v3.connectors` implements, and `VectorIndex` / `AsyncVectorIndex` on top of them.

No database is imported here; connectors translate these types to their client's API.
Helpers for connectors: `check_signature` (the typed mismatch error with its fix),
`prefix_vectors` (funnel prefix, re-normalised), `record_payload` / `hit_from_payload`
(flat payload with the reserved keys), `batched`, and `ThreadedAsyncMixin` (async twins
running the sync methods in a worker thread).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from jina_v3.errors import (
    ConfigurationError,
    DimensionMismatchError,
    SignatureMismatchError,
    StoreError,
)

__all__ = [
    "AsyncVectorIndex",
    "AsyncVectorStore",
    "Document",
    "EmbeddingSignature",
    "Hit",
    "Record",
    "ThreadedAsyncMixin",
    "VectorIndex",
    "VectorStore",
    "check_signature",
    "point_id",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")
S = TypeVar("S")

#: Namespace of the deterministic point ids (uuid5 of "document id#chunk index").
ID_NAMESPACE = uuid.UUID("5f0c6f0e-4b7e-5a39-9d7e-6a8f3c9b1e21")
#: Metadata keys reserved by the library in every stored point's payload.
TEXT_KEY, DOCUMENT_ID_KEY, CHUNK_INDEX_KEY = "text", "document_id", "chunk_index"


@dataclass(frozen=True)
class Document:
    """A document to index: plain text, or the list of its chunks (late chunking)."""

    id: str
    text: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    chunks: Sequence[str] | None = None


@dataclass(frozen=True)
class Record:
    """One point to write: a document, or one chunk of one."""

    id: str  # deterministic: point_id(document_id, chunk_index)
    vector: np.ndarray  # float32 (dimensions,), or uint8 packed bits for embedding_type ubinary
    text: str
    metadata: Mapping[str, Any]
    document_id: str
    chunk_index: int | None = None


@dataclass(frozen=True)
class Hit:
    """A search result."""

    id: str
    score: float
    text: str
    metadata: Mapping[str, Any]
    document_id: str
    chunk_index: int | None = None


def point_id(document_id: str, chunk_index: int | None = None) -> str:
    """The stable id of a document or chunk: re-ingesting the same input overwrites it."""
    key = document_id if chunk_index is None else f"{document_id}#{chunk_index}"
    return str(uuid.uuid5(ID_NAMESPACE, key))


@dataclass(frozen=True)
class EmbeddingSignature:
    """How a collection's vectors were made; stored with the collection and checked on use."""

    model: str
    dimensions: int
    query_task: str | None = "retrieval.query"
    passage_task: str | None = "retrieval.passage"
    normalized: bool = True
    embedding_type: str = "float"
    late_chunking: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> EmbeddingSignature:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})  # type: ignore[arg-type]

    def differences(self, stored: EmbeddingSignature) -> list[str]:
        """Human-readable `field: stored X, this index Y` for every field that differs."""
        mine, theirs = self.to_dict(), stored.to_dict()
        return [
            f"{key}: collection has {theirs[key]!r}, this index uses {mine[key]!r}"
            for key in mine
            if mine[key] != theirs[key]
        ]


def check_signature(
    expected: EmbeddingSignature, stored: EmbeddingSignature | None, *, collection: str
) -> None:
    """Raise if `stored` (a collection's signature) differs from `expected` (this index's).

    Raises:
        DimensionMismatchError: The vector sizes differ (the message gives the right
            ``dimensions``).
        SignatureMismatchError: Another model, task pair, normalisation, embedding type or
            late-chunking setting.
    """
    if stored is None or stored == expected:
        return
    diffs = expected.differences(stored)
    fixes = "use a new collection name, or pass recreate=True to drop it and rebuild it "
    fixes += "(this deletes its data)"
    if stored.dimensions != expected.dimensions:
        raise DimensionMismatchError(
            f"Collection {collection!r} holds {stored.dimensions}-d vectors but this index "
            f"makes {expected.dimensions}-d ones ({'; '.join(diffs)}). Fix: pass "
            f"dimensions={stored.dimensions} to use the collection as it is, or {fixes}."
        )
    raise SignatureMismatchError(
        f"Collection {collection!r} was built with other embedding settings: "
        f"{'; '.join(diffs)}. Fix: build the index with the collection's settings, or {fixes}."
    )


def prefix_vectors(vectors: np.ndarray, dimensions: int) -> np.ndarray:
    """The Matryoshka prefix of each row (first `dimensions` values), re-normalised."""
    prefix = np.asarray(vectors, dtype=np.float32)[..., :dimensions]
    norms = np.linalg.norm(prefix, axis=-1, keepdims=True)
    return np.ascontiguousarray(prefix / np.maximum(norms, 1e-12), dtype=np.float32)


def record_payload(record: Record) -> dict[str, Any]:
    """The flat payload a store writes: user metadata plus the reserved keys (no nulls)."""
    payload = dict(record.metadata)
    payload[TEXT_KEY] = record.text
    payload[DOCUMENT_ID_KEY] = record.document_id
    if record.chunk_index is not None:
        payload[CHUNK_INDEX_KEY] = record.chunk_index
    return payload


def hit_from_payload(id: str, score: float, payload: Mapping[str, Any]) -> Hit:
    """Split a stored payload back into a :class:`Hit` (reserved keys out of `metadata`)."""
    metadata = {k: v for k, v in payload.items() if k not in RESERVED_KEYS}
    chunk = payload.get(CHUNK_INDEX_KEY)
    return Hit(
        id=str(id),
        score=float(score),
        text=str(payload.get(TEXT_KEY, "")),
        metadata=metadata,
        document_id=str(payload.get(DOCUMENT_ID_KEY, "")),
        chunk_index=None if chunk is None else int(chunk),
    )


RESERVED_KEYS = frozenset((TEXT_KEY, DOCUMENT_ID_KEY, CHUNK_INDEX_KEY))


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


@runtime_checkable
class VectorStore(Protocol):
    """What a database connector provides. Async twins carry an `a` prefix (AsyncVectorStore).

    A store holds one collection. ``filter`` is a Mongo-style dict (see :mod:`jina_v3.filters`)
    or the database's native filter object, passed through untouched. Scores are similarities:
    higher is better. Client exceptions are wrapped in :class:`StoreError`.
    """

    def ensure_collection(self, signature: EmbeddingSignature, *, recreate: bool = False) -> None:
        """Create the collection for `signature`, or check an existing one against it
        (SignatureMismatchError / DimensionMismatchError, nothing written); `recreate` drops
        an existing collection first."""
        ...

    def read_signature(self) -> EmbeddingSignature | None:
        """The signature stored with the collection (None if there is no collection)."""
        ...

    def upsert(self, records: Sequence[Record]) -> None:
        """Write records (insert or overwrite by id), batched to the database's limits."""
        ...

    def query(self, vector: np.ndarray, *, k: int, filter: Any | None = None) -> list[Hit]:
        """The `k` nearest points to `vector` (best first) that match `filter`."""
        ...

    def delete(
        self, *, ids: Sequence[str] | None = None, document_ids: Sequence[str] | None = None
    ) -> None:
        """Delete points by point id, and/or every point (chunk) of the given documents."""
        ...

    def count(self) -> int:
        """Number of points in the collection (0 if there is none)."""
        ...

    def close(self) -> None:
        """Release the client (only if the store created it)."""
        ...


@runtime_checkable
class AsyncVectorStore(Protocol):
    """The async twins of :class:`VectorStore` (same arguments, awaitable)."""

    async def aensure_collection(
        self, signature: EmbeddingSignature, *, recreate: bool = False
    ) -> None: ...

    async def aread_signature(self) -> EmbeddingSignature | None: ...

    async def aupsert(self, records: Sequence[Record]) -> None: ...

    async def aquery(
        self, vector: np.ndarray, *, k: int, filter: Any | None = None
    ) -> list[Hit]: ...

    async def adelete(
        self, *, ids: Sequence[str] | None = None, document_ids: Sequence[str] | None = None
    ) -> None: ...

    async def acount(self) -> int: ...

    async def aclose(self) -> None: ...


class ThreadedAsyncMixin:
    """Async twins that run the sync methods in a worker thread, for clients without a
    native async API (or whose async client cannot share an embedded engine's data)."""

    async def aensure_collection(
        self, signature: EmbeddingSignature, *, recreate: bool = False
    ) -> None:
        await asyncio.to_thread(self.ensure_collection, signature, recreate=recreate)  # type: ignore[attr-defined]

    async def aread_signature(self) -> EmbeddingSignature | None:
        return await asyncio.to_thread(self.read_signature)  # type: ignore[attr-defined]

    async def aupsert(self, records: Sequence[Record]) -> None:
        await asyncio.to_thread(self.upsert, records)  # type: ignore[attr-defined]

    async def aquery(self, vector: np.ndarray, *, k: int, filter: Any | None = None) -> list[Hit]:
        return await asyncio.to_thread(self.query, vector, k=k, filter=filter)  # type: ignore[attr-defined]

    async def adelete(
        self, *, ids: Sequence[str] | None = None, document_ids: Sequence[str] | None = None
    ) -> None:
        await asyncio.to_thread(self.delete, ids=ids, document_ids=document_ids)  # type: ignore[attr-defined]

    async def acount(self) -> int:
        return await asyncio.to_thread(self.count)  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)  # type: ignore[attr-defined]

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # type: ignore[attr-defined]

    async def __aenter__(self: S) -> S:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# -- the high-level index ----------------------------------------------------------------------

_STORABLE_TYPES = ("float", "ubinary")


class _IndexBase:
    def __init__(
        self,
        embedder: Any,
        store: Any,
        *,
        dimensions: int | None = None,
        late_chunking: bool = False,
        chunker: Callable[[str], list[str]] | None = None,
        batch_size: int = 64,
        embedding_type: str = "float",
        truncate: bool = False,
        recreate: bool = False,
    ) -> None:
        from jina_v3._encoding import check_dimensions

        if embedding_type not in _STORABLE_TYPES:
            raise ConfigurationError(
                f"embedding_type={embedding_type!r} cannot be stored; use 'float' (with an "
                "optional funnel or binary quantization in the store) or 'ubinary' (native "
                "binary vectors, e.g. Milvus BINARY_VECTOR)."
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be a positive integer, got {batch_size!r}")
        if chunker is not None and not callable(chunker):
            raise ConfigurationError("chunker must be a callable taking a text, returning chunks")
        full = embedder.max_dimensions
        self._dimensions = check_dimensions(dimensions, full) or full
        if embedding_type == "ubinary" and self._dimensions % 8:
            raise ConfigurationError(
                f"embedding_type='ubinary' packs 8 bits per byte: dimensions must be a multiple "
                f"of 8, got {self._dimensions}."
            )
        self._embedder = embedder
        self._store = store
        self._late_chunking = bool(late_chunking)
        self._chunker = chunker
        self._batch_size = batch_size
        self._embedding_type = embedding_type
        self._truncate = truncate
        self._recreate = recreate
        self._ready = False
        self._signature = EmbeddingSignature(
            model=embedder.model_name,
            dimensions=self._dimensions,
            normalized=True,
            embedding_type=embedding_type,
            late_chunking=self._late_chunking,
        )

    @property
    def signature(self) -> EmbeddingSignature:
        """The embedding signature this index writes and checks."""
        return self._signature

    @property
    def dimensions(self) -> int:
        """Vector size of the collection (the embedder's full size unless set)."""
        return self._dimensions

    @property
    def store(self) -> Any:
        """The vector store this index writes to."""
        return self._store

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self._signature.model!r}, "
            f"dimensions={self._dimensions}, store={type(self._store).__name__})"
        )

    def _collection_name(self) -> str:
        return str(getattr(self._store, "collection", type(self._store).__name__))

    def _verify(self, stored: EmbeddingSignature | None) -> None:
        if stored is None:
            raise StoreError(
                f"Collection {self._collection_name()!r} no longer exists or lost its embedding "
                "signature (dropped or changed while this index was using it); create a new "
                "VectorIndex to rebuild it."
            )
        check_signature(self._signature, stored, collection=self._collection_name())

    def _chunks_of(self, doc: Document) -> list[str] | None:
        if doc.chunks is not None:
            chunks = [str(c) for c in doc.chunks] if not isinstance(doc.chunks, str) else None
            if not chunks:
                raise ConfigurationError(
                    f"Document {doc.id!r}: chunks must be a non-empty list of strings"
                )
            return chunks
        if self._chunker is None and not self._late_chunking:
            return None
        if self._chunker is None:
            from jina_v3.chunking import SentenceChunker

            self._chunker = SentenceChunker.for_embedder(self._embedder)
        chunks = list(self._chunker(doc.text))
        return chunks or [doc.text]

    def _batches(self, documents: Iterable[Document]) -> Iterator[list[_Planned]]:
        """Validated documents with their chunks, grouped into batches of ~batch_size points."""
        if isinstance(documents, (Document, str)):
            raise ConfigurationError("add() takes an iterable of Document, not a single one")
        # Keyed by document id: a document repeated within one batch is written once, as its
        # last version (some databases refuse duplicate ids in one request).
        batch: dict[str, _Planned] = {}
        points = 0
        for doc in documents:
            _check_document(doc)
            chunks = self._chunks_of(doc)
            previous = batch.pop(doc.id, None)
            if previous is not None:
                points -= _points(previous)
            planned = _Planned(doc, chunks)
            batch[doc.id] = planned
            points += _points(planned)
            if points >= self._batch_size:
                yield list(batch.values())
                batch, points = {}, 0
        if batch:
            yield list(batch.values())

    def _embed_args(self) -> dict[str, Any]:
        return {"dimensions": self._dimensions, "embedding_type": self._embedding_type}

    @staticmethod
    def _plain_texts(batch: list[_Planned]) -> list[str]:
        return [p.doc.text for p in batch if p.chunks is None]

    def _independent_chunks(self, batch: list[_Planned]) -> list[str]:
        if self._late_chunking:
            return []
        return [c for p in batch if p.chunks is not None for c in p.chunks]

    def _late_documents(self, batch: list[_Planned]) -> list[list[str]]:
        if not self._late_chunking:
            return []
        return [p.chunks for p in batch if p.chunks is not None]

    def _records(
        self,
        batch: list[_Planned],
        plain: np.ndarray | None,
        independent: np.ndarray | None,
        late: list[np.ndarray],
    ) -> list[Record]:
        records: list[Record] = []
        i_plain = i_indep = i_late = 0
        for planned in batch:
            doc = planned.doc
            meta = dict(doc.metadata)
            if planned.chunks is None:
                assert plain is not None
                vector = plain[i_plain]
                i_plain += 1
                records.append(Record(point_id(doc.id), vector, doc.text, meta, doc.id, None))
                continue
            if self._late_chunking:
                vectors = late[i_late]
                i_late += 1
            else:
                assert independent is not None
                vectors = independent[i_indep : i_indep + len(planned.chunks)]
                i_indep += len(planned.chunks)
            for j, chunk in enumerate(planned.chunks):
                records.append(Record(point_id(doc.id, j), vectors[j], chunk, meta, doc.id, j))
        return records

    @staticmethod
    def _check_k(k: int) -> int:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigurationError(f"k must be a positive integer, got {k!r}")
        return k

    @staticmethod
    def _check_query(query: str) -> str:
        if not isinstance(query, str):
            raise ConfigurationError(f"query must be a string, got {type(query).__name__}")
        return query


class VectorIndex(_IndexBase):
    """Documents in, hits out: the embedder's passage side writes, its query side searches.

    The collection is created on first use with this index's :class:`EmbeddingSignature`
    (model, dimensions, task pair, normalisation, embedding type, late chunking); every
    ``add`` and ``search`` call checks the stored signature first, so queries are never
    embedded with the wrong task or size.

    Example:
        >>> from jina_v3 import Embedder
        >>> from jina_v3.connectors.qdrant import QdrantStore
        >>> store = QdrantStore("docs", location=":memory:")
        >>> index = VectorIndex(Embedder(), store, dimensions=256)
        >>> index.add([Document("berlin", "Berlin is the capital of Germany.", {"lang": "en"})])
        1
        >>> index.search("capital of Germany", k=3, filter={"lang": "en"})[0].document_id
        'berlin'

    Args:
        embedder: An :class:`~jina_v3.Embedder` (local or API).
        store: A vector store (``jina_v3.connectors.*``) holding one collection.
        dimensions: Matryoshka size of the stored vectors (None: the model's full size).
        late_chunking: Embed each document's chunks in one pass (late chunking) and store
            one point per chunk; documents without ``chunks`` are split by ``chunker``.
        chunker: Callable text -> chunks; the default (with late chunking) is a
            :class:`~jina_v3.chunking.SentenceChunker` that counts the embedder's tokens.
            Without late chunking, chunks are embedded independently.
        batch_size: Points embedded and written per batch (documents are streamed).
        embedding_type: ``"float"`` or ``"ubinary"`` (packed sign bits, for databases with a
            native binary vector type).
        truncate: Cut passages and queries over the model's context instead of raising.
        recreate: Drop an existing collection on first use and build it anew.

    Raises:
        ConfigurationError: Invalid arguments.
    """

    def _ensure(self) -> None:
        if not self._ready:
            self._store.ensure_collection(self._signature, recreate=self._recreate)
            self._ready = True
            self._recreate = False  # only ever once
        else:
            self._verify(self._store.read_signature())

    def add(self, documents: Iterable[Document]) -> int:
        """Embed and write documents in batches; re-adding a document overwrites it.

        Chunked documents first lose their previous chunks, so a document re-added with
        fewer chunks leaves none behind.

        Args:
            documents: Any iterable of :class:`Document` (consumed lazily, batch by batch).

        Returns:
            The number of points written (one per document, or one per chunk).

        Raises:
            SignatureMismatchError, DimensionMismatchError: The collection was built with
                other settings (nothing is written).
            StoreError: The database failed; earlier batches stay written, and re-running
                the same ``add`` completes the ingestion without duplicates.
        """
        self._ensure()
        written = 0
        for batch in self._batches(documents):
            args = self._embed_args()
            plain_texts = self._plain_texts(batch)
            indep_texts = self._independent_chunks(batch)
            late_docs = self._late_documents(batch)
            plain = (
                self._embedder.encode_passages(plain_texts, truncate=self._truncate, **args)
                if plain_texts
                else None
            )
            indep = (
                self._embedder.encode_passages(indep_texts, truncate=self._truncate, **args)
                if indep_texts
                else None
            )
            late = self._embedder.encode_late_chunked(late_docs, **args) if late_docs else []
            records = self._records(batch, plain, indep, late)
            chunked = [p.doc.id for p in batch if p.chunks is not None]
            if chunked:
                self._store.delete(document_ids=chunked)
            self._store.upsert(records)
            written += len(records)
            logger.debug("upserted %d points into %s", len(records), self._collection_name())
        return written

    def search(self, query: str, k: int = 10, filter: Any | None = None) -> list[Hit]:
        """The `k` best passages (or chunks) for `query`, embedded with the query task.

        Args:
            query: The query text.
            k: Number of hits.
            filter: Mongo-style metadata filter (``$eq $ne $gt $gte $lt $lte $in $nin $and
                $or``) or the database's native filter object.

        Returns:
            Hits, best first, each with id, score, text, metadata, document id and chunk index.

        Raises:
            SignatureMismatchError, DimensionMismatchError: The collection does not match.
            UnsupportedFilterError: The filter uses an operator outside the dialect.
        """
        k = self._check_k(k)
        query = self._check_query(query)
        self._ensure()
        vector = self._embedder.encode_queries(query, truncate=self._truncate, **self._embed_args())
        return self._store.query(vector, k=k, filter=filter)

    def delete(self, document_ids: Sequence[str]) -> None:
        """Delete documents (all their chunks) by document id."""
        self._ensure()
        self._store.delete(document_ids=_check_ids(document_ids))

    def count(self) -> int:
        """Number of points (documents or chunks) in the collection."""
        return int(self._store.count())

    def close(self) -> None:
        """Close the store (and its client, if the store created it)."""
        self._store.close()

    def __enter__(self) -> VectorIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncVectorIndex(_IndexBase):
    """The async twin of :class:`VectorIndex`: same constructor, awaitable methods.

    Works with an :class:`~jina_v3.AsyncEmbedder` (awaited) or an :class:`~jina_v3.Embedder`
    (run in a worker thread), and with the store's async twins (``aupsert`` ...) when it has
    them, else its sync methods in a worker thread.
    """

    async def _embed(self, method: str, *args: Any, **kwargs: Any) -> Any:
        fn = getattr(self._embedder, method)
        if inspect.iscoroutinefunction(fn):
            return await fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def _store_call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        afn = getattr(self._store, "a" + method, None)
        if afn is not None:
            return await afn(*args, **kwargs)
        return await asyncio.to_thread(getattr(self._store, method), *args, **kwargs)

    async def _ensure(self) -> None:
        if not self._ready:
            await self._store_call("ensure_collection", self._signature, recreate=self._recreate)
            self._ready = True
            self._recreate = False
        else:
            self._verify(await self._store_call("read_signature"))

    async def add(self, documents: Iterable[Document]) -> int:
        """See :meth:`VectorIndex.add`."""
        await self._ensure()
        written = 0
        for batch in self._batches(documents):
            args = self._embed_args()
            plain_texts = self._plain_texts(batch)
            indep_texts = self._independent_chunks(batch)
            late_docs = self._late_documents(batch)
            plain = (
                await self._embed("encode_passages", plain_texts, truncate=self._truncate, **args)
                if plain_texts
                else None
            )
            indep = (
                await self._embed("encode_passages", indep_texts, truncate=self._truncate, **args)
                if indep_texts
                else None
            )
            late = await self._embed("encode_late_chunked", late_docs, **args) if late_docs else []
            records = self._records(batch, plain, indep, late)
            chunked = [p.doc.id for p in batch if p.chunks is not None]
            if chunked:
                await self._store_call("delete", document_ids=chunked)
            await self._store_call("upsert", records)
            written += len(records)
        return written

    async def search(self, query: str, k: int = 10, filter: Any | None = None) -> list[Hit]:
        """See :meth:`VectorIndex.search`."""
        k = self._check_k(k)
        query = self._check_query(query)
        await self._ensure()
        vector = await self._embed(
            "encode_queries", query, truncate=self._truncate, **self._embed_args()
        )
        return await self._store_call("query", vector, k=k, filter=filter)

    async def delete(self, document_ids: Sequence[str]) -> None:
        """See :meth:`VectorIndex.delete`."""
        await self._ensure()
        await self._store_call("delete", document_ids=_check_ids(document_ids))

    async def count(self) -> int:
        """See :meth:`VectorIndex.count`."""
        return int(await self._store_call("count"))

    async def close(self) -> None:
        """See :meth:`VectorIndex.close`."""
        await self._store_call("close")

    async def __aenter__(self) -> AsyncVectorIndex:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@dataclass(frozen=True)
class _Planned:
    doc: Document
    chunks: list[str] | None


def _points(planned: _Planned) -> int:
    return 1 if planned.chunks is None else len(planned.chunks)


def _check_document(doc: Any) -> None:
    if not isinstance(doc, Document):
        raise ConfigurationError(
            f"add() takes Document objects, got {type(doc).__name__}; wrap texts as "
            "Document(id, text, metadata)."
        )
    if not isinstance(doc.id, str) or not doc.id:
        raise ConfigurationError(f"Document id must be a non-empty string, got {doc.id!r}")
    if not isinstance(doc.text, str):
        raise ConfigurationError(f"Document {doc.id!r}: text must be a string")
    reserved = RESERVED_KEYS & set(doc.metadata)
    if reserved:
        raise ConfigurationError(
            f"Document {doc.id!r}: metadata keys {sorted(reserved)} are reserved by the index "
            "(it stores the text, document id and chunk index under them); rename them."
        )


def _check_ids(document_ids: Sequence[str]) -> list[str]:
    if isinstance(document_ids, str):
        return [document_ids]
    ids = list(document_ids)
    if not all(isinstance(i, str) for i in ids):
        raise ConfigurationError("document_ids must be strings")
    return ids
