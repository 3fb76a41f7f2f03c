"""The index pipeline's pure part: which texts to embed for a batch of documents, which point
each vector fills, each document's content hash, and the summary of a run. No I/O."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jina_v3.errors import ConfigurationError, InputTooLongError, StoreError
from jina_v3.index.chunking import HEADING_KEY, heading_paths
from jina_v3.index.store import CONTENT_HASH_KEY, DOCUMENT_ID_KEY, Document, Record, point_id

__all__ = [
    "IngestPlan",
    "IngestSummary",
    "Planned",
    "content_hash",
    "head_ids",
    "plan_ingest",
    "refused_documents",
    "stale_points",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Planned:
    """A document with its chunks (None: embedded whole, as one point) and content hash."""

    document: Document
    chunks: Sequence[str] | None
    digest: str

    @property
    def points(self) -> int:
        return 1 if self.chunks is None else len(self.chunks)


def content_hash(doc: Document, chunks: Sequence[str] | None, chunker: str) -> str:
    """What decides a document's points: its text or chunks, metadata, and the chunker."""
    key = [doc.text, None if chunks is None else list(chunks), doc.metadata, chunker]
    data = json.dumps(key, sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:32]


def head_ids(document_id: str) -> tuple[str, str]:
    """The ids a document's head point may have: unchunked, or its first chunk. The head is
    written last, so a stored head means every point of that version is stored."""
    return point_id(document_id), point_id(document_id, 0)


def stale_points(versions: Mapping[str, str]) -> dict[str, Any] | None:
    """The filter matching the points of these documents (id -> new content hash) that are
    not part of their new version. Deleted only after the new version is written, so a
    document's stored version survives any failure before that."""
    by_digest: dict[str, list[str]] = {}
    for document_id, digest in versions.items():
        by_digest.setdefault(digest, []).append(document_id)
    clauses = [
        {DOCUMENT_ID_KEY: {"$in": ids}, CONTENT_HASH_KEY: {"$ne": digest}}
        for digest, ids in by_digest.items()
    ]
    if len(clauses) > 1:
        return {"$or": clauses}
    return clauses[0] if clauses else None


def refused_documents(
    records: Sequence[Record], check: Callable[[Record], None] | None
) -> set[str]:
    """The documents with a record the store's `check` refuses (its own limits), each warned
    about by name: they are left as stored before, and the rest of the batch is written."""
    refused: set[str] = set()
    for record in records if check is not None else ():
        if record.document_id in refused:
            continue
        try:
            check(record)
        except (ConfigurationError, StoreError) as exc:
            refused.add(record.document_id)
            logger.warning(
                "document %r skipped (its stored version is kept): %s", record.document_id, exc
            )
    return refused


@dataclass(frozen=True)
class _Slot:
    """Where one point's vector comes from: row `row` of the plain texts, or chunk `row` of
    late-chunked document `late`."""

    planned: Planned
    chunk_index: int | None
    text: str
    late: int | None  # index into IngestPlan.late_documents; None: a row of IngestPlan.texts
    row: int


@dataclass(frozen=True)
class IngestPlan:
    """What one batch needs: the texts to embed one by one, the documents to late-chunk (each
    its own pass), and the point each resulting vector fills."""

    texts: list[str]
    late_documents: list[list[str]]
    slots: list[_Slot]

    @property
    def versions(self) -> dict[str, str]:
        """Each planned document's id and new content hash."""
        return {slot.planned.document.id: slot.planned.digest for slot in self.slots}

    def too_long(self, error: InputTooLongError, *, late: bool) -> InputTooLongError:
        """`error` (from embedding `texts`, or `late_documents` when `late`) told in terms of
        documents: which document and chunk, and the setting that fixes it. The attributes
        stay the embedder's (``index`` is the row it was given)."""
        if late:  # the late-chunked call: its document, when it held one
            ids = list(
                dict.fromkeys(s.planned.document.id for s in self.slots if s.late is not None)
            )
            where = f"Document {ids[0]!r}" if len(ids) == 1 else f"One of documents {_some(ids)}"
            fix = "split it into smaller chunks (chunker=, or Document.chunks)"
        else:
            slot = next((s for s in self.slots if s.late is None and s.row == error.index), None)
            if slot is None:
                return error
            where = f"Document {slot.planned.document.id!r}"
            fix = "let the index chunk it (chunker='default'), or pass truncate=True"
            if slot.chunk_index is not None:
                where += f", chunk {slot.chunk_index},"
                fix = "use smaller chunks (chunker=TextChunker(max_tokens=...)) or truncate=True"
        return error.retold(where, fix)

    def records(self, vectors: np.ndarray | None, late: Sequence[np.ndarray]) -> list[Record]:
        """The points, given the embeddings of `texts` and of `late_documents`; every
        document's head point comes after all other points (see :func:`head_ids`)."""
        body, heads = [], []
        paths: dict[int, list[str]] = {}  # per chunked document: each chunk's headings
        for slot in self.slots:
            rows = vectors if slot.late is None else late[slot.late]
            assert rows is not None
            doc = slot.planned.document
            metadata = {**doc.metadata, CONTENT_HASH_KEY: slot.planned.digest}
            if slot.planned.chunks is not None and slot.chunk_index is not None:
                key = id(slot.planned)
                if key not in paths:
                    paths[key] = heading_paths(doc.text, slot.planned.chunks)
                if paths[key][slot.chunk_index]:  # a document's own field of that name wins
                    metadata.setdefault(HEADING_KEY, paths[key][slot.chunk_index])
            record = Record(
                point_id(doc.id, slot.chunk_index),
                rows[slot.row],
                slot.text,
                metadata,
                doc.id,
                slot.chunk_index,
            )
            (heads if slot.chunk_index in (None, 0) else body).append(record)
        return body + heads


def _some(ids: list[str], shown: int = 5) -> str:
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(map(repr, ids[:shown])) + more


def plan_ingest(batch: Sequence[Planned], *, late_chunking: bool) -> IngestPlan:
    """Plan one batch of documents."""
    texts: list[str] = []
    late_documents: list[list[str]] = []
    slots: list[_Slot] = []
    for planned in batch:
        if planned.chunks is None:
            slots.append(_Slot(planned, None, planned.document.text, None, len(texts)))
            texts.append(planned.document.text)
        elif late_chunking:
            for j, chunk in enumerate(planned.chunks):
                slots.append(_Slot(planned, j, chunk, len(late_documents), j))
            late_documents.append(list(planned.chunks))
        else:
            for j, chunk in enumerate(planned.chunks):
                slots.append(_Slot(planned, j, chunk, None, len(texts)))
                texts.append(chunk)
    return IngestPlan(texts, late_documents, slots)


@dataclass
class IngestSummary:
    """What one ingestion did."""

    documents: int = 0  # seen
    indexed: int = 0  # new documents
    replaced: int = 0  # changed documents, their old points gone
    refused: int = 0  # documents the store cannot hold (left as stored before)
    unchanged: int = 0  # skipped: same content hash as stored
    points: int = 0  # written
    tokens: int = 0  # embedded
    seconds: float = 0.0
    interrupted: bool = False
    failed: int = 0  # inputs the caller could not read (the CLI counts them)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        stop = " (interrupted: re-run to continue)" if self.interrupted else ""
        failed = f", {self.failed} failed" if self.failed else ""
        failed += f", {self.refused} refused by the store" if self.refused else ""
        return (
            f"{self.indexed} documents indexed, {self.unchanged} skipped unchanged, "
            f"{self.replaced} replaced{failed}: {self.points} chunks, {self.tokens} tokens in "
            f"{self.seconds:.1f} s{stop}"
        )
