"""Qdrant connector: `QdrantStore` over qdrant-client (a server URL, `:memory:`, a local path,
or a client you pass).

The collection uses cosine distance and the index's dimensions, and carries the embedding
signature in its collection metadata (a server needs collection metadata support, Qdrant 1.16
or newer). With ``funnel_dimensions`` it holds two named vectors,
``full`` and ``funnel`` (the re-normalised Matryoshka prefix): queries prefetch candidates
on the small vector and rescore them with the full one. ``binary_quantization=True`` turns
on Qdrant's binary quantization (with rescoring) for the full vector.

Example:
    >>> from jina_v3 import Embedder
    >>> from jina_v3.store import Document, VectorIndex
    >>> from jina_v3.connectors.qdrant import QdrantStore
    >>> store = QdrantStore("docs", url="http://localhost:6333", funnel_dimensions=64)
    >>> index = VectorIndex(Embedder(), store, dimensions=512)
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Generator, Mapping, Sequence
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
    one_of,
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
    batched,
    check_signature,
    hit_from_payload,
    prefix_vectors,
    record_payload,
)

__all__ = ["QdrantStore", "to_qdrant_filter"]

logger = logging.getLogger(__name__)

FULL, FUNNEL = "full", "funnel"
# (client method, keyword arguments): the store's logic is written once as generators of
# these, driven by the sync client or the async one.
_Op = tuple[str, dict[str, Any]]
_Flow = Generator[_Op, Any, Any]

# Local mode (":memory:", path) ignores payload indexes and search params and says so on
# every call; the store sets both for servers, so silence exactly these two notices.
_LOCAL_NOTICES = ("Payload indexes have no effect", "Local mode performs exact")


def _models() -> Any:
    return require("qdrant_client.models", "qdrant", "qdrant-client")


class QdrantStore:
    """One Qdrant collection as a :class:`~jina_v3.store.VectorStore` (with async twins).

    Args:
        collection: Collection name.
        url: A Qdrant server, e.g. ``"http://localhost:6333"``.
        location: ``":memory:"`` for an in-process engine (not shared between clients).
        path: Directory of a local persistent engine (one client per path at a time).
        client: A ``QdrantClient`` you built (not closed by :meth:`close`).
        aclient: An ``AsyncQdrantClient`` on the same server, used by the async methods.
            With ``url`` one is created on first async use; otherwise the async methods run
            the sync client in a worker thread (an in-process engine cannot be shared).
        funnel_dimensions: Also store this many leading dimensions as a ``funnel`` vector
            and search coarse-then-rescore.
        funnel_oversample: Candidates prefetched on the funnel vector per hit asked for.
        binary_quantization: Binary-quantize the full vector (the server rescores with the
            original vectors; ignored by local mode, which searches exactly).
        payload_indexes: Metadata fields to index when the collection is created, e.g.
            ``{"lang": "keyword", "year": "integer"}`` (keyword, integer, float, bool);
            ``document_id`` is always indexed. Servers use them to filter fast.
        batch_size: Points per upsert request.
        **client_kwargs: Passed to ``QdrantClient`` (``api_key``, ``timeout``, ...).

    Raises:
        ConfigurationError: Not exactly one of url, location, path, client; bad options.
        MissingDependencyError: qdrant-client is not installed.
    """

    def __init__(
        self,
        collection: str,
        *,
        url: str | None = None,
        location: str | None = None,
        path: str | None = None,
        client: Any | None = None,
        aclient: Any | None = None,
        funnel_dimensions: int | None = None,
        funnel_oversample: int = 10,
        binary_quantization: bool = False,
        payload_indexes: Mapping[str, str] | None = None,
        batch_size: int = 256,
        **client_kwargs: Any,
    ) -> None:
        if not isinstance(collection, str) or not collection:
            raise ConfigurationError("collection must be a non-empty string")
        self._source = one_of(url=url, location=location, path=path, client=client)
        if client is not None and client_kwargs:
            raise ConfigurationError(
                f"{sorted(client_kwargs)} configure a client this store builds; with client= "
                "pass them to your QdrantClient instead."
            )
        _models()  # fail early when the extra is missing
        self.collection = collection
        self._url, self._location, self._path = url, location, path
        self._client_kwargs = client_kwargs
        self._client = client
        self._aclient = aclient
        self._owns_client = client is None
        self._owns_aclient = aclient is None
        self.funnel_dimensions = check_funnel(funnel_dimensions)
        self.funnel_oversample = check_positive("funnel_oversample", funnel_oversample)
        self.binary_quantization = bool(binary_quantization)
        self.payload_indexes = check_payload_indexes(payload_indexes)
        self.batch_size = check_positive("batch_size", batch_size)
        self._signature: EmbeddingSignature | None = None
        self._closed = False

    def __repr__(self) -> str:
        where = {"url": self._url, "location": self._location, "path": self._path}.get(
            self._source, "client"
        )
        return (
            f"QdrantStore(collection={self.collection!r}, {self._source}={where!r}, "
            f"funnel_dimensions={self.funnel_dimensions})"
        )

    # -- clients -------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The ``QdrantClient`` (created on first use)."""
        if self._closed:
            raise StoreError(f"QdrantStore({self.collection!r}) is closed; create a new store.")
        if self._client is None:
            qdrant_client = require("qdrant_client", "qdrant", "qdrant-client")
            with wrap_errors("connect", self.collection):
                self._client = qdrant_client.QdrantClient(
                    url=self._url, location=self._location, path=self._path, **self._client_kwargs
                )
        return self._client

    def _native_async(self) -> Any | None:
        if self._closed:
            raise StoreError(f"QdrantStore({self.collection!r}) is closed; create a new store.")
        if self._aclient is None and self._url is not None:
            qdrant_client = require("qdrant_client", "qdrant", "qdrant-client")
            self._aclient = qdrant_client.AsyncQdrantClient(url=self._url, **self._client_kwargs)
        return self._aclient

    def _call(self, op: _Op, client: Any) -> Any:
        name, kwargs = op
        with wrap_errors(name, self.collection), warnings.catch_warnings():
            for notice in _LOCAL_NOTICES:
                warnings.filterwarnings("ignore", message=notice)
            return getattr(client, name)(**kwargs)

    def _run(self, flow: _Flow) -> Any:
        try:
            op = next(flow)
            while True:
                op = flow.send(self._call(op, self.client))
        except StopIteration as stop:
            return stop.value

    async def _arun(self, flow: _Flow) -> Any:
        aclient = self._native_async()
        if aclient is None:
            return await asyncio.to_thread(self._run, flow)
        try:
            op = next(flow)
            while True:
                name, kwargs = op
                with wrap_errors(name, self.collection), warnings.catch_warnings():
                    for notice in _LOCAL_NOTICES:
                        warnings.filterwarnings("ignore", message=notice)
                    result = await getattr(aclient, name)(**kwargs)
                op = flow.send(result)
        except StopIteration as stop:
            return stop.value

    # -- the VectorStore protocol --------------------------------------------------------------

    def ensure_collection(self, signature: EmbeddingSignature, *, recreate: bool = False) -> None:
        """Create the collection for `signature`, or check an existing one against it.

        Raises:
            DimensionMismatchError, SignatureMismatchError: The existing collection was built
                otherwise (nothing is written); the message says which argument fixes it.
            StoreError: The database failed.
        """
        self._run(self._ensure_flow(signature, recreate))

    async def aensure_collection(
        self, signature: EmbeddingSignature, *, recreate: bool = False
    ) -> None:
        """Async twin of :meth:`ensure_collection`."""
        await self._arun(self._ensure_flow(signature, recreate))

    def read_signature(self) -> EmbeddingSignature | None:
        """The signature in the collection's metadata (None without a collection)."""
        return self._run(self._read_flow())

    async def aread_signature(self) -> EmbeddingSignature | None:
        """Async twin of :meth:`read_signature`."""
        return await self._arun(self._read_flow())

    def upsert(self, records: Sequence[Record]) -> None:
        """Write records, `batch_size` points per request (overwrites by id)."""
        self._run(self._upsert_flow(records))

    async def aupsert(self, records: Sequence[Record]) -> None:
        """Async twin of :meth:`upsert`."""
        await self._arun(self._upsert_flow(records))

    def query(self, vector: np.ndarray, *, k: int, filter: Any | None = None) -> list[Hit]:
        """The `k` nearest points (cosine similarity, best first) matching `filter` (a
        Mongo-style dict or a ``qdrant_client.models.Filter``)."""
        return self._run(self._query_flow(vector, k, filter))

    async def aquery(self, vector: np.ndarray, *, k: int, filter: Any | None = None) -> list[Hit]:
        """Async twin of :meth:`query`."""
        return await self._arun(self._query_flow(vector, k, filter))

    def delete(
        self, *, ids: Sequence[str] | None = None, document_ids: Sequence[str] | None = None
    ) -> None:
        """Delete points by id and/or all points of the given document ids."""
        self._run(self._delete_flow(ids, document_ids))

    async def adelete(
        self, *, ids: Sequence[str] | None = None, document_ids: Sequence[str] | None = None
    ) -> None:
        """Async twin of :meth:`delete`."""
        await self._arun(self._delete_flow(ids, document_ids))

    def count(self) -> int:
        """Points in the collection (0 without a collection)."""
        return self._run(self._count_flow())

    async def acount(self) -> int:
        """Async twin of :meth:`count`."""
        return await self._arun(self._count_flow())

    def close(self) -> None:
        """Close the clients this store created (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client and self._client is not None:
            with wrap_errors("close", self.collection):
                self._client.close()
        if self._owns_aclient and self._aclient is not None:
            aclient, self._aclient = self._aclient, None
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # no loop running here: close it in a short-lived one
                with wrap_errors("close", self.collection):
                    asyncio.run(aclient.close())
            else:
                logger.warning(
                    "QdrantStore(%r).close() inside an event loop cannot close its async "
                    "client; use `await store.aclose()`",
                    self.collection,
                )

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        if self._owns_aclient and self._aclient is not None and not self._closed:
            with wrap_errors("close", self.collection):
                await self._aclient.close()
            self._aclient = None
        self.close()

    def __enter__(self) -> QdrantStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> QdrantStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- flows (the logic, written once) -------------------------------------------------------

    def _layout(self) -> dict[str, Any]:
        return {
            "funnel_dimensions": self.funnel_dimensions,
            "binary_quantization": self.binary_quantization,
            "payload_indexes": self.payload_indexes,
        }

    def _ensure_flow(self, signature: EmbeddingSignature, recreate: bool) -> _Flow:
        models = _models()
        if signature.embedding_type != "float":
            raise ConfigurationError(
                f"Qdrant stores float vectors; embedding_type={signature.embedding_type!r} is "
                "not supported. Use embedding_type='float' with binary_quantization=True."
            )
        if self.funnel_dimensions is not None and self.funnel_dimensions >= signature.dimensions:
            raise ConfigurationError(
                f"funnel_dimensions={self.funnel_dimensions} must be smaller than the index's "
                f"dimensions={signature.dimensions}."
            )
        name = self.collection
        exists = yield ("collection_exists", {"collection_name": name})
        if exists and recreate:
            logger.info("recreate=True: dropping Qdrant collection %r", name)
            yield ("delete_collection", {"collection_name": name})
            exists = False
        if exists:
            info = yield ("get_collection", {"collection_name": name})
            metadata = dict(info.config.metadata or {})
            self._check_layout(info.config.params.vectors, signature)
            stored = metadata.get(SIGNATURE_KEY)
            if stored is None:
                # Made elsewhere: its vectors' model and task are unknown, so only an empty
                # collection is adopted (as Milvus and Pinecone do); its signature is recorded.
                points = yield ("count", {"collection_name": name, "exact": True})
                if points.count:
                    raise SignatureMismatchError(
                        f"Qdrant collection {name!r} holds {points.count} points written "
                        "without an embedding signature (unknown model, task and dimensions). "
                        "Use a new collection name, or pass recreate=True to rebuild it."
                    )
                logger.warning(
                    "Qdrant collection %r has no embedding signature; recording this index's",
                    name,
                )
                metadata[SIGNATURE_KEY] = signature.to_dict()
                yield ("update_collection", {"collection_name": name, "metadata": metadata})
            else:
                check_signature(signature, EmbeddingSignature.from_dict(stored), collection=name)
            self._signature = signature
            return
        full = models.VectorParams(size=signature.dimensions, distance=models.Distance.COSINE)
        vectors: Any = full
        if self.funnel_dimensions is not None:
            vectors = {
                FULL: full,
                FUNNEL: models.VectorParams(
                    size=self.funnel_dimensions, distance=models.Distance.COSINE
                ),
            }
        quantization = None
        if self.binary_quantization:
            quantization = models.BinaryQuantization(
                binary=models.BinaryQuantizationConfig(always_ram=True)
            )
        yield (
            "create_collection",
            {
                "collection_name": name,
                "vectors_config": vectors,
                "quantization_config": quantization,
                "metadata": {SIGNATURE_KEY: signature.to_dict(), LAYOUT_KEY: self._layout()},
            },
        )
        for field, kind in {DOCUMENT_ID_KEY: "keyword", **self.payload_indexes}.items():
            yield (
                "create_payload_index",
                {
                    "collection_name": name,
                    "field_name": field,
                    "field_schema": models.PayloadSchemaType(kind),
                },
            )
        self._signature = signature

    def _check_layout(self, vectors: Any, signature: EmbeddingSignature) -> None:
        named = isinstance(vectors, Mapping)
        full = vectors.get(FULL) if named else vectors
        funnel = vectors.get(FUNNEL) if named else None
        fix = "or use a new collection name, or pass recreate=True to rebuild it"
        if full is None:
            raise SignatureMismatchError(
                f"Qdrant collection {self.collection!r} has vectors {sorted(vectors)}, not the "
                f"{FULL!r}/{FUNNEL!r} layout of this store: use a new collection name, or pass "
                "recreate=True to rebuild it."
            )
        if full.size != signature.dimensions:
            raise DimensionMismatchError(
                f"Qdrant collection {self.collection!r} holds {full.size}-d vectors but this "
                f"index makes {signature.dimensions}-d ones. Fix: pass dimensions={full.size} "
                f"to use the collection as it is, {fix}."
            )
        has = None if funnel is None else funnel.size
        if has != self.funnel_dimensions:
            raise SignatureMismatchError(
                f"Qdrant collection {self.collection!r} was created with funnel_dimensions="
                f"{has} but this store uses funnel_dimensions={self.funnel_dimensions}. Fix: "
                f"pass funnel_dimensions={has} to QdrantStore, {fix}."
            )

    def _read_flow(self) -> _Flow:
        exists = yield ("collection_exists", {"collection_name": self.collection})
        if not exists:
            return None
        info = yield ("get_collection", {"collection_name": self.collection})
        stored = (info.config.metadata or {}).get(SIGNATURE_KEY)
        return None if stored is None else EmbeddingSignature.from_dict(stored)

    def _expected(self) -> _Flow:
        """The collection's signature (cached after ensure_collection or a first read)."""
        if self._signature is None:
            stored = yield from self._read_flow()
            if stored is None:
                raise StoreError(
                    f"Qdrant collection {self.collection!r} does not exist or has no embedding "
                    "signature; call ensure_collection(signature) first (VectorIndex does)."
                )
            self._signature = stored
        return self._signature

    def _check_vectors(self, vectors: np.ndarray, signature: EmbeddingSignature) -> None:
        if vectors.ndim != 2 or vectors.shape[1] != signature.dimensions:
            raise DimensionMismatchError(
                f"Vectors of shape {tuple(vectors.shape)} do not fit Qdrant collection "
                f"{self.collection!r} ({signature.dimensions}-d): embed with "
                f"dimensions={signature.dimensions}, or use another collection."
            )

    def _upsert_flow(self, records: Sequence[Record]) -> _Flow:
        models = _models()
        records = list(records)
        if not records:
            return
        signature = yield from self._expected()
        for chunk in batched(records, self.batch_size):
            vectors = np.asarray(np.stack([r.vector for r in chunk]), dtype=np.float32)
            self._check_vectors(vectors, signature)
            vectors_field: Any = vectors.tolist()
            if self.funnel_dimensions is not None:
                vectors_field = {
                    FULL: vectors_field,
                    FUNNEL: prefix_vectors(vectors, self.funnel_dimensions).tolist(),
                }
            batch = models.Batch(
                ids=[r.id for r in chunk],
                vectors=vectors_field,
                payloads=[record_payload(r) for r in chunk],
            )
            yield ("upsert", {"collection_name": self.collection, "points": batch, "wait": True})

    def _query_flow(self, vector: np.ndarray, k: int, filter: Any | None) -> _Flow:
        models = _models()
        check_positive("k", k)
        native = self._filter(filter)
        signature = yield from self._expected()
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        self._check_vectors(query, signature)
        kwargs: dict[str, Any] = {
            "collection_name": self.collection,
            "query": query[0].tolist(),
            "query_filter": native,
            "limit": k,
            "with_payload": True,
        }
        if self.funnel_dimensions is not None:
            kwargs["using"] = FULL
            kwargs["prefetch"] = models.Prefetch(
                query=prefix_vectors(query, self.funnel_dimensions)[0].tolist(),
                using=FUNNEL,
                filter=native,
                limit=k * self.funnel_oversample,
            )
        if self.binary_quantization:
            kwargs["search_params"] = models.SearchParams(
                quantization=models.QuantizationSearchParams(rescore=True, oversampling=2.0)
            )
        response = yield ("query_points", kwargs)
        return [hit_from_payload(p.id, p.score, p.payload or {}) for p in response.points]

    def _delete_flow(self, ids: Sequence[str] | None, document_ids: Sequence[str] | None) -> _Flow:
        models = _models()
        point_ids, doc_ids = as_str_ids(ids), as_str_ids(document_ids)
        exists = yield ("collection_exists", {"collection_name": self.collection})
        if not exists:
            return
        if point_ids:
            yield (
                "delete",
                {
                    "collection_name": self.collection,
                    "points_selector": models.PointIdsList(points=point_ids),
                    "wait": True,
                },
            )
        if doc_ids:
            selector = models.FilterSelector(
                filter=models.Filter(
                    must=[
                        models.FieldCondition(
                            key=DOCUMENT_ID_KEY, match=models.MatchAny(any=doc_ids)
                        )
                    ]
                )
            )
            yield (
                "delete",
                {"collection_name": self.collection, "points_selector": selector, "wait": True},
            )

    def _count_flow(self) -> _Flow:
        exists = yield ("collection_exists", {"collection_name": self.collection})
        if not exists:
            return 0
        result = yield ("count", {"collection_name": self.collection, "exact": True})
        return int(result.count)

    def _filter(self, filter: Any | None) -> Any:
        if filter is None:
            return None
        models = _models()
        if isinstance(filter, models.Filter):
            return filter  # native: untouched
        if isinstance(filter, Mapping):
            return to_qdrant_filter(filter_tree(filter))
        raise unsupported_filter(filter, "qdrant_client.models.Filter")


