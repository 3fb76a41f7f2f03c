"""Pinecone connector: `PineconeStore`, one index namespace through the `pinecone` SDK (v10).

    from jina_v3.connectors.pinecone import PineconeStore

    store = PineconeStore("docs", namespace="en")        # PINECONE_API_KEY from the environment

The embedding signature is stored as index tags (``jina_v3_model``, ``jina_v3_dimensions``,
...; Pinecone tag values are short printable ASCII, so each field is its own tag). Requests
respect Pinecone's limits: at most 1000 vectors and 2 MB per upsert, 40 KB of metadata per
vector (the chunk text is cut to fit, with a warning naming the point), metadata values that
are strings, numbers, booleans or lists of strings (nulls are dropped). The keyword channel of
hybrid search (``hybrid=True``) is :mod:`jina_v3.connectors.pinecone.keywords`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from jina_v3._flow import Flow
from jina_v3.connectors.base.common import require, wrap_errors
from jina_v3.connectors.base.store import BaseStore, Described, client
from jina_v3.connectors.pinecone.client import PineconeClient
from jina_v3.connectors.pinecone.keywords import (
    HYBRID_METRIC,
    STATS_SUFFIX,
    PineconeKeywords,
    sparse_values,
    stats_namespace,
    stored_sparse,
    unit,
)
from jina_v3.connectors.pinecone.tags import comparable, signature_from_tags, signature_tags
from jina_v3.errors import (
    ConfigurationError,
    DimensionMismatchError,
    SignatureMismatchError,
    StoreError,
    check_positive,
)
from jina_v3.index.filters import parse_filter
from jina_v3.index.store import (
    DOCUMENT_ID_KEY,
    NO_VECTOR,
    REBUILD_FIX,
    TEXT_KEY,
    EmbeddingSignature,
    Hit,
    hit_from_payload,
    record_from_payload,
    record_payload,
)

if TYPE_CHECKING:
    from jina_v3.index.store import Record

__all__ = ["PineconeStore", "signature_from_tags", "signature_tags"]

logger = logging.getLogger(__name__)

MAX_BATCH_VECTORS = 1000
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_METADATA_BYTES = 40 * 1024
MAX_TOP_K = 10_000
_VALUE_BYTES = 24
# room for the request envelope and the SDK's serialisation differing from ours
_REQUEST_MARGIN = 16 * 1024


class PineconeStore(PineconeKeywords, BaseStore):
    """One Pinecone index namespace as a :class:`~jina_v3.store.VectorStore`.

    Example:
        >>> from jina_v3 import Document, Embedder, VectorIndex
        >>> index = VectorIndex(Embedder(backend="api"), PineconeStore("docs", namespace="en"))
        >>> index.add([Document("a", "Pinecone is a managed vector database.")])
        >>> index.search("managed vector databases", k=3)

    Args:
        index_name: The index name (created with the cosine metric, dotproduct for the keyword
            channel, and the signature tags when missing). Optional when ``host`` is given;
            the name is then looked up.
        host: The index's data-plane host (skips the describe call that resolves it).
        namespace: Namespace of this store's points ("" is the default namespace).
        api_key: Pinecone API key; defaults to ``PINECONE_API_KEY``. Never logged.
        client: A ready ``pinecone.Pinecone`` client (control plane); the store does not close it.
        controller_host: Control-plane URL (for a Pinecone-compatible server).
        create_if_missing: Create the index in :meth:`ensure_collection` when it does not exist.
        cloud: Cloud of a created index.
        region: Region of a created index.
        batch_size: Vectors per upsert request (at most 1000; requests also stay under 2 MB).
        timeout: Seconds per request (the SDK's default otherwise).
        ready_timeout: Seconds to wait for a created or deleted index.

    Raises:
        ConfigurationError: Invalid arguments, or no API key (nothing is opened).
    """

    engine = "Pinecone"
    native_filter_name = "Pinecone filter dict"
    max_k = MAX_TOP_K
    max_request_bytes = MAX_REQUEST_BYTES - _REQUEST_MARGIN

    def __init__(
        self,
        index_name: str | None = None,
        *,
        host: str | None = None,
        namespace: str = "",
        api_key: str | None = None,
        client: Any | None = None,
        controller_host: str | None = None,
        create_if_missing: bool = True,
        cloud: str = "aws",
        region: str = "us-east-1",
        batch_size: int = MAX_BATCH_VECTORS,
        timeout: float | None = None,
        ready_timeout: int = 300,
    ) -> None:
        if index_name is None and host is None:
            raise ConfigurationError("PineconeStore needs index_name=... or host=...")
        if index_name is not None and (not isinstance(index_name, str) or not index_name):
            raise ConfigurationError("index_name must be a non-empty string")
        if not isinstance(namespace, str):
            raise ConfigurationError("namespace must be a string")
        super().__init__(index_name or host or "?", batch_size)
        if self.batch_size > MAX_BATCH_VECTORS:
            raise ConfigurationError(
                f"batch_size={batch_size} exceeds Pinecone's {MAX_BATCH_VECTORS} vectors per "
                "upsert request"
            )
        require("pinecone", "pinecone", "pinecone")  # a missing extra fails here, not later
        self._api_key = api_key or os.environ.get("PINECONE_API_KEY")
        if client is None and not self._api_key:
            raise ConfigurationError(
                "No Pinecone API key: pass api_key=... or set PINECONE_API_KEY (or pass client=)."
            )
        self._name = index_name
        self._host = host
        self.namespace = namespace
        self._pc = client
        self._owns_client = client is None
        self._controller_host = controller_host
        self._create_missing = bool(create_if_missing)
        self._cloud, self._region = cloud, region
        self._timeout = timeout
        self._ready_timeout = check_positive("ready_timeout", ready_timeout)
        self._looked_up = False
        if namespace:
            self.collection = f"{self.collection}/{namespace}"

    def __repr__(self) -> str:  # no key, ever
        return (
            f"PineconeStore(index_name={self._name!r}, host={self._host!r}, "
            f"namespace={self.namespace!r})"
        )

    # -- clients -----------------------------------------------------------------------------

    def _connect(self) -> PineconeClient:
        pc = self._pc
        if pc is None:
            pinecone = require("pinecone", "pinecone", "pinecone")
            kwargs: dict[str, Any] = {"api_key": self._api_key}
            if self._controller_host:
                kwargs["host"] = self._controller_host
            if self._timeout is not None:
                kwargs["timeout"] = self._timeout
            pc = self._pc = pinecone.Pinecone(**kwargs)
        return PineconeClient(pc, self._name, self._host, self.namespace)

    @property
    def index(self) -> Any:
        """The data-plane ``Index`` of this store (resolves the host on first use)."""
        with wrap_errors("connect", self.collection):
            return self.client.index

    def _close_clients(self) -> None:
        for obj, owned in ((self._client, True), (self._pc, self._owns_client)):
            if obj is not None and owned and hasattr(obj, "close"):
                try:
                    obj.close()
                except Exception:  # best effort
                    logger.debug("closing a Pinecone client failed", exc_info=True)

    # -- engine hooks ------------------------------------------------------------------------

    def _ensure_flow(self, signature: EmbeddingSignature, recreate: bool) -> Flow[None]:
        if self._name is None and not self._looked_up:  # once: it lists every index
            self._looked_up = True
            try:
                self._name = self.client.name = yield client("name_of_host")
            except StoreError:  # a data-plane-only setup: work without the control plane
                logger.info("could not list Pinecone indexes to name host %s", self._host)
        if self._name is not None:
            yield from super()._ensure_flow(signature, recreate)
            return
        # a data-plane host only: no tags to keep the signature in
        if recreate:
            raise ConfigurationError("recreate=True needs index_name=... (the control plane)")
        self._check_fits(signature)
        stats = yield client("stats")
        if stats.dimension is not None and stats.dimension != signature.dimensions:
            raise DimensionMismatchError(
                f"Pinecone index at {self._host!r} holds {stats.dimension}-d vectors but this "
                f"index makes {signature.dimensions}-d ones. Fix: pass "
                f"dimensions={stats.dimension}, or another index."
            )
        metric = getattr(stats, "metric", None)
        if signature.keywords is not None and metric not in (None, HYBRID_METRIC):
            raise ConfigurationError(
                f"Pinecone index at {self._host!r} uses metric {metric!r}; the keyword "
                f"channel (hybrid=True) needs {HYBRID_METRIC!r}. Fix: pass index_name=... so "
                "the store can create one, or hybrid=False."
            )
        self._signature = signature

    def _read_flow(self) -> Flow[EmbeddingSignature | None]:
        if self._name is None:
            return self._signature
        return (yield from super()._read_flow())

    def _exists(self) -> Flow[bool]:
        if self._name is None:
            return True  # a data-plane host: the index is there
        return (yield client("describe")) is not None

    def _describe(self) -> Flow[Described]:
        model = yield client("describe")
        dimension, metric = _dense_field(model)
        signature = signature_from_tags(model.tags)
        # the keyword channel's sparse-dense records need dotproduct (over unit vectors)
        wanted = "cosine" if signature is None or signature.keywords is None else HYBRID_METRIC
        if metric != wanted:
            raise SignatureMismatchError(
                f"Pinecone index {self._name!r} uses metric {metric!r}; jina-embeddings-v3 "
                f"needs {wanted!r} here. Fix: {REBUILD_FIX}."
            )
        return Described(signature, dimension)

    def _check_described(self, found: Described, signature: EmbeddingSignature) -> None:
        # tags keep a digest of a long model name: compare the signature as it reads back
        super()._check_described(found, comparable(signature))

    def _can_remake(self) -> bool:
        return self._create_missing

    def _adopt(self, signature: EmbeddingSignature) -> Flow[None]:
        yield client("configure", signature_tags(signature))

    def _foreign_points(self) -> Flow[int]:
        stats = yield client("stats")
        return int(stats.total_vector_count or 0)

    def _create(self, signature: EmbeddingSignature) -> Flow[None]:
        if not self._create_missing:
            raise StoreError(
                f"Pinecone index {self._name!r} does not exist; create it or pass "
                "create_if_missing=True."
            )
        metric = "cosine" if signature.keywords is None else HYBRID_METRIC
        dense = {"type": "dense_vector", "dimension": signature.dimensions, "metric": metric}
        yield client(
            "create",
            schema={"fields": {"_values": dense}},
            deployment={"deployment_type": "managed", "cloud": self._cloud, "region": self._region},
            tags=signature_tags(signature),
            timeout=self._ready_timeout,
        )

    def _drop(self) -> Flow[None]:
        yield client("delete_index", self._ready_timeout)

    def _clear_flow(self) -> Flow[None]:
        signature = yield from self._expected()
        yield client("delete", delete_all=True)
        if signature.keywords is not None:
            yield client("delete", stats_namespace(self.namespace), delete_all=True)

    def _check_record(self, record: Record, where: str) -> None:
        _fields(record, where)

    def _item(self, record: Record, vector: np.ndarray) -> tuple[Any, int]:
        metadata, metadata_size = _metadata(record)
        item = {"id": record.id, "values": vector.tolist(), "metadata": metadata}
        # an upper bound, not a second serialisation: a float32 printed as a double takes
        # at most 24 characters with its comma
        size = _VALUE_BYTES * vector.size + metadata_size + len(record.id) + 64
        if self._signature is not None and self._signature.keywords is not None:
            item["values"] = unit(vector).tolist()
            sparse = sparse_values(record.keywords, record.id)
            if sparse is not None:
                item["sparse_values"] = sparse
                size += (_VALUE_BYTES + 8) * len(sparse["indices"])
        return item, size

    def _write(self, items: list[Any], signature: EmbeddingSignature) -> Flow[None]:
        if signature.keywords is None:
            yield client("upsert", items)
        else:
            yield from self._write_counted(items)

    def _native_filter(self, filter: Any | None) -> Any:
        if filter is None:
            return None
        if not isinstance(filter, Mapping):
            return super()._native_filter(filter)  # the typed error
        parse_filter(filter)  # typed errors for operators outside the dialect
        return dict(filter)  # Pinecone's own dialect: sent as it is

    def _search(
        self, vector: np.ndarray, k: int, native: Any, signature: EmbeddingSignature
    ) -> Flow[list[Hit]]:
        if signature.keywords is not None:
            vector = unit(vector)  # dotproduct over unit vectors: cosine
        result = yield client("query", vector=vector.tolist(), top_k=k, filter=native)
        return [
            hit_from_payload(m.id, float(m.score), dict(m.metadata or {})) for m in result.matches
        ]

    def _fetch(self, ids: list[str]) -> Flow[list[Hit]]:
        result = yield client("fetch", ids)
        vectors = result.vectors or {}
        return [hit_from_payload(i, 1.0, dict(v.metadata or {})) for i, v in vectors.items()]

    def _scroll(
        self, cursor: str | None, limit: int, vectors: bool
    ) -> Flow[tuple[list, str | None]]:
        page = yield client("list_page", min(limit, 100), cursor)  # Pinecone lists <= 100
        ids = [v.id for v in page.vectors or []]
        found = ((yield client("fetch", ids)).vectors or {}) if ids else {}
        records = [
            record_from_payload(
                i,
                np.asarray(found[i].values, dtype=np.float32) if vectors else NO_VECTOR,
                dict(found[i].metadata or {}),
                keywords=stored_sparse(found[i]) if vectors else None,
            )
            for i in ids
            if i in found
        ]
        following = page.pagination.next if page.pagination else None
        return records, following or None

    def _delete(self, *, ids: list[str] = (), document_ids: list[str] = ()) -> Flow[None]:  # type: ignore[assignment]
        if document_ids:
            yield from self._delete_matching({DOCUMENT_ID_KEY: {"$in": list(document_ids)}})
        elif (yield from self._expected()).keywords is None:
            yield client("delete", ids=list(ids))
        else:
            yield from self._delete_counted(ids)

    def _delete_matching(self, native: Any) -> Flow[None]:
        if (yield from self._expected()).keywords is None:
            yield client("delete", filter=native)
        else:  # the statistics need the deleted points' terms
            yield from self._delete_matching_counted(native)

    def _collections(self) -> Flow[list[str]]:
        """The namespaces of this store's index: in Pinecone they hold the collections."""
        names = yield client("namespaces")
        return [n for n in names if not n.endswith(STATS_SUFFIX)]

    def _count(self) -> Flow[int]:
        stats = yield client("stats")
        namespaces = stats.namespaces or {}
        summary = namespaces.get(self.namespace)
        if summary is None and self.namespace == "":
            summary = namespaces.get("__default__")
        return int(summary.vector_count) if summary is not None else 0


# -- helpers ---------------------------------------------------------------------------------


def _dense_field(model: Any) -> tuple[int | None, str | None]:
    fields = getattr(getattr(model, "schema", None), "fields", None) or {}
    for field in fields.values():
        if getattr(field, "dimension", None) is not None:
            return int(field.dimension), getattr(field, "metric", None)
    return getattr(model, "dimension", None), getattr(model, "metric", None)


def _fields(record: Record, where: str) -> tuple[dict[str, Any], int]:
    """Pinecone metadata for a record with an empty text (user fields checked, the reserved
    keys) and its size in bytes as JSON: what must fit in 40 KB whatever the text."""
    metadata = {
        key: _metadata_value(where, key, value)
        for key, value in record_payload(record).items()
        if value is not None  # Pinecone has no null
    }
    metadata[TEXT_KEY] = ""
    base = _json_size(metadata)
    if base > MAX_METADATA_BYTES:
        raise StoreError(
            f"metadata of {where} is {base} bytes without its text; Pinecone allows "
            f"{MAX_METADATA_BYTES} bytes per vector. Store less metadata."
        )
    return metadata, base


def _metadata(record: Record) -> tuple[dict[str, Any], int]:
    """Pinecone metadata for a record (see :func:`_fields`; the text cut so the whole stays
    within 40 KB) and its size in bytes as JSON."""
    metadata, base = _fields(record, f"document {record.document_id!r}")
    text = record.text
    size = base + _json_size(text) - 2
    if size > MAX_METADATA_BYTES:
        data = text.encode("utf-8")
        original = len(data)
        while size > MAX_METADATA_BYTES:  # JSON escaping can add bytes: shrink until it fits
            data = data[: max(0, len(data) - (size - MAX_METADATA_BYTES))]
            text = data.decode("utf-8", errors="ignore")
            data = text.encode("utf-8")
            size = base + _json_size(text) - 2
        logger.warning(
            "text of point %s cut from %d to %d bytes to fit Pinecone's %d-byte metadata limit",
            record.id,
            original,
            len(data),
            MAX_METADATA_BYTES,
        )
    metadata[TEXT_KEY] = text
    return metadata, size


def _metadata_value(where: str, key: str, value: Any) -> Any:
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)) and np.isfinite(value):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigurationError(
        f"metadata {key!r} of {where} is {type(value).__name__}; Pinecone stores strings, "
        "finite numbers, booleans and lists of strings."
    )


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
