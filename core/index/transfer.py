"""Move what a collection stores without embedding again: copy between stores, export to a
file and import from one. No model is involved: points travel with their vectors, payloads
and the collection's embedding signature.

A copy streams pages of points (``store.scroll``) into idempotent upserts by point id, so an
interrupted copy re-run ends identical to an uninterrupted one. The destination is created
with the source's signature and funnel layout (the funnel vector is the dense vector's
re-normalised prefix, rebuilt bit for bit on write), and one that exists with another
signature is refused before anything is written. At the end the counts are compared, and a
sample of points: their payloads (fetched) and their vectors (the score of two random probe
vectors against the one point, in both stores, within 1e-5).

The export format is JSON lines (``FORMAT``, documented in the README): a header with the
format version, signature and layout, then one point per line.
"""

from __future__ import annotations

import base64
import inspect
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from jina_v3.errors import ConfigurationError, StoreError
from jina_v3.index.store import EmbeddingSignature, Record, record_from_payload, record_payload
from jina_v3.progress import Progress

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "TransferSummary",
    "copy_collection",
    "export_points",
    "import_points",
    "pages",
]

FORMAT, FORMAT_VERSION = "jina-v3-points", 1
DENSE = "dense"
PAGE = 256
SAMPLE = 8
TOLERANCE = 1e-5  # float32 scores of unit vectors; engines may re-normalise on write


@dataclass
class TransferSummary:
    """What one copy, export or import did."""

    points: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    checked: int = 0  # points compared between source and destination

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


def _carry_funnel(source: Any, destination: Any) -> None:
    """The destination keeps the source's funnel vector where its engine stores one."""
    funnel = getattr(source, "funnel_dimensions", None)
    takes = "funnel_dimensions" in inspect.signature(type(destination).__init__).parameters
    if funnel is not None and takes and destination.funnel_dimensions is None:
        destination._set_funnel(funnel, destination.funnel_oversample)


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
    """Copy every point of `source` into `destination` (two stores), with the signature.

    Args:
        page: Points read and written per request.
        progress: Show progress (True), or report to this Progress.
        stop: Checked after each page: True ends the copy there (re-run to continue).
        sample: Points compared between the stores at the end.

    Raises:
        StoreError: The source has no collection, or the check found a difference.
        SignatureMismatchError: The destination exists with another signature.
    """
    signature = _signature(source, "Source")
    _carry_funnel(source, destination)
    destination.ensure_collection(signature)  # refuses another signature: nothing written
    bar = _progress(progress, source.count())
    kept: list[Record] = []
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
        if record.vector.dtype != np.float32:
            continue  # packed bits: the payload check and the counts stand
        one = {"document_id": record.document_id}
        if record.chunk_index is not None:
            one["chunk_index"] = record.chunk_index
        for _ in range(2):
            probe = rng.normal(size=dimensions).astype(np.float32)
            probe /= np.linalg.norm(probe)
            scores = [
                [h.score for h in store.query(probe, k=1, filter=one)]
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


def _encode(vector: np.ndarray) -> str:
    dtype = "<f4" if vector.dtype == np.float32 else "u1"
    return base64.b64encode(vector.astype(dtype, copy=False).tobytes()).decode("ascii")


def _decode(text: str, signature: EmbeddingSignature) -> np.ndarray:
    dtype = "u1" if signature.embedding_type == "ubinary" else "<f4"
    return np.frombuffer(base64.b64decode(text, validate=True), dtype=dtype).astype(
        np.uint8 if dtype == "u1" else np.float32
    )


def header(store: Any, signature: EmbeddingSignature, points: int) -> dict[str, Any]:
    """The first line of an export."""
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "collection": store.collection,
        "points": points,
        "signature": signature.to_dict(),
        "layout": {"funnel_dimensions": getattr(store, "funnel_dimensions", None)},
        "vectors": {DENSE: "base64 of little-endian float32 (uint8 bits for ubinary)"},
    }


def export_points(
    store: Any,
    out: IO[str],
    *,
    page: int = PAGE,
    progress: bool | Progress = False,
) -> TransferSummary:
    """Write the collection to `out` as JSON lines: the header, then one point a line."""
    signature = _signature(store, "Source")
    count = store.count()
    out.write(json.dumps(header(store, signature, count), ensure_ascii=False) + "\n")
    bar = _progress(progress, count)
    summary, started = TransferSummary(), time.monotonic()
    try:
        for records in pages(store, page=page):
            for r in records:
                vectors = {DENSE: _encode(r.vector)}
                line = {"id": r.id, "vectors": vectors, "payload": record_payload(r)}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
            summary.points += len(records)
            bar.update(len(records), points=len(records))
    finally:
        bar.close()
    summary.seconds = time.monotonic() - started
    return summary


def read_header(lines: Iterator[str], name: str) -> dict[str, Any]:
    """The export's header, checked."""
    first = next(lines, "")
    try:
        head = json.loads(first)
    except json.JSONDecodeError:
        head = None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise ConfigurationError(
            f"{name} is not a jina-v3 export (its first line must be the {FORMAT!r} header); "
            "make one with `jina-v3 export`"
        )
    if head.get("version") != FORMAT_VERSION:
        raise ConfigurationError(
            f"{name} is format version {head.get('version')!r}; this jina-v3 reads version "
            f"{FORMAT_VERSION}: upgrade jina-v3-connectors"
        )
    return head


def _records(
    lines: Iterator[str], signature: EmbeddingSignature, name: str, page: int
) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for number, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            vector = _decode(raw["vectors"][DENSE], signature)
            batch.append(record_from_payload(raw["id"], vector, raw["payload"]))
        except (ValueError, KeyError, TypeError) as exc:
            if batch:
                yield batch  # the points before the bad line are written first
            raise ConfigurationError(
                f"{name} line {number} is not a point ({type(exc).__name__}: {exc}); the "
                "points before it are imported: fix the line and re-run"
            ) from None
        if len(batch) == page:
            yield batch
            batch = []
    if batch:
        yield batch


def import_points(
    path: str | Path,
    destination: Any,
    *,
    page: int = PAGE,
    progress: bool | Progress = False,
    stop: Callable[[], bool] | None = None,
) -> TransferSummary:
    """Write an export's points into `destination` (created with the export's signature;
    one with another signature is refused). Idempotent: re-running continues."""
    name = str(path)
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {name}: {exc.strerror or exc}") from None
    with handle:
        lines = iter(handle)
        head = read_header(lines, name)
        signature = EmbeddingSignature.from_dict(head["signature"])
        funnel = (head.get("layout") or {}).get("funnel_dimensions")
        if funnel is not None:
            _carry_funnel(_Layout(funnel), destination)
        destination.ensure_collection(signature)
        bar = _progress(progress, head.get("points"))
        try:
            records = _records(lines, signature, name, page)
            summary = _write(records, destination, bar, stop, [], 0)
        finally:
            bar.close()
    return summary


@dataclass(frozen=True)
class _Layout:
    funnel_dimensions: int
