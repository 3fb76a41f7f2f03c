"""`VectorIndex` / `AsyncVectorIndex`: documents in, hits out, over one embedder and one store.

Ingestion is one pipeline, the same for both classes:

    documents -> plan (pure: which texts and late-chunked documents to embed, which point
    each vector fills) -> embed (one call per kind) -> records -> delete the documents' old
    points -> upsert

written once as a flow (:mod:`jina_v3._flow`) that the sync class runs with the embedder and
store as they are and the async class runs with their async twins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jina_v3._flow import Call, Flow, InThread, arun, run
from jina_v3.errors import ConfigurationError, StoreError
from jina_v3.store import (
    AsyncVectorStore,
    Document,
    EmbeddingSignature,
    Hit,
    Record,
    check_signature,
    point_id,
)

__all__ = ["AsyncVectorIndex", "IngestPlan", "VectorIndex", "plan_ingest"]

logger = logging.getLogger(__name__)

_STORABLE_TYPES = ("float", "ubinary")

Chunker = Callable[[str], Sequence[str]]


@dataclass(frozen=True)
class _Slot:
    """Where one point's vector comes from: row `row` of the plain texts, or chunk `row` of
    late-chunked document `document`."""

    document: Document
    chunk_index: int | None
    text: str
    late: int | None  # index into IngestPlan.late_documents, None: a row of IngestPlan.texts
    row: int


@dataclass(frozen=True)
class IngestPlan:
    """What one batch of documents needs: the texts to embed one by one, the documents to
    late-chunk (each its own pass), and the point each resulting vector fills."""

    texts: list[str]
    late_documents: list[list[str]]
    slots: list[_Slot]

    @property
    def document_ids(self) -> list[str]:
        return list(dict.fromkeys(slot.document.id for slot in self.slots))

    def records(self, vectors: np.ndarray | None, late: Sequence[np.ndarray]) -> list[Record]:
        """The points, given the embeddings of `texts` and of `late_documents`."""
        records = []
        for slot in self.slots:
            rows = vectors if slot.late is None else late[slot.late]
            assert rows is not None
            doc = slot.document
            records.append(
                Record(
                    point_id(doc.id, slot.chunk_index),
                    rows[slot.row],
                    slot.text,
                    doc.metadata,
                    doc.id,
                    slot.chunk_index,
                )
            )
        return records


def plan_ingest(
    documents: Sequence[tuple[Document, Sequence[str] | None]], *, late_chunking: bool
) -> IngestPlan:
    """Plan one batch: each document with its chunks (None: embedded whole, one point)."""
    texts: list[str] = []
    late_documents: list[list[str]] = []
    slots: list[_Slot] = []
    for doc, chunks in documents:
        if chunks is None:
            slots.append(_Slot(doc, None, doc.text, None, len(texts)))
            texts.append(doc.text)
        elif late_chunking:
            for j, chunk in enumerate(chunks):
                slots.append(_Slot(doc, j, chunk, len(late_documents), j))
            late_documents.append(list(chunks))
        else:
            for j, chunk in enumerate(chunks):
                slots.append(_Slot(doc, j, chunk, None, len(texts)))
                texts.append(chunk)
    return IngestPlan(texts, late_documents, slots)


class _IndexBase:
    def __init__(
        self,
        embedder: Any,
        store: Any,
        *,
        dimensions: int | None = None,
        late_chunking: bool = False,
        chunker: Chunker | None = None,
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

    # -- the flows (written once, run by both classes) ------------------------------------------

    def _ensure_flow(self) -> Flow[None]:
        """Create or check the collection on first use; on later calls re-read its signature
        (another process, or another index on the same store, may have rebuilt it)."""
        if not self._ready:
            yield Call(
                "store", "ensure_collection", (self._signature,), {"recreate": self._recreate}
            )
            self._ready = True
            self._recreate = False  # only ever once
            return
        stored = yield Call("store", "read_signature")
        collection = str(getattr(self._store, "collection", type(self._store).__name__))
        if stored is None:
            raise StoreError(
                f"Collection {collection!r} no longer exists or lost its embedding signature "
                "(dropped or changed while this index was using it); create a new VectorIndex "
                "to rebuild it."
            )
        check_signature(self._signature, stored, collection=collection)

    def _add_flow(self, documents: Iterable[Document]) -> Flow[int]:
        yield from self._ensure_flow()
        embed = {"dimensions": self._dimensions, "embedding_type": self._embedding_type}
        written = 0
        for batch in self._batches(documents):
            plan = plan_ingest(batch, late_chunking=self._late_chunking)
            vectors = None
            if plan.texts:
                kwargs = {**embed, "truncate": self._truncate}
                vectors = yield Call("embedder", "encode_passages", (plan.texts,), kwargs)
            late: list[np.ndarray] = []
            if plan.late_documents:
                late = yield Call("embedder", "encode_late_chunked", (plan.late_documents,), embed)
            records = plan.records(vectors, late)
            # A re-added document replaces all its points, whatever its old shape: delete
            # first, so an interrupted run never leaves a stale chunk beside a new version.
            yield Call("store", "delete", (), {"document_ids": plan.document_ids})
            yield Call("store", "upsert", (records,))
            written += len(records)
            logger.debug("upserted %d points", len(records))
        return written

    def _search_flow(self, query: str, k: int, filter: Any | None) -> Flow[list[Hit]]:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigurationError(f"k must be a positive integer, got {k!r}")
        if not isinstance(query, str):
            raise ConfigurationError(f"query must be a string, got {type(query).__name__}")
        yield from self._ensure_flow()
        kwargs = {
            "dimensions": self._dimensions,
            "embedding_type": self._embedding_type,
            "truncate": self._truncate,
        }
        vector = yield Call("embedder", "encode_queries", (query,), kwargs)
        return (yield Call("store", "query", (vector,), {"k": k, "filter": filter}))

    def _delete_flow(self, document_ids: Sequence[str]) -> Flow[None]:
        if isinstance(document_ids, str):
            document_ids = [document_ids]
        ids = list(document_ids)
        if not all(isinstance(i, str) for i in ids):
            raise ConfigurationError("document_ids must be strings")
        yield from self._ensure_flow()
        yield Call("store", "delete", (), {"document_ids": ids})

    # -- planning helpers (pure) --------------------------------------------------------------

    def _chunks_of(self, doc: Document) -> Sequence[str] | None:
        if doc.chunks is not None:
            return doc.chunks
        if self._chunker is None and not self._late_chunking:
            return None
        if self._chunker is None:
            from jina_v3.chunking import TextChunker

            self._chunker = TextChunker.for_embedder(self._embedder)
        chunks = [c for c in self._chunker(doc.text) if isinstance(c, str) and c.strip()]
        return chunks or [doc.text]

    def _batches(
        self, documents: Iterable[Document]
    ) -> Iterator[list[tuple[Document, Sequence[str] | None]]]:
        """Documents with their chunks, grouped into batches of about batch_size points."""
        if isinstance(documents, (Document, str)):
            raise ConfigurationError("add() takes an iterable of Document, not a single one")
        # Keyed by document id: a document repeated within one batch is written once, as its
        # last version (some databases refuse duplicate ids in one request).
        batch: dict[str, tuple[Document, Sequence[str] | None]] = {}
        points = 0
        for doc in documents:
            if not isinstance(doc, Document):
                raise ConfigurationError(
                    f"add() takes Document objects, got {type(doc).__name__}; wrap texts as "
                    "Document(id, text, metadata)."
                )
            previous = batch.pop(doc.id, None)
            if previous is not None:
                points -= _points(previous[1])
            chunks = self._chunks_of(doc)
            batch[doc.id] = (doc, chunks)
            points += _points(chunks)
            if points >= self._batch_size:
                yield list(batch.values())
                batch, points = {}, 0
        if batch:
            yield list(batch.values())


def _points(chunks: Sequence[str] | None) -> int:
    return 1 if chunks is None else len(chunks)


class VectorIndex(_IndexBase):
    """Documents in, hits out: the embedder's passage side writes, its query side searches.

    The collection is created on first use with this index's :class:`EmbeddingSignature`
    (model, dimensions, task pair, normalisation, embedding type, late chunking); every
    ``add`` and ``search`` call checks the stored signature first, so queries are never
    embedded with the wrong task or size.

    Example:
        >>> from jina_v3 import Document, Embedder, VectorIndex
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
            :class:`~jina_v3.chunking.TextChunker` (semantic-text-splitter, Markdown-aware,
            counting the embedder's tokens); chunks keep their original text.
            Without late chunking, chunks are embedded independently.
        batch_size: Points embedded and written per batch (documents are streamed).
        embedding_type: ``"float"`` or ``"ubinary"`` (packed sign bits, for databases with a
            native binary vector type).
        truncate: Cut passages and queries over the model's context instead of raising.
        recreate: Drop an existing collection on first use and build it anew.

    Raises:
        ConfigurationError: Invalid arguments.
    """

    def _run(self, flow: Flow[Any]) -> Any:
        return run(flow, embedder=self._embedder, store=self._store)

    def add(self, documents: Iterable[Document]) -> int:
        """Embed and write documents in batches; re-adding a document replaces all its points.

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
        return self._run(self._add_flow(documents))

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
        return self._run(self._search_flow(query, k, filter))

    def delete(self, document_ids: Sequence[str]) -> None:
        """Delete documents (all their chunks) by document id."""
        self._run(self._delete_flow(document_ids))

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


class _AsyncStoreView:
    """A store's async twins under the sync names the flows call."""

    def __init__(self, store: AsyncVectorStore) -> None:
        self._store = store

    async def ensure_collection(self, signature: EmbeddingSignature, *, recreate: bool) -> None:
        await self._store.aensure_collection(signature, recreate=recreate)

    async def read_signature(self) -> EmbeddingSignature | None:
        return await self._store.aread_signature()

    async def upsert(self, records: Sequence[Record]) -> None:
        await self._store.aupsert(records)

    async def query(self, vector: np.ndarray, *, k: int, filter: Any | None) -> list[Hit]:
        return await self._store.aquery(vector, k=k, filter=filter)

    async def delete(self, *, document_ids: Sequence[str]) -> None:
        await self._store.adelete(document_ids=document_ids)

    async def count(self) -> int:
        return await self._store.acount()

    async def close(self) -> None:
        await self._store.aclose()


class AsyncVectorIndex(_IndexBase):
    """The async twin of :class:`VectorIndex`: same constructor, awaitable methods.

    Works with an :class:`~jina_v3.AsyncEmbedder` (awaited) or an :class:`~jina_v3.Embedder`
    (run in a worker thread), and with the store's async twins (``aupsert`` ...) when it has
    them, else its sync methods in a worker thread.
    """

    def __init__(self, embedder: Any, store: Any, **options: Any) -> None:
        super().__init__(embedder, store, **options)
        from jina_v3.embedder import AsyncEmbedder

        self._aembedder = embedder if isinstance(embedder, AsyncEmbedder) else InThread(embedder)
        self._astore = (
            _AsyncStoreView(store) if isinstance(store, AsyncVectorStore) else InThread(store)
        )

    async def _arun(self, flow: Flow[Any]) -> Any:
        return await arun(flow, embedder=self._aembedder, store=self._astore)

    async def add(self, documents: Iterable[Document]) -> int:
        """See :meth:`VectorIndex.add`."""
        return await self._arun(self._add_flow(documents))

    async def search(self, query: str, k: int = 10, filter: Any | None = None) -> list[Hit]:
        """See :meth:`VectorIndex.search`."""
        return await self._arun(self._search_flow(query, k, filter))

    async def delete(self, document_ids: Sequence[str]) -> None:
        """See :meth:`VectorIndex.delete`."""
        await self._arun(self._delete_flow(document_ids))

    async def count(self) -> int:
        """See :meth:`VectorIndex.count`."""
        return int(await self._astore.count())

    async def aclose(self) -> None:
        """Close the store (see :meth:`VectorIndex.close`)."""
        await self._astore.close()

    async def __aenter__(self) -> AsyncVectorIndex:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
