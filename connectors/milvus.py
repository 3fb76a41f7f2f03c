"""Milvus connector: `MilvusStore` over pymilvus' `MilvusClient` (Milvus Lite file or server).

    from jina_v3.connectors.milvus import MilvusStore

    store = MilvusStore("docs", uri="./milvus.db")               # Milvus Lite, embedded
    store = MilvusStore("docs", uri="http://127.0.0.1:19530")     # a Milvus server

Schema: ``id`` VARCHAR primary key (the deterministic point id), ``vector`` FLOAT_VECTOR
(cosine) or BINARY_VECTOR (Hamming, for ``embedding_type="ubinary"``), an optional
``funnel`` FLOAT_VECTOR (the Matryoshka prefix), ``text``, ``document_id``, ``chunk_index``
(-1 for an unchunked document) and a JSON ``metadata`` field. The embedding signature lives in
the collection properties (Milvus Lite 3.2 drops schema descriptions; properties work on the
Lite engine and on 2.3+ servers alike).

Engine support differs: Milvus Lite 3.2 has no BINARY_VECTOR, and Milvus 2.3 servers allow one
vector field per collection (no funnel). Both cases raise a StoreError that says so.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from jina_v3.connectors._common import (
    LAYOUT_KEY,
    SIGNATURE_KEY,
    check_funnel,
    check_positive,
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
from jina_v3.filters import And, Condition, FilterNode, Or, parse_filter
from jina_v3.store import (
    CHUNK_INDEX_KEY,
    DOCUMENT_ID_KEY,
    TEXT_KEY,
    EmbeddingSignature,
    Hit,
    Record,
    ThreadedAsyncMixin,
    check_signature,
    prefix_vectors,
)

__all__ = ["MilvusStore", "to_expression"]

logger = logging.getLogger(__name__)

#: VARCHAR fields hold at most this many bytes (Milvus' hard limit).
MAX_VARCHAR_BYTES = 65_535
#: Rows and (estimated) bytes per insert request; the server's gRPC limit is 64 MB.
DEFAULT_BATCH_SIZE = 1000
MAX_REQUEST_BYTES = 16 * 1024 * 1024
#: Ids per delete expression.
_DELETE_BATCH = 1000
#: Milvus' cap on `limit` for one search.
_MAX_LIMIT = 16_384

_COLUMNS = {TEXT_KEY: "text", DOCUMENT_ID_KEY: "document_id", CHUNK_INDEX_KEY: "chunk_index"}
_OUTPUT_FIELDS = ["text", "document_id", "chunk_index", "metadata"]

# Milvus Lite runs one in-process server per data path; release it when our last store closes
# (MilvusClient.close() keeps the path locked otherwise).
_lite_lock = threading.Lock()
_lite_users: dict[str, int] = {}


class MilvusStore(ThreadedAsyncMixin):
    """One Milvus collection as a :class:`~jina_v3.store.VectorStore`.

    Example:
        >>> from jina_v3 import Embedder
        >>> from jina_v3.store import VectorIndex
        >>> index = VectorIndex(Embedder(), MilvusStore("docs", uri="./milvus.db"))
        >>> index.add([Document("a", "Milvus is a vector database.")])
        >>> index.search("what is milvus?", k=3)

    Args:
        collection: Collection name.
        uri: A Milvus Lite data path ending in ``.db`` or a server URL
            (``http://127.0.0.1:19530``). Ignored when ``client`` is given.
        client: A ready ``pymilvus.MilvusClient``; the store does not close it.
        token: Server credentials (``user:password`` or an API key); never logged.
        funnel_dimensions: Store the first N dimensions (re-normalised) in a second vector
            field and search it first, then rescore the candidates on the full vectors.
        funnel_candidates: Candidates per requested hit in the coarse pass of a funnel search.
        index_params: ``{"index_type": ..., "params": {...}}`` for the main vector field
            (default AUTOINDEX, or BIN_FLAT for binary vectors).
        search_params: Extra search ``params`` (e.g. ``{"ef": 64}`` for HNSW).
        consistency_level: ``"Strong"`` (default; reads see every acknowledged write),
            ``"Bounded"``, ``"Session"`` or ``"Eventually"``.
        batch_size: Rows per insert request (requests also stay under 16 MB).
        timeout: Seconds per client call (None: the client's default).

    Raises:
        ConfigurationError: Invalid arguments (nothing is opened).
    """

    def __init__(
        self,
        collection: str,
        *,
        uri: str | os.PathLike[str] = "./milvus.db",
        client: Any | None = None,
        token: str | None = None,
        funnel_dimensions: int | None = None,
        funnel_candidates: int = 10,
        index_params: Mapping[str, Any] | None = None,
        search_params: Mapping[str, Any] | None = None,
        consistency_level: str = "Strong",
        batch_size: int = DEFAULT_BATCH_SIZE,
        timeout: float | None = None,
    ) -> None:
        if not isinstance(collection, str) or not collection:
            raise ConfigurationError("collection must be a non-empty string")
        if consistency_level not in ("Strong", "Bounded", "Session", "Eventually"):
            raise ConfigurationError(
                "consistency_level must be one of 'Strong', 'Bounded', 'Session', 'Eventually'; "
                f"got {consistency_level!r}"
            )
        if client is None:
            require("pymilvus", "milvus", "pymilvus")  # a missing extra fails here, not later
        self.collection = collection
        self._uri = os.fspath(uri)
        self._token = token
        self._client = client
        self._owns_client = client is None
        self._funnel = check_funnel(funnel_dimensions)
        self._funnel_candidates = check_positive("funnel_candidates", funnel_candidates)
        self._index_params = dict(index_params or {})
        self._search_params = dict(search_params or {})
        self._consistency = consistency_level
        self._batch_size = check_positive("batch_size", batch_size)
        self._timeout = timeout
        self._signature: EmbeddingSignature | None = None
        self._layout: dict[str, Any] = {}
        self._lite_path: str | None = None
        self._closed = False

    def __repr__(self) -> str:
        where = "client" if not self._owns_client else self._uri
        return f"MilvusStore(collection={self.collection!r}, uri={where!r})"

    # -- connection --------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The underlying ``pymilvus.MilvusClient`` (created on first use)."""
        if self._closed:
            raise StoreError(f"MilvusStore for {self.collection!r} is closed")
        if self._client is None:
            pymilvus = require("pymilvus", "milvus", "pymilvus")
            kwargs: dict[str, Any] = {"uri": self._uri}
            if self._token:
                kwargs["token"] = self._token
            if self._timeout is not None:
                kwargs["timeout"] = self._timeout
            lite = self._uri.endswith(".db")
            with wrap_errors("connect", self.collection):
                self._client = pymilvus.MilvusClient(**kwargs)
            if lite:
                self._lite_path = os.path.abspath(self._uri)
                with _lite_lock:
                    _lite_users[self._lite_path] = _lite_users.get(self._lite_path, 0) + 1
        return self._client

    def close(self) -> None:
        """Close the client if this store created it (and free a Milvus Lite data path).

        With Milvus Lite this waits for the engine's background indexing of recent writes
        (tens of seconds after a bulk insert of tens of thousands of points).
        """
        if self._closed:
            return
        self._closed = True
        if self._owns_client and self._client is not None:
            try:
                self._client.close()
            except Exception:  # closing is best effort
                logger.debug("closing the Milvus client failed", exc_info=True)
            self._release_lite()
        self._client = None

    def _release_lite(self) -> None:
        path, self._lite_path = self._lite_path, None
        if path is None:
            return
        with _lite_lock:
            users = _lite_users.get(path, 1) - 1
            if users > 0:
                _lite_users[path] = users
                return
            _lite_users.pop(path, None)
        try:
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(path)
        except Exception:
            logger.debug("releasing Milvus Lite path %s failed", path, exc_info=True)

    # -- collection and signature ------------------------------------------------------------

    def ensure_collection(self, signature: EmbeddingSignature, *, recreate: bool = False) -> None:
        """Create the collection for `signature`, or check an existing one against it.

        Args:
            signature: How the vectors are made (model, dimensions, tasks, types).
            recreate: Drop an existing collection (and its data) first.

        Raises:
            DimensionMismatchError, SignatureMismatchError: The existing collection was built
                with other settings, or not by jina_v3 (nothing is written).
            StoreError: The database failed, or lacks a feature this layout needs.
        """
        self._check_layout(signature)
        client = self.client
        with wrap_errors("ensure_collection", self.collection):
            exists = client.has_collection(self.collection)
            if exists and recreate:
                client.drop_collection(self.collection)
                exists = False
        if exists:
            stored, layout = self._read_properties()
            check_signature(signature, stored, collection=self.collection)
            self._check_stored_layout(layout)
            with wrap_errors("load_collection", self.collection):
                client.load_collection(self.collection)
            self._signature, self._layout = signature, layout
            return
        self._create(signature)

    def read_signature(self) -> EmbeddingSignature | None:
        """The signature stored with the collection (None if there is no collection).

        Raises:
            SignatureMismatchError: The collection exists but was not made by jina_v3.
        """
        with wrap_errors("read_signature", self.collection):
            if not self.client.has_collection(self.collection):
                return None
        stored, _ = self._read_properties()
        return stored

    def _read_properties(self) -> tuple[EmbeddingSignature, dict[str, Any]]:
        with wrap_errors("describe_collection", self.collection):
            info = self.client.describe_collection(self.collection)
        props = info.get("properties") or {}
        raw = props.get(SIGNATURE_KEY)
        if not raw:
            raise SignatureMismatchError(
                f"Collection {self.collection!r} exists but was not created by jina_v3 (it has "
                f"no {SIGNATURE_KEY!r} property). Fix: use a new collection name, or pass "
                "recreate=True to drop it and rebuild it (this deletes its data)."
            )
        try:
            stored = EmbeddingSignature.from_dict(json.loads(raw))
            layout = json.loads(props.get(LAYOUT_KEY) or "{}")
        except (ValueError, TypeError) as exc:
            raise StoreError(
                f"Collection {self.collection!r} has an unreadable {SIGNATURE_KEY!r} property; "
                "pass recreate=True to rebuild it."
            ) from exc
        return stored, layout

    def _check_layout(self, signature: EmbeddingSignature) -> None:
        if signature.embedding_type not in ("float", "ubinary"):
            raise ConfigurationError(
                f"MilvusStore stores embedding_type 'float' or 'ubinary', got "
                f"{signature.embedding_type!r}"
            )
        if signature.embedding_type == "ubinary":
            if signature.dimensions % 8:
                raise ConfigurationError(
                    f"binary vectors need dimensions divisible by 8, got {signature.dimensions}"
                )
            if self._funnel is not None:
                raise ConfigurationError(
                    "funnel_dimensions works with float vectors only; drop it for 'ubinary'"
                )
        if self._funnel is not None and self._funnel >= signature.dimensions:
            raise ConfigurationError(
                f"funnel_dimensions={self._funnel} must be smaller than the collection's "
                f"dimensions={signature.dimensions}"
            )

    def _check_stored_layout(self, layout: Mapping[str, Any]) -> None:
        stored = layout.get("funnel_dimensions")
        if self._funnel is not None and stored != self._funnel:
            has = f"a {stored}-d funnel field" if stored else "no funnel field"
            raise SignatureMismatchError(
                f"Collection {self.collection!r} has {has}, but this store asks for "
                f"funnel_dimensions={self._funnel}. Fix: pass funnel_dimensions={stored}, a new "
                "collection name, or recreate=True (this deletes its data)."
            )

    def _create(self, signature: EmbeddingSignature) -> None:
        pymilvus = require("pymilvus", "milvus", "pymilvus")
        DataType = pymilvus.DataType
        client = self.client
        binary = signature.embedding_type == "ubinary"
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field(
            "vector",
            DataType.BINARY_VECTOR if binary else DataType.FLOAT_VECTOR,
            dim=signature.dimensions,
        )
        if self._funnel is not None:
            schema.add_field("funnel", DataType.FLOAT_VECTOR, dim=self._funnel)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES)
        schema.add_field("document_id", DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES)
        schema.add_field("chunk_index", DataType.INT64)
        schema.add_field("metadata", DataType.JSON)

        index_params = client.prepare_index_params()
        main = {"index_type": "BIN_FLAT" if binary else "AUTOINDEX", **self._index_params}
        main["metric_type"] = "HAMMING" if binary else "COSINE"
        index_params.add_index(field_name="vector", **main)
        if self._funnel is not None:
            index_params.add_index(
                field_name="funnel", index_type="AUTOINDEX", metric_type="COSINE"
            )
        layout = {"funnel_dimensions": self._funnel}
        properties = {
            SIGNATURE_KEY: json.dumps(signature.to_dict(), sort_keys=True),
            LAYOUT_KEY: json.dumps(layout, sort_keys=True),
        }
        try:
            client.create_collection(
                self.collection,
                schema=schema,
                index_params=index_params,
                consistency_level=self._consistency,
                properties=properties,
            )
        except Exception as exc:
            raise StoreError(_create_hint(self.collection, exc, binary, self._funnel)) from exc
        self._signature, self._layout = signature, layout

    def _require_signature(self) -> EmbeddingSignature:
        if self._signature is None:
            stored = self.read_signature()
            if stored is None:
                raise StoreError(
                    f"Collection {self.collection!r} does not exist; call "
                    "ensure_collection(signature) first (VectorIndex does)."
                )
            _, layout = self._read_properties()
            self._check_stored_layout(layout)
            self._signature, self._layout = stored, layout
        return self._signature

    # -- writes ------------------------------------------------------------------------------

    def upsert(self, records: Sequence[Record]) -> None:
        """Insert or overwrite records by id, in requests of at most `batch_size` rows.

        Raises:
            DimensionMismatchError: A vector does not have the collection's size (nothing of
                that batch is written).
            StoreError: The database failed.
        """
        if not records:
            return
        signature = self._require_signature()
        for batch in self._batches(records):
            rows = self._rows(batch, signature)
            with wrap_errors("upsert", self.collection):
                self.client.upsert(self.collection, rows)

    def _batches(self, records: Sequence[Record]) -> Iterator[Sequence[Record]]:
        start, size = 0, 0
        for i, record in enumerate(records):
            # an estimate, generous for the vector, exact enough for the rest
            row = (
                8 * np.size(record.vector)
                + 4 * len(record.text)
                + 200
                + len(record.document_id)
                + sum(
                    32 + 4 * len(v) if isinstance(v, str) else 32 for v in record.metadata.values()
                )
            )
            if i > start and (i - start >= self._batch_size or size + row > MAX_REQUEST_BYTES):
                yield records[start:i]
                start, size = i, 0
            size += row
        yield records[start:]

    def _rows(self, batch: Sequence[Record], signature: EmbeddingSignature) -> list[dict]:
        binary = signature.embedding_type == "ubinary"
        # the records' own arrays, not rows of a stacked copy: pymilvus serialises those faster
        vectors = [_vector(r.vector, signature, self.collection) for r in batch]
        funnel = None
        if self._funnel is not None:
            funnel = prefix_vectors(np.stack(vectors), self._funnel)
        rows = []
        for i, record in enumerate(batch):
            row = {
                "id": record.id,
                "vector": vectors[i].tobytes() if binary else vectors[i],
                "text": _cut(record.text, record.id),
                "document_id": record.document_id,
                "chunk_index": -1 if record.chunk_index is None else int(record.chunk_index),
                "metadata": dict(record.metadata),
            }
            if funnel is not None:
                row["funnel"] = funnel[i]
            rows.append(row)
        return rows

    def delete(
        self, *, ids: Sequence[str] | None = None, document_ids: Sequence[str] | None = None
    ) -> None:
        """Delete points by id and/or every point of the given documents."""
        if ids is None and document_ids is None:
            raise ConfigurationError("delete() needs ids=... and/or document_ids=...")
        client = self.client
        with wrap_errors("delete", self.collection):
            if not client.has_collection(self.collection):
                return
            for field, values in (("id", ids), ("document_id", document_ids)):
                values = [str(v) for v in (values or [])]
                for start in range(0, len(values), _DELETE_BATCH):
                    chunk = values[start : start + _DELETE_BATCH]
                    client.delete(self.collection, filter=f"{field} in {_list_literal(chunk)}")

    # -- reads -------------------------------------------------------------------------------

    def count(self) -> int:
        """Number of points in the collection (0 if there is none)."""
        client = self.client
        with wrap_errors("count", self.collection):
            if not client.has_collection(self.collection):
                return 0
            rows = client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def query(self, vector: np.ndarray, *, k: int, filter: Any | None = None) -> list[Hit]:
        """The `k` nearest points to `vector` that match `filter`, best first.

        Args:
            vector: The query vector (float32; packed uint8 or float for binary collections).
            k: Number of hits.
            filter: A Mongo-style dict (see :mod:`jina_v3.filters`) or a Milvus boolean
                expression string, passed through untouched.

        Returns:
            Hits with cosine similarity scores (binary: the fraction of equal bits).

        Raises:
            DimensionMismatchError: The vector does not have the collection's size.
            UnsupportedFilterError: An operator outside the dialect.
        """
        k = check_positive("k", k)
        signature = self._require_signature()
        expression = _filter_expression(filter)
        query = _vector(np.asarray(vector), signature, self.collection)
        if signature.embedding_type == "ubinary":
            return self._search_binary(query, k, expression, signature.dimensions)
        if self._funnel is not None:
            return self._search_funnel(query, k, expression)
        params = {"metric_type": "COSINE", "params": self._search_params}
        hits = self._search("vector", query.tolist(), k, expression, params, _OUTPUT_FIELDS)
        return [_hit(h, float(h["distance"])) for h in hits]

    def _search(
        self,
        field: str,
        data: Any,
        limit: int,
        expression: str,
        params: Mapping[str, Any],
        output_fields: list[str],
    ) -> list[dict]:
        with wrap_errors("query", self.collection):
            result = self.client.search(
                self.collection,
                data=[data],
                anns_field=field,
                limit=min(limit, _MAX_LIMIT),
                filter=expression,
                search_params=dict(params),
                output_fields=output_fields,
                consistency_level=self._consistency,
            )
        return list(result[0]) if result else []

    def _search_binary(self, query: np.ndarray, k: int, expression: str, bits: int) -> list[Hit]:
        params = {"metric_type": "HAMMING", "params": self._search_params}
        hits = self._search("vector", query.tobytes(), k, expression, params, _OUTPUT_FIELDS)
        return [_hit(h, 1.0 - float(h["distance"]) / bits) for h in hits]

    def _search_funnel(self, query: np.ndarray, k: int, expression: str) -> list[Hit]:
        assert self._funnel is not None
        coarse = prefix_vectors(query[None, :], self._funnel)[0]
        params = {"metric_type": "COSINE", "params": self._search_params}
        candidates = self._search(
            "funnel",
            coarse.tolist(),
            k * self._funnel_candidates,
            expression,
            params,
            [*_OUTPUT_FIELDS, "vector"],
        )
        if not candidates:
            return []
        full = np.asarray([c["entity"]["vector"] for c in candidates], dtype=np.float32)
        full /= np.maximum(np.linalg.norm(full, axis=1, keepdims=True), 1e-12)
        q = query / max(float(np.linalg.norm(query)), 1e-12)
        scores = full @ q
        order = np.argsort(-scores, kind="stable")[:k]
        return [_hit(candidates[i], float(scores[i])) for i in order]


# -- filters ---------------------------------------------------------------------------------


def to_expression(node: FilterNode) -> str:
    """Translate a parsed filter tree to a Milvus boolean expression.

    User fields live in the JSON ``metadata`` field (``metadata["genre"]``); the reserved keys
    ``text``, ``document_id`` and ``chunk_index`` map to their columns. A list-valued field
    matches ``$eq``/``$in`` when any element does (``json_contains``), and a missing field
    satisfies ``$ne`` and ``$nin`` (the dialect's semantics), spelled out with ``exists``
    because Milvus Lite and the server disagree on comparisons with missing JSON keys.
    """
    if isinstance(node, And):
        return "(" + " and ".join(to_expression(c) for c in node.children) + ")"
    if isinstance(node, Or):
        return "(" + " or ".join(to_expression(c) for c in node.children) + ")"
    return _condition(node)


def _condition(node: Condition) -> str:
    column = _COLUMNS.get(node.field)
    ref = column or f"metadata[{_literal(node.field)}]"
    op, value = node.op, node.value
    values = value if isinstance(value, tuple) else (value,)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        symbol = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
        return f"{ref} {symbol} {_literal(value)}"  # type: ignore[arg-type]
    if op in ("$in", "$nin") and not values:
        return "id in []" if op == "$in" else "not (id in [])"  # false / true on every engine
    if op in ("$eq", "$in"):
        terms = [f"{ref} == {_literal(v)}" for v in values]
        if not column:  # a list-valued field matches when any element does
            terms.append(_contains(ref, values))
        return "(" + " or ".join(terms) + ")"
    # $ne / $nin: no element equal, and a missing field matches too
    terms = [f"{ref} != {_literal(v)}" for v in values]
    if column:
        return "(" + " and ".join(terms) + ")"
    terms.append(f"not {_contains(ref, values)}")
    return f"((not exists {ref}) or ({' and '.join(terms)}))"


def _contains(ref: str, values: tuple) -> str:
    if len(values) == 1:
        return f"json_contains({ref}, {_literal(values[0])})"
    return f"json_contains_any({ref}, [{', '.join(_literal(v) for v in values)}])"


def _literal(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigurationError(f"filter values must be finite numbers, got {value!r}")
        return repr(value)
    # JSON string syntax is Milvus' string syntax: quotes, backslashes, control chars escaped
    return json.dumps(value, ensure_ascii=False)


def _list_literal(values: Sequence[str]) -> str:
    return "[" + ", ".join(_literal(v) for v in values) + "]"


def _filter_expression(filter: Any | None) -> str:
    if filter is None:
        return ""
    if isinstance(filter, str):
        return filter  # a native Milvus expression: passed through untouched
    if isinstance(filter, Mapping):
        return to_expression(parse_filter(filter))
    raise unsupported_filter(filter, "Milvus expression string")


# -- helpers ---------------------------------------------------------------------------------


def _vector(vector: np.ndarray, signature: EmbeddingSignature, collection: str) -> np.ndarray:
    """The stored form of one vector: float32 (dims,), or packed uint8 (dims/8,) for binary."""
    vector = np.asarray(vector)
    dims = signature.dimensions
    if signature.embedding_type == "ubinary":
        if vector.dtype == np.uint8 and vector.shape == (dims // 8,):
            return vector
        if vector.shape == (dims,):  # a float vector: keep its sign bits
            return np.packbits(vector > 0)
        got = vector.shape[-1] * (8 if vector.dtype == np.uint8 else 1) if vector.ndim else 0
    else:
        if vector.shape == (dims,):
            return vector.astype(np.float32, copy=False)
        got = vector.shape[-1] if vector.ndim else 0
    raise DimensionMismatchError(
        f"Collection {collection!r} holds {dims}-d vectors but got a vector of shape "
        f"{vector.shape} ({got}-d). Fix: embed with dimensions={dims}, or use a new collection "
        "name / recreate=True for the new size."
    )


def _cut(text: str, point: str) -> str:
    data = text.encode("utf-8")
    if len(data) <= MAX_VARCHAR_BYTES:
        return text
    logger.warning(
        "text of point %s is %d bytes; cut to Milvus' VARCHAR limit of %d bytes",
        point,
        len(data),
        MAX_VARCHAR_BYTES,
    )
    return data[:MAX_VARCHAR_BYTES].decode("utf-8", errors="ignore")


def _hit(raw: Mapping[str, Any], score: float) -> Hit:
    entity = raw.get("entity") or {}
    chunk = entity.get("chunk_index")
    return Hit(
        id=str(raw.get("id", entity.get("id"))),
        score=score,
        text=str(entity.get("text", "")),
        metadata=dict(entity.get("metadata") or {}),
        document_id=str(entity.get("document_id", "")),
        chunk_index=None if chunk is None or int(chunk) < 0 else int(chunk),
    )


def _create_hint(collection: str, exc: Exception, binary: bool, funnel: int | None) -> str:
    message = str(exc)
    hint = ""
    if binary and "BinaryVector" in message:
        hint = (
            " Milvus Lite has no BINARY_VECTOR type: use a Milvus server "
            "(uri='http://host:19530') or embedding_type='float'."
        )
    elif funnel is not None and "multiple vector fields" in message:
        hint = (
            " This Milvus server allows one vector field per collection (Milvus < 2.4): "
            "drop funnel_dimensions, or use Milvus >= 2.4 or Milvus Lite."
        )
    return (
        f"create_collection on collection {collection!r} failed: "
        f"{type(exc).__name__}: {message[:300]}.{hint}"
    )
