"""Qdrant Edge connector: `QdrantEdgeStore` over qdrant-edge-py, Qdrant's Rust engine
embedded in the process (segments, WAL, HNSW, payload indexes), with no server.

Each collection is one Edge shard in ``<path>/<collection>/``. Edge shards have no metadata
API, so the embedding signature lives in ``<path>/<collection>.jina_v3.json`` beside the
shard. Funnel search (``funnel_dimensions``) stores the re-normalised Matryoshka prefix as
a second named vector and queries prefetch on it, then rescore with the full vector.

Example:
    >>> from jina_v3 import Embedder
    >>> from jina_v3.store import VectorIndex
    >>> from jina_v3.connectors.qdrant_edge import QdrantEdgeStore
    >>> index = VectorIndex(Embedder(), QdrantEdgeStore("docs", path="./edge"), dimensions=256)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jina_v3.connectors._common import (
    LAYOUT_KEY,
    SIGNATURE_KEY,
    as_str_ids,
    check_funnel,
    check_payload_indexes,
    check_positive,
    filter_tree,
    require,
    unsupported_filter,
    wrap_errors,
)
from jina_v3.errors import (
    ConfigurationError,
    DimensionMismatchError,
    SignatureMismatchError,
    StoreError,
)
from jina_v3.filters import And, Condition, FilterNode, Or
from jina_v3.store import (
    DOCUMENT_ID_KEY,
    EmbeddingSignature,
    Hit,
    Record,
    ThreadedAsyncMixin,
    batched,
    check_signature,
    hit_from_payload,
    prefix_vectors,
    record_payload,
)

__all__ = ["QdrantEdgeStore", "to_edge_filter"]

logger = logging.getLogger(__name__)

FULL, FUNNEL = "full", "funnel"
_CONFIG_FILE = "edge_config.json"  # written by Edge in every shard directory


def _edge() -> Any:
    return require("qdrant_edge", "qdrant-edge", "qdrant-edge-py")


class QdrantEdgeStore(ThreadedAsyncMixin):
    """One Qdrant Edge shard as a :class:`~jina_v3.store.VectorStore` (async twins run in a
    worker thread).

    Args:
        collection: Collection name (the shard's directory name under `path`).
        path: Directory holding the shards (created if missing). Put it on fast storage.
        funnel_dimensions: Also store this many leading dimensions as a ``funnel`` vector and
            search coarse-then-rescore.
        funnel_oversample: Candidates prefetched on the funnel vector per hit asked for.
        binary_quantization: Binary-quantize the full vector (rescored with the originals).
        payload_indexes: Metadata fields to index when the shard is created, e.g.
            ``{"lang": "keyword", "year": "integer"}`` (keyword, integer, float, bool);
            ``document_id`` is always indexed. Filtered search on optimized segments uses them.
        batch_size: Points per update operation.

    Raises:
        ConfigurationError: Bad options.
        MissingDependencyError: qdrant-edge-py is not installed.
    """

    def __init__(
        self,
        collection: str,
        *,
        path: str | os.PathLike[str],
        funnel_dimensions: int | None = None,
        funnel_oversample: int = 10,
        binary_quantization: bool = False,
        payload_indexes: Mapping[str, str] | None = None,
        batch_size: int = 1024,
    ) -> None:
        if not isinstance(collection, str) or not collection or "/" in collection:
            raise ConfigurationError("collection must be a non-empty name without '/'")
        if collection.startswith("."):
            raise ConfigurationError("collection must not start with '.'")
        _edge()  # fail early when the extra is missing
        self.collection = collection
        self.root = Path(path)
        self.funnel_dimensions = check_funnel(funnel_dimensions)
        self.funnel_oversample = check_positive("funnel_oversample", funnel_oversample)
        self.binary_quantization = bool(binary_quantization)
        self.payload_indexes = check_payload_indexes(payload_indexes)
        self.batch_size = check_positive("batch_size", batch_size)
        self._shard: Any | None = None
        self._signature: EmbeddingSignature | None = None
        self._closed = False
        # One shard handle, used from the caller's thread or the async twins' worker thread.
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return (
            f"QdrantEdgeStore(collection={self.collection!r}, path={str(self.root)!r}, "
            f"funnel_dimensions={self.funnel_dimensions})"
        )

    @property
    def shard_path(self) -> Path:
        """Directory of this collection's Edge shard."""
        return self.root / self.collection

    @property
    def signature_path(self) -> Path:
        """JSON file with the collection's embedding signature and layout."""
        return self.root / f"{self.collection}.jina_v3.json"

    # -- shard handling ------------------------------------------------------------------------

    def _exists(self) -> bool:
        return (self.shard_path / _CONFIG_FILE).is_file()

    def _open(self) -> Any:
        """The open shard, loading it from disk on first use (None if it does not exist)."""
        if self._closed:
            raise StoreError(f"QdrantEdgeStore({self.collection!r}) is closed; create a new store.")
        if self._shard is None and self._exists():
            with wrap_errors("load shard", self.collection):
                self._shard = _edge().EdgeShard.load(str(self.shard_path))
        return self._shard

    def _read_meta(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.signature_path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"Cannot read the signature file {self.signature_path} of collection "
                f"{self.collection!r}: {exc}"
            ) from exc

    def _write_meta(self, meta: Mapping[str, Any]) -> None:
        tmp = self.signature_path.with_suffix(".json.tmp")
        with wrap_errors("write signature", self.collection):
            tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
            os.replace(tmp, self.signature_path)  # atomic: never a half-written signature

    def _drop(self) -> None:
        if self._shard is not None:
            with wrap_errors("close shard", self.collection):
                self._shard.close()
            self._shard = None
        with wrap_errors("drop collection", self.collection):
            shutil.rmtree(self.shard_path, ignore_errors=True)
            self.signature_path.unlink(missing_ok=True)
        self._signature = None

    # -- the VectorStore protocol --------------------------------------------------------------

    def ensure_collection(self, signature: EmbeddingSignature, *, recreate: bool = False) -> None:
        """Create the shard for `signature`, or check an existing one against it.

        Raises:
            DimensionMismatchError, SignatureMismatchError: The existing shard was built
                otherwise (nothing is written); the message says which argument fixes it.
            StoreError: The engine failed.
        """
        edge = _edge()
        if signature.embedding_type != "float":
            raise ConfigurationError(
                f"Qdrant Edge stores float vectors; embedding_type={signature.embedding_type!r} "
                "is not supported. Use embedding_type='float' with binary_quantization=True."
            )
        if self.funnel_dimensions is not None and self.funnel_dimensions >= signature.dimensions:
            raise ConfigurationError(
                f"funnel_dimensions={self.funnel_dimensions} must be smaller than the index's "
                f"dimensions={signature.dimensions}."
            )
        with self._lock:
            if recreate and (self._exists() or self.signature_path.exists()):
                logger.info("recreate=True: dropping Qdrant Edge collection %r", self.collection)
                self._drop()
            if self._exists():
                self._check_existing(signature)
                self._open()
                self._signature = signature
                return
            full = edge.EdgeVectorParams(size=signature.dimensions, distance=edge.Distance.Cosine)
            vectors: dict[str, Any] = {FULL: full}
            if self.funnel_dimensions is not None:
                vectors[FUNNEL] = edge.EdgeVectorParams(
                    size=self.funnel_dimensions, distance=edge.Distance.Cosine
                )
            quantization = edge.BinaryQuantizationConfig() if self.binary_quantization else None
            self.root.mkdir(parents=True, exist_ok=True)
            with wrap_errors("create collection", self.collection):
                shard = edge.EdgeShard.create(
                    str(self.shard_path),
                    edge.EdgeConfig(vectors=vectors, quantization_config=quantization),
                )
                # Payload indexes must exist before optimize() builds the segments.
                for field, kind in {DOCUMENT_ID_KEY: "keyword", **self.payload_indexes}.items():
                    schema = getattr(edge.PayloadSchemaType, kind.capitalize())
                    shard.update(edge.UpdateOperation.create_field_index(field, schema))
            self._shard = shard
            self._write_meta({SIGNATURE_KEY: signature.to_dict(), LAYOUT_KEY: self._layout()})
            self._signature = signature

    def _layout(self) -> dict[str, Any]:
        return {
            "funnel_dimensions": self.funnel_dimensions,
            "binary_quantization": self.binary_quantization,
            "payload_indexes": self.payload_indexes,
        }

    def _check_existing(self, signature: EmbeddingSignature) -> None:
        meta = self._read_meta()
        fix = "or use a new collection name, or pass recreate=True to rebuild it"
        if meta is None:
            raise SignatureMismatchError(
                f"Qdrant Edge collection {self.collection!r} has no signature file "
                f"({self.signature_path}); use a new collection name, or pass recreate=True."
            )
        stored = EmbeddingSignature.from_dict(meta.get(SIGNATURE_KEY, {}))
        check_signature(signature, stored, collection=self.collection)
        has = meta.get(LAYOUT_KEY, {}).get("funnel_dimensions")
        if has != self.funnel_dimensions:
            raise SignatureMismatchError(
                f"Qdrant Edge collection {self.collection!r} was created with "
                f"funnel_dimensions={has} but this store uses funnel_dimensions="
                f"{self.funnel_dimensions}. Fix: pass funnel_dimensions={has}, {fix}."
            )

    def read_signature(self) -> EmbeddingSignature | None:
        """The signature in the shard's signature file (None without a shard)."""
        with self._lock:
            if not self._exists():
                return None
            meta = self._read_meta()
        if meta is None or SIGNATURE_KEY not in meta:
            return None
        return EmbeddingSignature.from_dict(meta[SIGNATURE_KEY])

    def _ready(self) -> tuple[Any, EmbeddingSignature]:
        shard = self._open()
        if self._signature is None and shard is not None:
            self._signature = self.read_signature()
        if shard is None or self._signature is None:
            raise StoreError(
                f"Qdrant Edge collection {self.collection!r} does not exist under {self.root}; "
                "call ensure_collection(signature) first (VectorIndex does)."
            )
        return shard, self._signature

    def _check_vectors(self, vectors: np.ndarray, signature: EmbeddingSignature) -> None:
        if vectors.ndim != 2 or vectors.shape[1] != signature.dimensions:
            raise DimensionMismatchError(
                f"Vectors of shape {tuple(vectors.shape)} do not fit Qdrant Edge collection "
                f"{self.collection!r} ({signature.dimensions}-d): embed with "
                f"dimensions={signature.dimensions}, or use another collection."
            )

    def upsert(self, records: Sequence[Record]) -> None:
        """Write records, `batch_size` points per update (overwrites by id)."""
        edge = _edge()
        records = list(records)
        if not records:
            return
        with self._lock:
            shard, signature = self._ready()
            for chunk in batched(records, self.batch_size):
                vectors = np.asarray(np.stack([r.vector for r in chunk]), dtype=np.float32)
                self._check_vectors(vectors, signature)
                full = vectors.tolist()
                funnel = (
                    prefix_vectors(vectors, self.funnel_dimensions).tolist()
                    if self.funnel_dimensions is not None
                    else None
                )
                with wrap_errors("upsert", self.collection):  # the binding converts here too
                    points = [
                        edge.Point(
                            r.id,
                            {FULL: full[i]}
                            if funnel is None
                            else {FULL: full[i], FUNNEL: funnel[i]},
                            record_payload(r),
                        )
                        for i, r in enumerate(chunk)
                    ]
                    shard.update(edge.UpdateOperation.upsert_points(points))

    def query(self, vector: np.ndarray, *, k: int, filter: Any | None = None) -> list[Hit]:
        """The `k` nearest points (cosine similarity, best first) matching `filter` (a
        Mongo-style dict or a ``qdrant_edge.Filter``)."""
        edge = _edge()
        check_positive("k", k)
        native = self._filter(filter)
        with self._lock:
            shard, signature = self._ready()
            query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
            self._check_vectors(query, signature)
            params = None
            if self.binary_quantization:
                params = edge.SearchParams(
                    quantization=edge.QuantizationSearchParams(rescore=True, oversampling=2.0)
                )
            prefetches = None
            if self.funnel_dimensions is not None:
                coarse = prefix_vectors(query, self.funnel_dimensions)[0].tolist()
                prefetches = [
                    edge.Prefetch(
                        limit=k * self.funnel_oversample,
                        query=edge.Query.Nearest(coarse, using=FUNNEL),
                        filter=native,
                    )
                ]
            request = edge.QueryRequest(
                limit=k,
                query=edge.Query.Nearest(query[0].tolist(), using=FULL),
                prefetches=prefetches,
                filter=native,
                with_payload=True,
                params=params,
            )
            with wrap_errors("query", self.collection):
                points = shard.query(request)
        return [hit_from_payload(str(p.id), p.score, p.payload or {}) for p in points]

    def delete(
        self, *, ids: Sequence[str] | None = None, document_ids: Sequence[str] | None = None
    ) -> None:
        """Delete points by id and/or all points of the given document ids."""
        edge = _edge()
        point_ids, doc_ids = as_str_ids(ids), as_str_ids(document_ids)
        with self._lock:
            shard = self._open()
            if shard is None:
                return
            with wrap_errors("delete", self.collection):
                if point_ids:
                    shard.update(edge.UpdateOperation.delete_points(point_ids))
                if doc_ids:
                    condition = edge.FieldCondition(
                        key=DOCUMENT_ID_KEY, match=edge.MatchAny(any=doc_ids)
                    )
                    shard.update(
                        edge.UpdateOperation.delete_points_by_filter(edge.Filter(must=[condition]))
                    )

    def count(self) -> int:
        """Points in the shard (0 without a shard)."""
        edge = _edge()
        with self._lock:
            shard = self._open()
            if shard is None:
                return 0
            with wrap_errors("count", self.collection):
                return int(shard.count(edge.CountRequest(exact=True)))

    def optimize(self) -> bool:
        """Build the shard's optimized segments (HNSW) now, blocking; True if any was built.

        Call it after a bulk ingestion: appendable segments are searched exhaustively.
        """
        with self._lock:
            shard, _ = self._ready()
            with wrap_errors("optimize", self.collection):
                return bool(shard.optimize())

    def close(self) -> None:
        """Flush and close the shard (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._shard is not None:
                with wrap_errors("close", self.collection):
                    self._shard.flush()
                    self._shard.close()
                self._shard = None

    def _filter(self, filter: Any | None) -> Any:
        if filter is None:
            return None
        edge = _edge()
        if isinstance(filter, edge.Filter):
            return filter  # native: untouched
        if isinstance(filter, Mapping):
            return to_edge_filter(filter_tree(filter))
        raise unsupported_filter(filter, "qdrant_edge.Filter")


def to_edge_filter(node: FilterNode) -> Any:
    """Translate a parsed filter tree to a ``qdrant_edge.Filter`` (same semantics as
    :func:`jina_v3.connectors.qdrant.to_qdrant_filter`)."""
    edge = _edge()
    if isinstance(node, And):
        return edge.Filter(must=[to_edge_filter(c) for c in node.children])
    if isinstance(node, Or):
        return edge.Filter(should=[to_edge_filter(c) for c in node.children])
    return edge.Filter(must=[_condition(node, edge)])


def _condition(node: Condition, edge: Any) -> Any:
    op = node.op
    if op in ("$ne", "$nin"):
        positive = Condition(node.field, "$eq" if op == "$ne" else "$in", node.value)
        return edge.Filter(must_not=[_condition(positive, edge)])
    if op == "$eq":
        return _equals(node.field, node.value, edge)
    if op == "$in":
        values = node.value
        assert isinstance(values, tuple)
        if not values or all(isinstance(v, str) for v in values):
            return edge.FieldCondition(key=node.field, match=edge.MatchAny(any=list(values)))
        return edge.Filter(should=[_equals(node.field, v, edge) for v in values])
    bound = {"$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}[op]
    return edge.FieldCondition(
        key=node.field,
        range=edge.RangeFloat(**{bound: float(node.value)}),  # type: ignore[arg-type]
    )


def _equals(field: str, value: Any, edge: Any) -> Any:
    if isinstance(value, bool):
        # The binding reads a Python bool as the integer 1/0, which never matches a stored
        # boolean; numpy's bool_ reaches the engine as a real boolean.
        return edge.FieldCondition(key=field, match=edge.MatchValue(np.bool_(value)))
    if isinstance(value, str):
        return edge.FieldCondition(key=field, match=edge.MatchValue(value))
    value = float(value)
    return edge.FieldCondition(key=field, range=edge.RangeFloat(gte=value, lte=value))
