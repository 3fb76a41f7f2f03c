"""Move what a collection stores without embedding again: copy between stores, export to a
file and import from one. No model is involved: points travel with their vectors, keyword
weights, payloads and the collection's embedding signature.

A copy streams pages of points (``store.scroll``) into idempotent upserts by point id, so an
interrupted copy re-run ends identical to an uninterrupted one. The destination is created
with the source's signature and funnel layout (the funnel vector is the dense vector's
re-normalised prefix, rebuilt bit for bit on write), and one that exists with another
signature, or a store without the source's keyword channel, is refused before anything is
written. A copy or import that fails before its first point leaves no collection behind.
At the end of a copy the counts are compared, and a sample of points: their payloads
(fetched), their vectors (the score of two random probe vectors against the one point, in
both stores, within 1e-5) and their keyword channel (the point found by its own terms).

An import writes every point line it can and names each one it cannot (``FILE:LINE``); then
it raises if any line was refused or the file holds another number of points than its
header says (a file cut short). The format is :mod:`jina_v3.index.points_file`.
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from jina_v3.errors import ConfigurationError, StoreError
from jina_v3.index.keywords import SparseVector
from jina_v3.index.points_file import (
    FORMAT,
    FORMAT_VERSION,
    PointLines,
    header,
    point_line,
    read_header,
    signature_of,
)
from jina_v3.index.store import EmbeddingSignature, Record, record_payload
from jina_v3.progress import Progress

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "TransferSummary",
    "copy_collection",
    "export_points",
    "import_points",
    "pages",
    "read_header",
]

logger = logging.getLogger("jina_v3.transfer")

PAGE = 256
SAMPLE = 8
TOLERANCE = 1e-5  # float32 scores of unit vectors; engines may re-normalise on write
PROBE_TERMS = 100  # terms of a sampled point its keyword probe searches for


@dataclass
class TransferSummary:
    """What one copy, export or import did."""

    points: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    checked: int = 0  # points compared between source and destination
    refused: int = 0  # lines of an import that were not imported (each one warned about)

    @property
    def rate(self) -> float:
        return self.points / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        stop = " (interrupted: re-run to continue)" if self.interrupted else ""
        check = f"; {self.checked} points checked" if self.checked else ""
        return f"{self.points} points in {self.seconds:.1f} s ({self.rate:,.0f}/s){check}{stop}"


def pages(store: Any, *, page: int = PAGE, vectors: bool = True) -> Iterator[list[Record]]:
    """Every stored point, a page at a time (the collection is never in memory whole)."""
    cursor: str | None = None
    while True:
        records, cursor = store.scroll(cursor, limit=page, vectors=vectors)
        if records:
            yield records
        if cursor is None:
            return


def _signature(store: Any, role: str) -> EmbeddingSignature:
    signature = store.read_signature()
    if signature is None:
        raise StoreError(
            f"{role} collection {store.collection!r} does not exist or has no embedding "
            "signature (`jina-v3 info` lists the collections)"
        )
    return signature


def _check_channel(signature: EmbeddingSignature, destination: Any, what: str) -> None:
    """A store without the keyword channel cannot hold a hybrid collection: refused before
    anything is created."""
    if signature.keywords is not None and not getattr(destination, "keyword_channel", False):
        engine = getattr(destination, "engine", type(destination).__name__)
        raise ConfigurationError(
            f"{engine} collection {destination.collection!r} cannot hold the keyword channel "
            f"(hybrid search) of {what}: move it into a store that has one, Qdrant Edge, "
            "Qdrant, Pinecone or Milvus Lite (a qdrant-edge:, qdrant:, pinecone: or "
            "milvus-lite: URI)"
        )


def _carry_funnel(funnel: int | None, destination: Any) -> None:
    """The destination keeps the source's funnel vector where its engine stores one."""
    takes = "funnel_dimensions" in inspect.signature(type(destination).__init__).parameters
    if funnel is not None and takes and destination.funnel_dimensions is None:
        destination._set_funnel(funnel, destination.funnel_oversample)


