"""`VectorIndex` / `AsyncVectorIndex`: documents in, hits out, over one embedder and one store.

Ingestion is one pipeline, the same for both classes:

    documents -> batches -> skip the unchanged (content hash of the stored head point) ->
    plan (pure, :mod:`jina_v3.index.plan`) -> embed (one call per kind) -> records, less
    the documents the store cannot hold (checked against its limits, warned about) ->
    writer (upsert, heads last; then delete the documents' stale points; in the
    background, so batch n is written while batch n+1 is embedded)

written once as a flow (:mod:`jina_v3._flow`) that the sync class runs with the embedder and
store as they are and the async class runs with their async twins.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from typing import Any, Literal, TypedDict, Unpack

import numpy as np

from jina_v3._flow import Call, Flow, InThread, arun, run
from jina_v3.errors import ConfigurationError, InputTooLongError, StoreError
from jina_v3.index.chunking import TextChunker
from jina_v3.index.drivers import AsyncStoreView, AsyncWriter, Writer
from jina_v3.index.hybrid import search_weights, with_keywords
from jina_v3.index.keywords import KeywordEncoder, encoder_for
from jina_v3.index.plan import (
    IngestPlan,
    IngestSummary,
    Planned,
    content_hash,
    head_ids,
    plan_ingest,
    refused_documents,
    stale_points,
)
from jina_v3.index.store import (
    AsyncVectorStore,
    Document,
    EmbeddingSignature,
    Hit,
    check_signature,
)
from jina_v3.progress import Progress
from jina_v3.types import AsyncClosing, Closing

__all__ = ["AsyncVectorIndex", "IngestOptions", "IngestSummary", "VectorIndex"]


class IngestOptions(TypedDict, total=False):
    """The keyword arguments of ``ingest``.

    progress: show progress (True), or report to this :class:`~jina_v3.progress.Progress`.
    skip_unchanged: skip documents whose content hash equals the stored one (default True).
    stop: checked after each batch: when it returns True, the batch in flight is written and
        ingestion ends (``interrupted=True``); re-running continues.
    """

    progress: bool | Progress
    skip_unchanged: bool
    stop: Callable[[], bool] | None


logger = logging.getLogger(__name__)

_STORABLE_TYPES = ("float", "ubinary")

Chunker = Callable[[str], Sequence[str]]

#: ``chunker="default"``: :meth:`TextChunker.for_embedder`, the chunker ``jina-v3 index`` uses.
DEFAULT_CHUNKER = "default"


class _IndexBase:
    def __init__(
        self,
        embedder: Any,
        store: Any,
        *,
        dimensions: int | None = None,
        late_chunking: bool = False,
        chunker: Chunker | Literal["default"] | None = DEFAULT_CHUNKER,
        batch_size: int = 256,
        embedding_type: str = "float",
        truncate: bool = False,
        recreate: bool = False,
        hybrid: bool = False,
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
        if not (chunker is None or chunker == DEFAULT_CHUNKER or callable(chunker)):
            raise ConfigurationError(
                f"chunker must be a callable taking a text and returning its chunks, "
                f"{DEFAULT_CHUNKER!r} (the chunker of `jina-v3 index`), or None (no chunking); "
                f"got {chunker!r}"
            )
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
        self._chunker: Chunker | str | None = chunker  # DEFAULT_CHUNKER: built on first use
        self._batch_size = batch_size
        self._embedding_type = embedding_type
        self._truncate = truncate
        self._recreate = recreate
        self._ready = False
        # the keyword channel: BM25 weights over the embedder's own tokenizer
        self._keywords: KeywordEncoder | None = encoder_for(embedder) if hybrid else None
        self._signature = EmbeddingSignature(
            model=embedder.model_name,
            dimensions=self._dimensions,
            normalized=True,
            embedding_type=embedding_type,
            late_chunking=self._late_chunking,
            keywords=None if self._keywords is None else self._keywords.identity,
        )
        self._adopt()

    @property
    def signature(self) -> EmbeddingSignature:
        """The embedding signature this index writes and checks."""
        return self._signature

    @property
    def dimensions(self) -> int:
        """Vector size of the collection (the embedder's full size unless set)."""
        return self._dimensions

    def _adopt(self) -> None:
        """The sync index uses the embedder and store as they are; the async one wraps them."""

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

    def _ingest_flow(
        self,
        documents: Iterable[Document],
        progress: bool | Progress = False,
        skip_unchanged: bool = True,
        stop: Callable[[], bool] | None = None,
    ) -> Flow[IngestSummary]:
        progress = _progress(progress, documents)
        summary = IngestSummary()
        started = time.perf_counter()
        usage = getattr(self._embedder, "usage", None)
        tokens_before = usage.total_tokens if usage is not None else 0
        yield from self._ensure_flow()
        embed = {"dimensions": self._dimensions, "embedding_type": self._embedding_type}
        try:
            for batch in self._batches(documents):
                summary.documents += len(batch)
                stored = yield from self._stored_hashes(batch)
                todo = [
                    p
                    for p in batch
                    if not (skip_unchanged and stored.get(p.document.id) == p.digest)
                ]
                summary.unchanged += len(batch) - len(todo)
                points = 0
                if todo:
                    plan = plan_ingest(todo, late_chunking=self._late_chunking)
                    vectors, late = yield from self._embed_flow(plan, embed)
                    records = with_keywords(plan.records(vectors, late), self._keywords)
                    versions = plan.versions
                    refused = refused_documents(records, getattr(self._store, "check_record", None))
                    if refused:
                        records = [r for r in records if r.document_id not in refused]
                        versions = {d: h for d, h in versions.items() if d not in refused}
                        summary.refused += len(refused)
                    summary.replaced += sum(d in stored for d in versions)
                    summary.indexed += sum(d not in stored for d in versions)
                    # a re-added document replaces all its points, whatever its old shape
                    yield Call("writer", "write", (records, stale_points(versions)))
                    points = len(records)
                summary.points += points
                tokens = (usage.total_tokens if usage is not None else 0) - tokens_before
                if progress is not None:
                    progress.update(len(batch), points=points, tokens=tokens - summary.tokens)
                summary.tokens = tokens
                if stop is not None and stop():
                    summary.interrupted = True
                    break
        finally:
            if progress is not None:
                progress.close()
            yield Call("writer", "wait")  # the batch in flight is written, or its error raised
        summary.seconds = time.perf_counter() - started
        return summary

    def _embed_flow(
        self, plan: IngestPlan, embed: dict[str, Any]
    ) -> Flow[tuple[np.ndarray | None, list[np.ndarray]]]:
        """The vectors of a batch's plain texts and late-chunked documents; an over-long input
        is named by its document and chunk (the embedder only knows its row)."""
        vectors, late, in_late_call = None, [], False
        try:
            if plan.texts:
                kwargs = {**embed, "truncate": self._truncate}
                vectors = yield Call("embedder", "encode_passages", (plan.texts,), kwargs)
            in_late_call = True
            if plan.late_documents:
                late = yield Call("embedder", "encode_late_chunked", (plan.late_documents,), embed)
        except InputTooLongError as exc:
            raise plan.too_long(exc, late=in_late_call) from None
        return vectors, late

    def _stored_hashes(self, batch: list[Planned]) -> Flow[dict[str, str]]:
        """Content hash of each document's stored version (missing: not stored)."""
        ids = [i for p in batch for i in head_ids(p.document.id)]
        hits = yield Call("store", "fetch", (ids,))
        return {h.document_id: h.content_hash or "" for h in hits}

    def _search_flow(
        self,
        query: str,
        k: int,
        filter: Any | None,
        mode: str = "dense",
        fusion: str = "rrf",
        weights: Sequence[float] | None = None,
    ) -> Flow[list[Hit]]:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigurationError(f"k must be a positive integer, got {k!r}")
        if not isinstance(query, str):
            raise ConfigurationError(f"query must be a string, got {type(query).__name__}")
        pair = search_weights(mode, fusion, weights, self._keywords)
        yield from self._ensure_flow()
        options = {"k": k, "filter": filter}
        if mode == "keyword":
            assert self._keywords is not None
            terms = self._keywords.query(query)
            return (yield Call("store", "query_keywords", (terms,), options))
        kwargs = {
            "dimensions": self._dimensions,
            "embedding_type": self._embedding_type,
            "truncate": self._truncate,
        }
        vector = yield Call("embedder", "encode_queries", (query,), kwargs)
        if mode == "dense":
            return (yield Call("store", "query", (vector,), options))
        assert self._keywords is not None
        terms = self._keywords.query(query)
        options["weights"] = pair
        return (yield Call("store", "query_hybrid", (vector, terms), options))

    def _delete_flow(self, document_ids: Sequence[str]) -> Flow[None]:
        if isinstance(document_ids, str):
            document_ids = [document_ids]
        ids = list(document_ids)
        if not all(isinstance(i, str) for i in ids):
            raise ConfigurationError("document_ids must be strings")
        yield from self._ensure_flow()
        yield Call("store", "delete", (), {"document_ids": ids})

    # -- planning helpers (pure) --------------------------------------------------------------

    def _the_chunker(self) -> Chunker | None:
        if isinstance(self._chunker, str):  # DEFAULT_CHUNKER, built once it is needed
            self._chunker = TextChunker.for_embedder(self._embedder)
        return self._chunker

    def _chunks_of(self, doc: Document) -> Sequence[str] | None:
        if doc.chunks is not None:
            return doc.chunks
        chunker = self._the_chunker()
        if chunker is None:  # one point per document (late chunking: one chunk)
            return [doc.text] if self._late_chunking else None
        chunks = [c for c in chunker(doc.text) if isinstance(c, str) and c.strip()]
        return chunks or [doc.text]

    def _chunker_id(self) -> str:
        """What the content hash records of the chunker (changing it re-embeds)."""
        chunker = self._the_chunker()
        if chunker is None or isinstance(chunker, TextChunker):
            return repr(chunker)
        return getattr(chunker, "__qualname__", type(chunker).__qualname__)

    def _batches(self, documents: Iterable[Document]) -> Iterator[list[Planned]]:
        """Documents with their chunks, grouped into batches of about batch_size points."""
        if isinstance(documents, (Document, str)):
            raise ConfigurationError("add() takes an iterable of Document, not a single one")
        # Keyed by document id: a document repeated within one batch is written once, as its
        # last version (some databases refuse duplicate ids in one request).
        batch: dict[str, Planned] = {}
        points = 0
        for doc in documents:
            if not isinstance(doc, Document):
                raise ConfigurationError(
                    f"add() takes Document objects, got {type(doc).__name__}; wrap texts as "
                    "Document(id, text, metadata)."
                )
            previous = batch.pop(doc.id, None)
            if previous is not None:
                points -= previous.points
            chunks = self._chunks_of(doc)
            planned = Planned(doc, chunks, content_hash(doc, chunks, self._chunker_id()))
            batch[doc.id] = planned
            points += planned.points
            if points >= self._batch_size:
                yield list(batch.values())
                batch, points = {}, 0
        if batch:
            yield list(batch.values())


class VectorIndex(_IndexBase, Closing):
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
        chunker: How documents without ``chunks`` are split, one point per chunk (chunks
            keep their original text). ``"default"``: the chunker of ``jina-v3 index``, a
            :class:`~jina_v3.chunking.TextChunker` of ``DEFAULT_CHUNK_TOKENS`` (256) counting
            the embedder's tokens, Markdown-aware; a callable text -> chunks; or None: no
            chunking, each document is one point (with late chunking, one chunk). Without
            late chunking, chunks are embedded independently.
        batch_size: Points embedded and written per batch (documents are streamed).
        embedding_type: ``"float"`` or ``"ubinary"`` (packed sign bits, for databases with a
            native binary vector type).
        truncate: Cut passages and queries over the model's context instead of raising
            (an over-long passage raises InputTooLongError naming its document and chunk).
        recreate: Drop an existing collection on first use and build it anew.
        hybrid: Also store the keyword channel (BM25 over the model's own tokens, see
            :mod:`jina_v3.index.keywords`) for ``search(mode="keyword" | "hybrid")``; the
            signature records it. An API embedder needs ``tokenizer=`` (or the file cached).

    Raises:
        ConfigurationError: Invalid arguments; ``hybrid=True`` on a store without the
            keyword channel, or without a tokenizer.
    """

    @classmethod
    def open(cls, embedder: Any, store: Any, **options: Any) -> VectorIndex:
        """An index on an existing collection, with the dimensions, embedding type and late
        chunking its signature records (so a search needs no flag the indexing run fixed).

        Raises:
            StoreError: The collection does not exist or has no signature.
        """
        return cls(embedder, store, **_stored_settings(store.read_signature(), store), **options)

    def _run(self, flow: Flow[Any]) -> Any:
        writer = Writer(self._store)
        try:
            return run(flow, embedder=self._embedder, store=self._store, writer=writer)
        finally:
            writer.close()

    def add(self, documents: Iterable[Document], *, progress: bool | Progress = False) -> int:
        """Embed and write documents in batches; re-adding a document replaces all its points.

        Args:
            documents: Any iterable of :class:`Document` (consumed lazily, batch by batch).
            progress: Show progress (True), or report to this :class:`~jina_v3.progress.Progress`.

        Returns:
            The number of points written (one per document, or one per chunk); documents
            whose content is unchanged since they were last written are skipped.

        Raises:
            SignatureMismatchError, DimensionMismatchError: The collection was built with
                other settings (nothing is written).
            StoreError: The database failed; earlier batches stay written, and re-running
                the same ``add`` completes the ingestion without duplicates.
        """
        return self.ingest(documents, progress=progress).points

    def ingest(
        self, documents: Iterable[Document], **options: Unpack[IngestOptions]
    ) -> IngestSummary:
        """:meth:`add`, returning what it did (documents indexed, replaced, unchanged; points,
        tokens, seconds).

        Args:
            documents: As for :meth:`add`.
            options: ``progress``, ``skip_unchanged`` (default True) and ``stop`` (see
                :class:`IngestOptions`).
        """
        return self._run(self._ingest_flow(documents, **options))

    def search(
        self,
        query: str,
        k: int = 10,
        filter: Any | None = None,
        *,
        mode: str = "dense",
        fusion: str = "rrf",
        weights: Sequence[float] | None = None,
    ) -> list[Hit]:
        """The `k` best passages (or chunks) for `query`, embedded with the query task.

        Args:
            query: The query text.
            k: Number of hits.
            filter: Mongo-style metadata filter (``$eq $ne $gt $gte $lt $lte $in $nin $and
                $or``) or the database's native filter object.
            mode: ``"dense"`` (the embedding; score: cosine), ``"keyword"`` (BM25 over the
                model's tokens; score: BM25, unbounded) or ``"hybrid"`` (both, fused by
                weighted reciprocal rank; score in (0, 1], 1.0 = first in both). Keyword
                and hybrid need a collection indexed with ``hybrid=True``.
            fusion: ``"rrf"`` (the engine's where it has it; one definition everywhere).
            weights: ``(dense, keyword)`` weights of the fusion (default equal).

        Returns:
            Hits, best first, each with id, score, text, metadata, document id and chunk index.

        Raises:
            SignatureMismatchError, DimensionMismatchError: The collection does not match.
            UnsupportedFilterError: The filter uses an operator outside the dialect.
            ConfigurationError: A bad mode, fusion or weights; keyword or hybrid on an index
                without the keyword channel (the message names the fix).
        """
        return self._run(self._search_flow(query, k, filter, mode, fusion, weights))

    def delete(self, document_ids: Sequence[str]) -> None:
        """Delete documents (all their chunks) by document id."""
        self._run(self._delete_flow(document_ids))

    def count(self) -> int:
        """Number of points (documents or chunks) in the collection."""
        return int(self._store.count())

    def close(self) -> None:
        """Close the store (and its client, if the store created it)."""
        self._store.close()


def _progress(progress: bool | Progress, documents: Any) -> Progress | None:
    if isinstance(progress, Progress):
        return progress
    if not progress:
        return None
    return Progress(len(documents) if isinstance(documents, Sized) else None)


def _stored_settings(signature: EmbeddingSignature | None, store: Any) -> dict[str, Any]:
    if signature is None:
        raise StoreError(
            f"Collection {getattr(store, 'collection', '?')!r} does not exist or has no "
            "embedding signature; index documents into it first (`jina-v3 index`, or "
            "VectorIndex(...).add)."
        )
    return {
        "dimensions": signature.dimensions,
        "embedding_type": signature.embedding_type,
        "late_chunking": signature.late_chunking,
        "hybrid": signature.keywords is not None,
    }


class AsyncVectorIndex(_IndexBase, AsyncClosing):
    """The async twin of :class:`VectorIndex`: same constructor, awaitable methods.

    Works with an :class:`~jina_v3.AsyncEmbedder` (awaited) or an :class:`~jina_v3.Embedder`
    (run in a worker thread), and with the store's async twins (``aupsert`` ...) when it has
    them, else its sync methods in a worker thread.
    """

    def _adopt(self) -> None:
        from jina_v3.embedder import AsyncEmbedder

        embedder, store = self._embedder, self._store
        self._aembedder = embedder if isinstance(embedder, AsyncEmbedder) else InThread(embedder)
        self._astore = (
            AsyncStoreView(store) if isinstance(store, AsyncVectorStore) else InThread(store)
        )

    @classmethod
    async def open(cls, embedder: Any, store: Any, **options: Any) -> AsyncVectorIndex:
        """See :meth:`VectorIndex.open`."""
        signature = await AsyncStoreView(store).read_signature()
        return cls(embedder, store, **_stored_settings(signature, store), **options)

    async def _arun(self, flow: Flow[Any]) -> Any:
        writer = AsyncWriter(self._astore)
        try:
            return await arun(flow, embedder=self._aembedder, store=self._astore, writer=writer)
        finally:
            await writer.wait(raise_errors=False)

    async def add(self, documents: Iterable[Document], *, progress: bool | Progress = False) -> int:
        """See :meth:`VectorIndex.add`."""
        return (await self.ingest(documents, progress=progress)).points

    async def ingest(
        self, documents: Iterable[Document], **options: Unpack[IngestOptions]
    ) -> IngestSummary:
        """See :meth:`VectorIndex.ingest`."""
        return await self._arun(self._ingest_flow(documents, **options))

    async def search(
        self,
        query: str,
        k: int = 10,
        filter: Any | None = None,
        *,
        mode: str = "dense",
        fusion: str = "rrf",
        weights: Sequence[float] | None = None,
    ) -> list[Hit]:
        """See :meth:`VectorIndex.search`."""
        return await self._arun(self._search_flow(query, k, filter, mode, fusion, weights))

    async def delete(self, document_ids: Sequence[str]) -> None:
        """See :meth:`VectorIndex.delete`."""
        await self._arun(self._delete_flow(document_ids))

    async def count(self) -> int:
        """See :meth:`VectorIndex.count`."""
        return int(await self._astore.count())

    async def aclose(self) -> None:
        """Close the store (see :meth:`VectorIndex.close`)."""
        await self._astore.close()
