"""Qdrant Edge connector: `QdrantEdgeStore` over qdrant-edge-py, Qdrant's Rust engine
embedded in the process (segments, WAL, HNSW, payload indexes), with no server.

Each collection is one Edge shard in ``<path>/<collection>/``. Edge shards have no metadata
API, so the embedding signature lives in ``<path>/<collection>.jina_v3.json`` beside the
shard. Funnel search (``funnel_dimensions``) stores the re-normalised Matryoshka prefix as
a second named vector and queries prefetch on it, then rescore with the full vector.

Example:
    >>> from jina_v3 import Embedder, VectorIndex
    >>> from jina_v3.connectors.qdrant_edge import QdrantEdgeStore
    >>> index = VectorIndex(Embedder(), QdrantEdgeStore("docs", path="./edge"), dimensions=256)
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from jina_v3._flow import Call, Flow, InThread
from jina_v3.connectors.base.common import LAYOUT_KEY, SIGNATURE_KEY, require
from jina_v3.connectors.base.store import Described, client
from jina_v3.connectors.qdrant.common import FULL, FUNNEL, KEYWORDS, QdrantFamilyStore
from jina_v3.connectors.qdrant.filters import FilterModels
from jina_v3.errors import ConfigurationError, StoreError, StoreInUseError
from jina_v3.index.filters import FilterNode
from jina_v3.index.keywords import SparseVector
from jina_v3.index.store import EmbeddingSignature, Hit, hit_from_payload, record_payload

__all__ = ["QdrantEdgeStore", "to_edge_filter"]

_CONFIG_FILE = "edge_config.json"  # written by Edge in every shard directory

try:
    import fcntl
except ImportError:  # Windows: Edge's own WAL lock still refuses a second process
    fcntl = None  # type: ignore[assignment]


def _edge() -> Any:
    return require("qdrant_edge", "qdrant-edge", "qdrant-edge-py")


class _Shard:
    """One Edge shard on disk with its signature file: the store's client. One handle,
    loaded lazily, used by one thread at a time (the caller's or the async twins' worker)."""

    def __init__(self, root: Path, collection: str) -> None:
        self.path = root / collection
        self.meta_path = root / f"{collection}.jina_v3.json"
        self._lock_path = root / f"{collection}.jina_v3.lock"
        self._held: Any | None = None  # the lock file, while this process holds the shard
        self._shard: Any | None = None
        self.lock = threading.RLock()

    def exists(self) -> bool:
        return (self.path / _CONFIG_FILE).is_file()

    def _hold(self) -> None:
        """Hold the shard's lock file from before it is created or opened until it is
        closed: a second process is refused at once, before it reads or writes anything,
        so two first runs never both create the shard (one would lack its signature)."""
        if self._held is not None or fcntl is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        held = open(self._lock_path, "ab")  # kept open while held
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.close()
            raise StoreInUseError(str(self.path.parent)) from None
        self._held = held

    def _open(self) -> Any:
        if self._shard is None:
            self._hold()
            self._shard = _edge().EdgeShard.load(str(self.path))
        return self._shard

    def read_meta(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.meta_path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreError(f"Cannot read the signature file {self.meta_path}: {exc}") from exc

    def write_meta(self, meta: Mapping[str, Any]) -> None:
        tmp = self.meta_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
        os.replace(tmp, self.meta_path)  # atomic: never a half-written signature

    def create(self, config: Any, field_indexes: list[tuple[str, Any]]) -> None:
        edge = _edge()
        self._hold()
        if self.exists():  # made by another process since this one looked
            raise StoreInUseError(str(self.path.parent))
        shard = edge.EdgeShard.create(str(self.path), config)
        # payload indexes must exist before optimize() builds the segments
        for name, schema in field_indexes:
            shard.update(edge.UpdateOperation.create_field_index(name, schema))
        self._shard = shard

    def drop(self) -> None:
        self._hold()  # never remove a shard another process has open
        self._close_shard()
        shutil.rmtree(self.path, ignore_errors=True)
        self.meta_path.unlink(missing_ok=True)

    def update(self, operation: Any) -> None:
        self._open().update(operation)

    def query(self, request: Any) -> Any:
        return self._open().query(request)

    def retrieve(self, ids: list[str]) -> Any:
        return self._open().retrieve(ids, with_payload=True, with_vector=False)

    def scroll(self, request: Any) -> Any:
        return self._open().scroll(request)

    def count(self) -> int:
        return int(self._open().count(_edge().CountRequest(exact=True)))

    def peek_count(self) -> int:
        """count(), leaving the shard closed (and unheld) if it was: a collection that is
        refused must not stay held by a store its caller may never close."""
        was_open = self._shard is not None
        try:
            return self.count()
        finally:
            if not was_open:
                self.close()

    def optimize(self) -> bool:
        return bool(self._open().optimize())

    def collections(self) -> list[str]:
        """The shards beside this one that carry a signature file."""
        suffix = ".jina_v3.json"
        root = self.path.parent
        if not root.is_dir():
            return []
        return sorted(p.name[: -len(suffix)] for p in root.glob(f"*{suffix}"))

    def _close_shard(self) -> None:
        if self._shard is not None:
            shard, self._shard = self._shard, None
            shard.flush()
            shard.close()

    def close(self) -> None:
        self._close_shard()
        held, self._held = self._held, None
        if held is not None:
            held.close()  # releases the lock


class QdrantEdgeStore(QdrantFamilyStore):
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

    engine = "Qdrant Edge"
    native_filter_name = "qdrant_edge.Filter"

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
        super().__init__(collection, batch_size)
        self._set_layout(funnel_dimensions, funnel_oversample, binary_quantization, payload_indexes)
        if "/" in collection or collection.startswith("."):
            raise ConfigurationError("collection must be a name without '/', not starting '.'")
        _edge()  # fail early when the extra is missing
        self.root = Path(path)

    def _where(self) -> str:
        return f"path={str(self.root)!r}"

    @property
    def shard_path(self) -> Path:
        """Directory of this collection's Edge shard."""
        return self.root / self.collection

    @property
    def signature_path(self) -> Path:
        """JSON file with the collection's embedding signature and layout."""
        return self.root / f"{self.collection}.jina_v3.json"

    def _connect(self) -> _Shard:
        return _Shard(self.root, self.collection)

    def _run(self, operation: str, flow: Flow[Any]) -> Any:
        with self.client.lock:
            return super()._run(operation, flow)

    def _async_client(self) -> Any:
        return InThread(self.client, lock=self.client.lock)

    @contextmanager
    def _guard(self, operation: str, call: Call) -> Iterator[None]:
        try:
            with super()._guard(operation, call):
                yield
        except StoreError as exc:  # Edge's own lock: "failed to open WAL ... WouldBlock"
            if "WouldBlock" not in str(exc):
                raise
            raise StoreInUseError(str(self.root)) from None

    def _close_clients(self) -> None:
        if self._client is not None:
            with self._client.lock:
                self._client.close()

    def optimize(self) -> bool:
        """Build the shard's optimized segments (HNSW) now, blocking; True if any was built.

        Call it after a bulk ingestion: appendable segments are searched exhaustively. With
        the keyword channel, deleted points count in the engine's IDF until this vacuums
        their segment (it vacuums any segment holding a deleted point).
        """

        def flow() -> Flow[bool]:
            yield from self._expected()
            return bool((yield client("optimize")))

        return self._run("optimize", flow())

    # -- engine hooks ----------------------------------------------------------------------------

    def _exists(self) -> Flow[bool]:
        return bool((yield client("exists")))

    def _describe(self) -> Flow[Described]:
        meta = yield client("read_meta")
        if meta is None or SIGNATURE_KEY not in meta:
            return Described(None)
        return Described(
            EmbeddingSignature.from_dict(meta[SIGNATURE_KEY]),
            layout={"funnel_dimensions": meta.get(LAYOUT_KEY, {}).get("funnel_dimensions")},
        )

    def _create(self, signature: EmbeddingSignature) -> Flow[None]:
        edge = _edge()
        cosine = edge.Distance.Cosine
        vectors = {FULL: edge.EdgeVectorParams(size=signature.dimensions, distance=cosine)}
        if self.funnel_dimensions is not None:
            vectors[FUNNEL] = edge.EdgeVectorParams(size=self.funnel_dimensions, distance=cosine)
        quantization = edge.BinaryQuantizationConfig() if self.binary_quantization else None
        indexes = [
            (name, getattr(edge.PayloadSchemaType, kind.capitalize()))
            for name, kind in self._indexed_fields().items()
        ]
        sparse = optimizers = None
        if signature.keywords is not None:  # BM25: the engine keeps the IDF statistics
            sparse = {KEYWORDS: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)}
            # deleted points count in the IDF until their segment is vacuumed: optimize()
            # vacuums any segment with a deleted point, so the IDF is exact after it
            optimizers = edge.EdgeOptimizersConfig(
                deleted_threshold=0.0, vacuum_min_vector_number=1
            )
        config = edge.EdgeConfig(
            vectors=vectors,
            sparse_vectors=sparse,
            quantization_config=quantization,
            optimizers=optimizers,
        )
        yield client("create", config, indexes)
        yield client("write_meta", self._stored_settings(signature))

    def _drop(self) -> Flow[None]:
        yield client("drop")

    def _write(self, items: list[Any], signature: EmbeddingSignature) -> Flow[None]:
        edge = _edge()
        columns = self._dense_columns(items)
        points = []
        for i, (record, _) in enumerate(items):
            named = {name: column[i] for name, column in columns.items()}
            if record.keywords:  # a text without terms has no keyword vector
                named[KEYWORDS] = self._sparse(record.keywords)
            points.append(edge.Point(record.id, named, record_payload(record)))
        yield client("update", edge.UpdateOperation.upsert_points(points))

    def _fetch(self, ids: list[str]) -> Flow[list[Hit]]:
        records = yield client("retrieve", ids)
        return [hit_from_payload(r.id, 1.0, r.payload or {}) for r in records]

    def _scroll(
        self, cursor: str | None, limit: int, vectors: bool
    ) -> Flow[tuple[list, str | None]]:
        request = _edge().ScrollRequest(
            offset=cursor, limit=limit, with_payload=True, with_vector=vectors
        )
        points, following = yield client("scroll", request)
        return self._page(points, following, vectors)

    def _delete(self, *, ids: list[str] = (), document_ids: list[str] = ()) -> Flow[None]:  # type: ignore[assignment]
        update = _edge().UpdateOperation
        if ids:
            operation = update.delete_points(list(ids))
        else:
            operation = update.delete_points_by_filter(self._document_filter(document_ids))
        yield client("update", operation)

    def _delete_matching(self, native: Any) -> Flow[None]:
        yield client("update", _edge().UpdateOperation.delete_points_by_filter(native))

    def _collections(self) -> Flow[list[str]]:
        return (yield client("collections"))

    def _count(self) -> Flow[int]:
        return int((yield client("count")))

    def _adopt(self, signature: EmbeddingSignature) -> Flow[None]:
        # an empty shard without its signature file was half made (a run stopped between
        # the two): made again, whole
        yield from self._drop()
        yield from self._create(signature)

    def _foreign_points(self) -> Flow[int]:
        return int((yield client("peek_count")))

    # -- Qdrant Edge's vocabulary (see jina_v3.connectors.qdrant.common) -------------------------

    def _dense_name(self) -> str:
        return FULL  # Edge names every vector

    def _nearest(self, vector: Any, using: str | None) -> Any:
        return _edge().Query.Nearest(vector, using=using)

    def _prefetch(self, query: Any, limit: int, native: Any) -> Any:
        return _edge().Prefetch(limit=limit, query=query, filter=native)

    def _fusion(self, k: int) -> Any:
        return _edge().Fusion.Rrf(k=k)

    def _query(
        self, query: Any, k: int, native: Any, prefetch: list | None = None, rescore: bool = False
    ) -> Flow[list[Any]]:
        edge = _edge()
        params = None
        if rescore:
            quantization = edge.QuantizationSearchParams(rescore=True, oversampling=2.0)
            params = edge.SearchParams(quantization=quantization)
        request = edge.QueryRequest(
            limit=k,
            query=query,
            prefetches=prefetch,
            filter=native,
            with_payload=True,
            params=params,
        )
        return (yield client("query", request))

    def _sparse(self, keywords: SparseVector) -> Any:
        return _edge().SparseVector(list(keywords.indices), list(keywords.values))

    def _filter_models(self) -> FilterModels:
        return _filter_models()


def _filter_models() -> FilterModels:
    edge = _edge()
    # The binding reads a Python bool as the integer 1/0, which never matches a stored
    # boolean; numpy's bool_ reaches the engine as a real boolean.
    return FilterModels(edge, edge.RangeFloat, np.bool_)


def to_edge_filter(node: FilterNode) -> Any:
    """Translate a parsed filter tree to a ``qdrant_edge.Filter`` (the same translator and
    semantics as :func:`jina_v3.connectors.qdrant.to_qdrant_filter`)."""
    return _filter_models().translate(node)
