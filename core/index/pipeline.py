"""`VectorIndex` / `AsyncVectorIndex`: documents in, hits out, over one embedder and one store.

Ingestion is one pipeline, the same for both classes:

    documents -> batches -> skip the unchanged (content hash of the stored head point) ->
    plan (pure, :mod:`jina_v3.index.plan`) -> embed (one call per kind) -> records, less
    the documents the store cannot hold (checked against its limits, warned about) ->
    writer (upsert, heads last; then delete the documents' stale points; in the
    background, so batch n is written while batch n+1 is embedded)

written once as a flow (:mod:`jina_v3._flow`) that the sync class runs with the embedder and
store as they are and the async class runs with their async twins.

The call path. A public method runs a flow of :mod:`jina_v3.index.base` (``_run``, or
``_arun``); the flow's I/O is the calls it yields, ``Call(target, method)``, each of which
``_run`` sends to ``target.method``: ``embedder`` (the Embedder), ``store`` (the store) and
``writer`` (:class:`~jina_v3.index.drivers.Writer`, which calls ``store.upsert``, then
``store.delete``); ``_arun`` sends them to the async twins (``AsyncStoreView``, ``AsyncWriter``):

    add, ingest -> _ingest_flow, per batch of documents:
        _ensure_flow    store.ensure_collection on first use, else store.read_signature
        _stored_hashes  store.fetch (the stored versions' content hashes: unchanged ones skip)
        _embed_flow     embedder.encode_passages, embedder.encode_late_chunked
        writer.write    store.upsert(records), then store.delete(filter=stale points)
    search      -> _search_flow: _ensure_flow; embedder.encode_queries;
                   store.query | store.query_keywords | store.query_hybrid
    delete      -> _delete_flow: _ensure_flow; store.delete(document_ids=...)
    count       -> store.count

A ``jina_v3.connectors`` store runs each of those methods as a flow of its own, down to the
engine's hooks (``upsert -> _upsert_flow -> _write``): the map is in
``jina_v3.connectors.base.store``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypedDict, Unpack

from jina_v3._flow import Flow, InThread, arun, run
from jina_v3.errors import StoreError
from jina_v3.index.base import _IndexBase
from jina_v3.index.drivers import AsyncStoreView, AsyncWriter, Writer
from jina_v3.index.plan import (
    IngestSummary,
)
from jina_v3.index.store import (
    AsyncVectorStore,
    Document,
    EmbeddingSignature,
    Hit,
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
        """Drive `flow`: its ``Call("embedder" | "store" | "writer", method)`` run here."""
        writer = Writer(self._store)
        try:
            with self._first_use.turn():
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
        """:meth:`VectorIndex._run` with the async twins as the targets."""
        writer = AsyncWriter(self._astore)
        try:
            async with self._first_use.aturn():
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
