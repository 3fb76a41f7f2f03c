"""Pinecone connector: `PineconeStore`, one index namespace through the `pinecone` SDK (v10).

    from jina_v3.connectors.pinecone import PineconeStore

    store = PineconeStore("docs", namespace="en")        # PINECONE_API_KEY from the environment

The embedding signature is stored as index tags (``jina_v3_model``, ``jina_v3_dimensions``,
...; Pinecone tag values are short printable ASCII, so each field is its own tag). Requests
respect Pinecone's limits: at most 1000 vectors and 2 MB per upsert, 40 KB of metadata per
vector (the chunk text is cut to fit, with a warning naming the point), metadata values that
are strings, numbers, booleans or lists of strings (nulls are dropped).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from jina_v3.connectors._common import check_positive, require, unsupported_filter, wrap_errors
from jina_v3.errors import (
    ConfigurationError,
    DimensionMismatchError,
    SignatureMismatchError,
    StoreError,
)
from jina_v3.filters import parse_filter
from jina_v3.store import (
    CHUNK_INDEX_KEY,
    DOCUMENT_ID_KEY,
    TEXT_KEY,
    EmbeddingSignature,
    Hit,
    Record,
    ThreadedAsyncMixin,
    check_signature,
    hit_from_payload,
)

__all__ = ["PineconeStore"]

logger = logging.getLogger(__name__)

MAX_BATCH_VECTORS = 1000
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_METADATA_BYTES = 40 * 1024
MAX_TOP_K = 10_000
_DELETE_BATCH = 1000
_VALUE_BYTES = 24
# room for the request envelope and the SDK's serialisation differing from ours
_REQUEST_MARGIN = 16 * 1024

_TAG_PREFIX = "jina_v3_"
_TAG_VALUE_MAX = 120
_FIELDS = (
    "model",
    "dimensions",
    "query_task",
    "passage_task",
    "normalized",
    "embedding_type",
    "late_chunking",
)


class PineconeStore(ThreadedAsyncMixin):
    """One Pinecone index namespace as a :class:`~jina_v3.store.VectorStore`.

    Example:
        >>> from jina_v3 import Embedder
        >>> from jina_v3.store import Document, VectorIndex
        >>> index = VectorIndex(Embedder(backend="api"), PineconeStore("docs", namespace="en"))
        >>> index.add([Document("a", "Pinecone is a managed vector database.")])
        >>> index.search("managed vector databases", k=3)

    Args:
        index_name: The index name (created with cosine metric and the signature tags when
            missing). Optional when ``host`` is given; the name is then looked up.
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
        batch_size = check_positive("batch_size", batch_size)
        if batch_size > MAX_BATCH_VECTORS:
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
        self._create = bool(create_if_missing)
        self._cloud, self._region = cloud, region
        self._batch_size = batch_size
        self._timeout = timeout
        self._ready_timeout = check_positive("ready_timeout", ready_timeout)
        self._index: Any | None = None
        self._signature: EmbeddingSignature | None = None
        self._looked_up = False
        self._closed = False

    @property
    def collection(self) -> str:
        """The index name (or host) and namespace, for messages."""
        where = self._name or self._host or "?"
        return f"{where}/{self.namespace}" if self.namespace else where

    def __repr__(self) -> str:  # no key, ever
        return (
            f"PineconeStore(index_name={self._name!r}, host={self._host!r}, "
            f"namespace={self.namespace!r})"
        )

    # -- clients -----------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The ``pinecone.Pinecone`` control-plane client (created on first use)."""
        if self._closed:
            raise StoreError(f"PineconeStore for {self.collection!r} is closed")
        if self._pc is None:
            pinecone = require("pinecone", "pinecone", "pinecone")
            kwargs: dict[str, Any] = {"api_key": self._api_key}
            if self._controller_host:
                kwargs["host"] = self._controller_host
            if self._timeout is not None:
                kwargs["timeout"] = self._timeout
            with wrap_errors("connect", self.collection):
                self._pc = pinecone.Pinecone(**kwargs)
        return self._pc

    @property
    def index(self) -> Any:
        """The data-plane ``Index`` of this store (resolves the host on first use)."""
        if self._index is None:
            client = self.client
            with wrap_errors("connect", self.collection):
                if self._host is None:
                    self._host = client.indexes.describe(self._name).host
                self._index = client.index(host=self._host)
        return self._index

    def close(self) -> None:
        """Close the data-plane client, and the control-plane client if the store made it."""
        if self._closed:
            return
        self._closed = True
        for obj, owned in ((self._index, True), (self._pc, self._owns_client)):
            if obj is not None and owned and hasattr(obj, "close"):
                try:
                    obj.close()
                except Exception:  # best effort
                    logger.debug("closing a Pinecone client failed", exc_info=True)
        self._index = None

    # -- index and signature -----------------------------------------------------------------

    def ensure_collection(self, signature: EmbeddingSignature, *, recreate: bool = False) -> None:
        """Create the index for `signature`, or check an existing one against it.

        Args:
            signature: How the vectors are made.
            recreate: Delete an existing index (all its namespaces) and create it anew.

        Raises:
            DimensionMismatchError, SignatureMismatchError: The index was built with other
                settings, or not by jina_v3 and not empty (nothing is written).
            StoreError: Pinecone failed, or the index is missing and ``create_if_missing``
                is off.
        """
        if signature.embedding_type != "float":
            raise ConfigurationError(
                "Pinecone stores float vectors only; use embedding_type='float' "
                f"(got {signature.embedding_type!r})"
            )
        if self._name is None:
            self._name = self._name_from_host()
        if self._name is None:  # a data-plane host only: no tags to keep the signature in
            if recreate:
                raise ConfigurationError("recreate=True needs index_name=... (the control plane)")
            self._check_stats_dimension(signature)
            self._signature = signature
            return
        client = self.client
        model = self._describe()
        if model is not None and recreate:
            with wrap_errors("delete_index", self.collection):
                client.indexes.delete(self._name, timeout=self._ready_timeout)
            self._index, self._host, model = None, None, None
        if model is None:
            if not self._create:
                raise StoreError(
                    f"Pinecone index {self._name!r} does not exist; create it or pass "
                    "create_if_missing=True."
                )
            with wrap_errors("create_index", self.collection):
                model = client.indexes.create(
                    name=self._name,
                    schema={
                        "fields": {
                            "_values": {
                                "type": "dense_vector",
                                "dimension": signature.dimensions,
                                "metric": "cosine",
                            }
                        }
                    },
                    deployment={
                        "deployment_type": "managed",
                        "cloud": self._cloud,
                        "region": self._region,
                    },
                    tags=signature_tags(signature),
                    timeout=self._ready_timeout,
                )
            self._host = self._host or model.host
            self._signature = signature
            return
        self._check_model(model, signature)
        self._host = self._host or model.host
        self._signature = signature

    def read_signature(self) -> EmbeddingSignature | None:
        """The signature in the index tags (None if there is no index).

        Raises:
            SignatureMismatchError: The index exists but carries no jina_v3 tags.
        """
        if self._name is None:
            self._name = self._name_from_host()
        if self._name is None:
            return self._signature
        model = self._describe()
        if model is None:
            return None
        stored = signature_from_tags(model.tags)
        if stored is None:
            raise self._foreign()
        return stored

    def _describe(self) -> Any | None:
        pinecone = require("pinecone", "pinecone", "pinecone")
        try:
            return self.client.indexes.describe(self._name)
        except pinecone.NotFoundError:
            return None
        except Exception as exc:
            raise StoreError(
                f"describe_index on {self.collection!r} failed: {type(exc).__name__}: "
                f"{str(exc)[:300]}"
            ) from exc

    def _name_from_host(self) -> str | None:
        if self._looked_up:  # once: a data-plane-only setup would list on every call
            return None
        self._looked_up = True
        wanted = _bare_host(self._host or "")
        try:
            for model in self.client.indexes.list():
                if _bare_host(model.host or "") == wanted:
                    return str(model.name)
        except Exception:  # a data-plane-only setup: work without the control plane
            logger.info("could not list Pinecone indexes to name host %s", self._host)
        return None

    def _check_model(self, model: Any, signature: EmbeddingSignature) -> None:
        dimension, metric = _dense_field(model)
        if metric != "cosine":
            raise SignatureMismatchError(
                f"Pinecone index {self._name!r} uses metric {metric!r}; jina-embeddings-v3 "
                "needs 'cosine'. Fix: a new index name, or recreate=True (deletes its data)."
            )
        stored = signature_from_tags(model.tags)
        if stored is None:
            if dimension != signature.dimensions:
                raise DimensionMismatchError(
                    f"Pinecone index {self._name!r} holds {dimension}-d vectors but this index "
                    f"makes {signature.dimensions}-d ones. Fix: pass dimensions={dimension}, "
                    "a new index name, or recreate=True (deletes its data)."
                )
            if self._total_vectors() > 0:
                raise self._foreign()
            with wrap_errors("configure_index", self.collection):  # adopt an empty index
                self.client.indexes.configure(self._name, tags=signature_tags(signature))
            return
        check_signature(_comparable(signature), stored, collection=self.collection)
        if dimension != signature.dimensions:  # tags edited by hand
            raise DimensionMismatchError(
                f"Pinecone index {self._name!r} holds {dimension}-d vectors but its tags say "
                f"{stored.dimensions}. Fix: recreate=True or a new index name."
            )

    def _foreign(self) -> SignatureMismatchError:
        return SignatureMismatchError(
            f"Pinecone index {self._name!r} holds vectors but no jina_v3 signature tags, so "
            "its embedding settings are unknown. Fix: use a new index name, or pass "
            "recreate=True to delete it and rebuild it (this deletes its data)."
        )

    def _check_stats_dimension(self, signature: EmbeddingSignature) -> None:
        with wrap_errors("describe_index_stats", self.collection):
            stats = self.index.describe_index_stats()
        if stats.dimension is not None and stats.dimension != signature.dimensions:
            raise DimensionMismatchError(
                f"Pinecone index at {self._host!r} holds {stats.dimension}-d vectors but this "
                f"index makes {signature.dimensions}-d ones. Fix: pass "
                f"dimensions={stats.dimension}, or another index."
            )

    def _total_vectors(self) -> int:
        with wrap_errors("describe_index_stats", self.collection):
            return int(self.index.describe_index_stats().total_vector_count or 0)

    def _require_signature(self) -> EmbeddingSignature:
        if self._signature is None:
            stored = self.read_signature()
            if stored is None:
                raise StoreError(
                    f"Pinecone index {self.collection!r} does not exist; call "
                    "ensure_collection(signature) first (VectorIndex does)."
                )
            self._signature = stored
        return self._signature

    # -- writes ------------------------------------------------------------------------------

    def upsert(self, records: Sequence[Record]) -> None:
        """Insert or overwrite records by id, in requests within Pinecone's limits.

        Raises:
            DimensionMismatchError: A vector does not have the index's size (nothing of that
                batch is written).
            ConfigurationError: A metadata value Pinecone cannot store.
            StoreError: Pinecone failed (earlier batches stay written).
        """
        if not records:
            return
        signature = self._require_signature()
        for batch in self._batches(records, signature):
            with wrap_errors("upsert", self.collection):
                self.index.upsert(vectors=batch, namespace=self.namespace)

    def _batches(
        self, records: Sequence[Record], signature: EmbeddingSignature
    ) -> Iterator[list[dict[str, Any]]]:
        batch: list[dict[str, Any]] = []
        size = 0
        for record in records:
            metadata, metadata_size = _metadata(record)
            item = {
                "id": record.id,
                "values": _values(record.vector, signature.dimensions, self.collection),
                "metadata": metadata,
            }
            # an upper bound, not a second serialisation: a float32 printed as a double takes
            # at most 24 characters with its comma
            item_size = _VALUE_BYTES * signature.dimensions + metadata_size + len(record.id) + 64
            if batch and (
                len(batch) >= self._batch_size
                or size + item_size > MAX_REQUEST_BYTES - _REQUEST_MARGIN
            ):
                yield batch
                batch, size = [], 0
            batch.append(item)
            size += item_size
        if batch:
            yield batch

    def delete(
        self, *, ids: Sequence[str] | None = None, document_ids: Sequence[str] | None = None
    ) -> None:
        """Delete points by id and/or every point of the given documents (by metadata)."""
        if ids is None and document_ids is None:
            raise ConfigurationError("delete() needs ids=... and/or document_ids=...")
        ids = [str(i) for i in ids or []]
        document_ids = [str(d) for d in document_ids or []]
        if self._name is not None and self._signature is None and self._describe() is None:
            return  # no index, nothing to delete
        with wrap_errors("delete", self.collection):
            for start in range(0, len(ids), _DELETE_BATCH):
                self.index.delete(ids=ids[start : start + _DELETE_BATCH], namespace=self.namespace)
            for start in range(0, len(document_ids), _DELETE_BATCH):
                chunk = document_ids[start : start + _DELETE_BATCH]
                self.index.delete(
                    filter={DOCUMENT_ID_KEY: {"$in": chunk}}, namespace=self.namespace
                )

    # -- reads -------------------------------------------------------------------------------

    def count(self) -> int:
        """Number of vectors in this namespace (0 if there is no index)."""
        if self._name is not None and self._signature is None and self._describe() is None:
            return 0
        with wrap_errors("count", self.collection):
            stats = self.index.describe_index_stats()
        namespaces = stats.namespaces or {}
        summary = namespaces.get(self.namespace)
        if summary is None and self.namespace == "":
            summary = namespaces.get("__default__")
        return int(summary.vector_count) if summary is not None else 0

    def query(self, vector: np.ndarray, *, k: int, filter: Any | None = None) -> list[Hit]:
        """The `k` nearest points to `vector` in this namespace that match `filter`.

        Args:
            vector: The query vector (float32, the index's dimensions).
            k: Number of hits (at most 10000).
            filter: A Mongo-style dict (Pinecone's own dialect, validated first).

        Returns:
            Hits with Pinecone's cosine scores, best first.

        Raises:
            DimensionMismatchError: The vector does not have the index's size.
            UnsupportedFilterError: An operator outside the dialect.
        """
        k = check_positive("k", k)
        if k > MAX_TOP_K:
            raise ConfigurationError(f"k={k} exceeds Pinecone's top_k limit of {MAX_TOP_K}")
        signature = self._require_signature()
        if filter is not None:
            if not isinstance(filter, Mapping):
                raise unsupported_filter(filter, "Pinecone filter dict")
            parse_filter(filter)  # typed errors for operators outside the dialect
            filter = dict(filter)
        values = _values(np.asarray(vector), signature.dimensions, self.collection)
        with wrap_errors("query", self.collection):
            result = self.index.query(
                vector=values,
                top_k=k,
                namespace=self.namespace,
                filter=filter,
                include_metadata=True,
            )
        return [
            hit_from_payload(m.id, float(m.score), dict(m.metadata or {})) for m in result.matches
        ]


