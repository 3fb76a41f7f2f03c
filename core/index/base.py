"""What both indexes are made of: the settings, and the flows (ingest, search, delete),
written once and run by :class:`~jina_v3.VectorIndex` with the embedder and store as they are
and by :class:`~jina_v3.AsyncVectorIndex` with their async twins (:mod:`jina_v3._flow`).
Which public method runs which flow, and the calls each flow yields: the map in
:mod:`jina_v3.index.pipeline`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from typing import Any, Literal

import numpy as np

from jina_v3._flow import Call, FirstUse, Flow
from jina_v3.errors import ConfigurationError, InputTooLongError, StoreError, check_positive
from jina_v3.index.chunking import TextChunker
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
    Document,
    EmbeddingSignature,
    Hit,
    check_signature,
)
from jina_v3.progress import Progress

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
        check_positive("batch_size", batch_size)
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
        self._first_use = FirstUse()  # the collection is created (or dropped) once
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
        if not self._first_use.done:
            yield Call(
                "store", "ensure_collection", (self._signature,), {"recreate": self._recreate}
            )
            self._recreate = False  # only ever once
            self._first_use.finish()
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
        check_positive("k", k)
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


def _progress(progress: bool | Progress, documents: Any) -> Progress | None:
    if isinstance(progress, Progress):
        return progress
    if not progress:
        return None
    return Progress(len(documents) if isinstance(documents, Sized) else None)