@contextmanager
def _collection_for(destination: Any, signature: EmbeddingSignature) -> Iterator[None]:
    """The destination collection for `signature` (created, or checked: another signature
    is refused with nothing written). One this made is removed again if the transfer fails
    before writing a point into it."""
    existed = getattr(destination, "exists", lambda: True)()  # a store without: kept
    destination.ensure_collection(signature)
    try:
        yield
    except BaseException:
        if not existed:
            try:
                destination.drop_if_empty()
            except Exception:  # the transfer's own error is the one to report
                logger.debug("removing the empty collection failed", exc_info=True)
        raise


def _progress(progress: bool | Progress, total: int | None) -> Progress:
    if isinstance(progress, Progress):
        return progress
    return Progress(total, mode="auto" if progress else "off", unit="point")


def _write(
    records: Iterable[list[Record]],
    destination: Any,
    progress: Progress,
    stop: Callable[[], bool] | None,
    sample: list[Record],
    size: int,
) -> TransferSummary:
    """Upsert each page; keep an evenly spread sample (reservoir, fixed seed) to check."""
    rng = np.random.default_rng(0)
    summary, started = TransferSummary(), time.monotonic()
    for page in records:
        destination.upsert(page)
        for record in page:
            summary.points += 1
            if len(sample) < size:
                sample.append(record)
            elif (slot := int(rng.integers(summary.points))) < size:
                sample[slot] = record
        progress.update(len(page), points=len(page))
        if stop is not None and stop():
            summary.interrupted = True
            break
    summary.seconds = time.monotonic() - started
    return summary


def copy_collection(
    source: Any,
    destination: Any,
    *,
    page: int = PAGE,
    progress: bool | Progress = False,
    stop: Callable[[], bool] | None = None,
    sample: int = SAMPLE,
) -> TransferSummary:
    """Copy every point of `source` into `destination` (two stores), with its vectors,
    keyword weights, payload and the signature.

    Args:
        page: Points read and written per request.
        progress: Show progress (True), or report to this Progress.
        stop: Checked after each page: True ends the copy there (re-run to continue).
        sample: Points compared between the stores at the end.

    Raises:
        StoreError: The source has no collection, or the check found a difference.
        SignatureMismatchError: The destination exists with another signature.
        ConfigurationError: The source has the keyword channel and the destination's store
            has none.
    """
    signature = _signature(source, "Source")
    engine = getattr(source, "engine", "source")
    _check_channel(signature, destination, f"{engine} collection {source.collection!r}")
    _carry_funnel(getattr(source, "funnel_dimensions", None), destination)
    kept: list[Record] = []
    with _collection_for(destination, signature):
        bar = _progress(progress, source.count())
        try:
            summary = _write(pages(source, page=page), destination, bar, stop, kept, sample)
        finally:
            bar.close()
    if not summary.interrupted:
        summary.checked = check_copy(source, destination, kept)
    return summary


def check_copy(source: Any, destination: Any, sample: list[Record]) -> int:
    """Compare counts and the sampled points between the stores; the number compared.

    Raises:
        StoreError: A difference, named.
    """
    where = f"{destination.collection!r}"
    have, want = destination.count(), source.count()
    if have != want:
        raise StoreError(
            f"copy check: destination {where} holds {have} points, the source {want} (points "
            "written there by something else stay: copy into a new collection)"
        )
    stored = {h.id: h for h in destination.fetch([r.id for r in sample])}
    rng = np.random.default_rng(1)
    dimensions = source.read_signature().dimensions
    for record in sample:
        hit = stored.get(record.id)
        payload = None if hit is None else _hit_payload(hit)
        if payload != _comparable(record_payload(record)):
            raise StoreError(f"copy check: point {record.id} differs in {where}: {payload}")
        one = {"document_id": record.document_id}
        if record.chunk_index is not None:
            one["chunk_index"] = record.chunk_index
        if record.keywords:  # the point is found by its own terms: its channel was carried
            heaviest = np.argsort(record.keywords.values, kind="stable")[::-1][:PROBE_TERMS]
            terms = tuple(sorted(record.keywords.indices[i] for i in heaviest))
            probe = SparseVector(terms, (1.0,) * len(terms))
            if [h.id for h in destination.query_keywords(probe, k=1, filter=one)] != [record.id]:
                raise StoreError(f"copy check: point {record.id} has no keyword weights in {where}")
        if record.vector.dtype != np.float32:
            continue  # packed bits: the payload check and the counts stand
        for _ in range(2):
            vector = rng.normal(size=dimensions).astype(np.float32)
            vector /= np.linalg.norm(vector)
            scores = [
                [h.score for h in store.query(vector, k=1, filter=one)]
                for store in (source, destination)
            ]
            if len(scores[1]) != 1 or abs(scores[0][0] - scores[1][0]) > TOLERANCE:
                raise StoreError(f"copy check: the vector of point {record.id} differs in {where}")
    return len(sample)