# -- signature tags ----------------------------------------------------------------------------


def signature_tags(signature: EmbeddingSignature) -> dict[str, str]:
    """The signature as Pinecone index tags (one per field, printable ASCII <= 120 chars)."""
    return {_TAG_PREFIX + key: _tag_value(value) for key, value in signature.to_dict().items()}


def signature_from_tags(tags: Mapping[str, str] | None) -> EmbeddingSignature | None:
    """The signature read back from index tags (None when the index carries none)."""
    tags = dict(tags or {})
    if not all(_TAG_PREFIX + key in tags for key in _FIELDS):
        return None
    raw = {key: tags[_TAG_PREFIX + key] for key in _FIELDS}
    try:
        return EmbeddingSignature(
            model=raw["model"],
            dimensions=int(raw["dimensions"]),
            query_task=None if raw["query_task"] == "none" else raw["query_task"],
            passage_task=None if raw["passage_task"] == "none" else raw["passage_task"],
            normalized=raw["normalized"] == "true",
            embedding_type=raw["embedding_type"],
            late_chunking=raw["late_chunking"] == "true",
        )
    except ValueError:
        return None


def _tag_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if len(text) <= _TAG_VALUE_MAX and text.isascii() and text.isprintable():
        return text
    # a long or non-ASCII model name (a local path): keep a digest, compared the same way
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:48]