def to_qdrant_filter(node: FilterNode) -> Any:
    """Translate a parsed filter tree (:func:`jina_v3.filters.parse_filter`) to a Qdrant
    ``Filter``. List-valued payloads match when any element does (Qdrant's and Pinecone's
    semantics); numbers compare by value whether stored as int or float."""
    models = _models()
    if isinstance(node, And):
        return models.Filter(must=[to_qdrant_filter(c) for c in node.children])
    if isinstance(node, Or):
        return models.Filter(should=[to_qdrant_filter(c) for c in node.children])
    condition = _condition(node, models)
    return condition if isinstance(condition, models.Filter) else models.Filter(must=[condition])


def _condition(node: Condition, models: Any) -> Any:
    op = node.op
    if op in ("$ne", "$nin"):
        positive = Condition(node.field, "$eq" if op == "$ne" else "$in", node.value)
        return models.Filter(must_not=[_condition(positive, models)])
    if op == "$eq":
        return _equals(node.field, node.value, models)
    if op == "$in":
        values = node.value
        assert isinstance(values, tuple)
        if not values:
            return models.FieldCondition(key=node.field, match=models.MatchAny(any=[]))
        if all(isinstance(v, str) for v in values):
            return models.FieldCondition(key=node.field, match=models.MatchAny(any=list(values)))
        return models.Filter(should=[_equals(node.field, v, models) for v in values])
    bound = {"$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}[op]
    return models.FieldCondition(key=node.field, range=models.Range(**{bound: node.value}))


def _equals(field: str, value: Any, models: Any) -> Any:
    if isinstance(value, (str, bool)):
        return models.FieldCondition(key=field, match=models.MatchValue(value=value))
    # MatchValue(3) misses a stored 3.0; a closed range matches numbers of either type.
    return models.FieldCondition(key=field, range=models.Range(gte=value, lte=value))