def _hit_payload(hit: Any) -> dict[str, Any]:
    payload = {**hit.metadata, "text": hit.text, "document_id": hit.document_id}
    if hit.chunk_index is not None:
        payload["chunk_index"] = hit.chunk_index
    if hit.content_hash is not None:
        payload["content_hash"] = hit.content_hash
    return _comparable(payload)


def _comparable(payload: dict[str, Any]) -> dict[str, Any]:
    """Numbers by value (Pinecone returns 3 as 3.0)."""
    return json.loads(json.dumps(payload, sort_keys=True), parse_int=float)


# -- export and import -------------------------------------------------------------------------


def export_points(
    store: Any,
    out: IO[str],
    *,
    page: int = PAGE,
    progress: bool | Progress = False,
) -> TransferSummary:
    """Write the collection to `out` as JSON lines: the header, then one point a line (see
    :mod:`jina_v3.index.points_file`)."""
    signature = _signature(store, "Source")
    count = store.count()
    funnel = getattr(store, "funnel_dimensions", None)
    head = header(store.collection, signature, count, funnel)
    out.write(json.dumps(head, ensure_ascii=False) + "\n")
    bar = _progress(progress, count)
    summary, started = TransferSummary(), time.monotonic()
    try:
        for records in pages(store, page=page):
            out.writelines(point_line(r) + "\n" for r in records)
            summary.points += len(records)
            bar.update(len(records), points=len(records))
    finally:
        bar.close()
    summary.seconds = time.monotonic() - started
    return summary


def import_points(
    path: str | Path,
    destination: Any,
    *,
    page: int = PAGE,
    progress: bool | Progress = False,
    stop: Callable[[], bool] | None = None,
    warn: Callable[[str], None] | None = None,
) -> TransferSummary:
    """Write an export's points into `destination` (created with the export's signature;
    one with another signature is refused). Idempotent: re-running continues.

    Each line that cannot be imported (not a point, a vector of another size or with NaN,
    no document id, no keyword weights for a hybrid collection, refused by the engine) is
    named ``FILE:LINE`` to `warn` (default: a logged warning) and the rest is written. A
    repeated point id is written once, from its last line, and warned about.

    Raises:
        ConfigurationError: The file is not an export; or, after writing what it could,
            some lines were refused or the file holds another number of points than its
            header says (cut short).
        SignatureMismatchError: The destination exists with another signature.
    """
    name = str(path)
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {name}: {exc.strerror or exc}") from None
    with handle:
        lines = iter(handle)
        head = read_header(lines, name)
        signature = signature_of(head, name)
        _check_channel(signature, destination, name)
        _carry_funnel((head.get("layout") or {}).get("funnel_dimensions"), destination)
        reader = PointLines(name, signature, destination, warn or logger.warning)
        summary, started = TransferSummary(), time.monotonic()
        with _collection_for(destination, signature):
            total = head.get("points")
            bar = _progress(progress, total if isinstance(total, int) else None)
            try:
                summary.interrupted = reader.write(lines, page, bar, stop)
            finally:
                bar.close()
            summary.points, summary.refused = reader.points, reader.refused
            summary.seconds = time.monotonic() - started
            if not summary.interrupted:
                reader.finish(total)
    return summary