def _comparable(signature: EmbeddingSignature) -> EmbeddingSignature:
    """`signature` as it reads back from tags (a long model name becomes its digest)."""
    return signature_from_tags(signature_tags(signature)) or signature


# -- helpers ---------------------------------------------------------------------------------


def _dense_field(model: Any) -> tuple[int | None, str | None]:
    fields = getattr(getattr(model, "schema", None), "fields", None) or {}
    for field in fields.values():
        if getattr(field, "dimension", None) is not None:
            return int(field.dimension), getattr(field, "metric", None)
    return getattr(model, "dimension", None), getattr(model, "metric", None)


def _bare_host(host: str) -> str:
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix) :]
    return host.rstrip("/")


def _values(vector: np.ndarray, dims: int, collection: str) -> list[float]:
    vector = np.asarray(vector)
    if vector.shape != (dims,) or vector.dtype == np.uint8:
        raise DimensionMismatchError(
            f"Pinecone index {collection!r} holds {dims}-d float vectors but got a vector of "
            f"shape {vector.shape} ({vector.dtype}). Fix: embed with dimensions={dims} and "
            "embedding_type='float', or use a new index for the new size."
        )
    return vector.astype(np.float32, copy=False).tolist()


def _metadata(record: Record) -> tuple[dict[str, Any], int]:
    """Pinecone metadata for a record (user fields checked, the reserved keys, the text cut so
    the whole stays within 40 KB) and its size in bytes as JSON."""
    metadata: dict[str, Any] = {}
    for key, value in record.metadata.items():
        if value is None:
            continue  # Pinecone has no null
        metadata[str(key)] = _metadata_value(record.id, str(key), value)
    metadata[DOCUMENT_ID_KEY] = record.document_id
    if record.chunk_index is not None:
        metadata[CHUNK_INDEX_KEY] = int(record.chunk_index)
    metadata[TEXT_KEY] = ""
    base = _json_size(metadata)
    if base > MAX_METADATA_BYTES:
        raise StoreError(
            f"metadata of point {record.id} is {base} bytes without its text; Pinecone allows "
            f"{MAX_METADATA_BYTES} bytes per vector. Store less metadata."
        )
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


def _metadata_value(point: str, key: str, value: Any) -> Any:
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)) and np.isfinite(value):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigurationError(
        f"metadata {key!r} of point {point} is {type(value).__name__}; Pinecone stores strings, "
        "finite numbers, booleans and lists of strings."
    )


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
