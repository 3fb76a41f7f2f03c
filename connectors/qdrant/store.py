"""Qdrant connector: `QdrantStore` over qdrant-client (a server URL, `:memory:`, a local path,
or a client you pass).

The collection uses cosine distance and the index's dimensions, and carries the embedding
signature in its collection metadata (a server needs collection metadata support, Qdrant 1.16
or newer). With ``funnel_dimensions`` it holds two named vectors, ``full`` and ``funnel``
(the re-normalised Matryoshka prefix): queries prefetch candidates on the small vector and
rescore them with the full one. ``binary_quantization=True`` turns on Qdrant's binary
quantization (with rescoring) for the full vector.

Example:
    >>> from jina_v3 import Embedder, VectorIndex
    >>> from jina_v3.connectors.qdrant import QdrantStore
    >>> store = QdrantStore("docs", url="http://localhost:6333", funnel_dimensions=64)
    >>> index = VectorIndex(Embedder(), store, dimensions=512)
"""

from __future__ import annotations

import asyncio
import logging
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from jina_v3._flow import Call, Flow, InThread
from jina_v3.connectors.base.common import LAYOUT_KEY, SIGNATURE_KEY, one_of, require, wrap_errors
from jina_v3.connectors.base.keywords import KEYWORDS, KeywordChannel, prefetch_limit
from jina_v3.connectors.base.store import BaseStore, Described, client
from jina_v3.connectors.qdrant.filters import (
    FULL,
    FUNNEL,
    FilterModels,
    check_payload_indexes,
)
from jina_v3.errors import ConfigurationError, SignatureMismatchError, StoreInUseError
from jina_v3.index.filters import FilterNode
from jina_v3.index.keywords import SparseVector, rrf_max
from jina_v3.index.store import (
    DOCUMENT_ID_KEY,
    NO_VECTOR,
    REBUILD_FIX,
    EmbeddingSignature,
    Hit,
    hit_from_payload,
    prefix_vectors,
    record_from_payload,
    record_payload,
)

__all__ = ["QdrantStore", "to_qdrant_filter"]

logger = logging.getLogger(__name__)

# Local mode (":memory:", path) ignores payload indexes and search params and says so on
# every call; the store sets both for servers, so silence exactly these two notices.
_LOCAL_NOTICES = ("Payload indexes have no effect", "Local mode performs exact")


def _models() -> Any:
    return require("qdrant_client.models", "qdrant", "qdrant-client")


class QdrantStore(KeywordChannel, BaseStore):
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

    engine = "Qdrant"
    native_filter_name = "qdrant_client.models.Filter"

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
        super().__init__(collection, batch_size)
        self._set_funnel(funnel_dimensions, funnel_oversample)
        self._source = one_of(url=url, location=location, path=path, client=client)
        if client is not None and client_kwargs:
            raise ConfigurationError(
                f"{sorted(client_kwargs)} configure a client this store builds; with client= "
                "pass them to your QdrantClient instead."
            )
        _models()  # fail early when the extra is missing
        self._url, self._location, self._path = url, location, path
        self._client_kwargs = client_kwargs
        self._client = client
        self._aclient = aclient
        self._owns_client = client is None
        self._owns_aclient = aclient is None
        self.binary_quantization = bool(binary_quantization)
        self.payload_indexes = check_payload_indexes(payload_indexes)
        # local mode is one Python object that is not thread-safe: one caller at a time
        self._local_lock = threading.RLock()

    def __repr__(self) -> str:
        where = {"url": self._url, "location": self._location, "path": self._path}.get(
            self._source, "client"
        )
        return (
            f"QdrantStore(collection={self.collection!r}, {self._source}={where!r}, "
            f"funnel_dimensions={self.funnel_dimensions})"
        )

    # -- clients -------------------------------------------------------------------------------

    def _connect(self) -> Any:
        qdrant_client = require("qdrant_client", "qdrant", "qdrant-client")
        try:
            return qdrant_client.QdrantClient(
                url=self._url, location=self._location, path=self._path, **self._client_kwargs
            )
        except RuntimeError as exc:  # local mode's folder lock
            if self._path is None or "already accessed" not in str(exc):
                raise
            raise StoreInUseError(str(self._path)) from None

    def _async_client(self) -> Any:
        if self._aclient is None and self._url is not None:
            qdrant_client = require("qdrant_client", "qdrant", "qdrant-client")
            self._aclient = qdrant_client.AsyncQdrantClient(url=self._url, **self._client_kwargs)
        if self._aclient is not None:
            return self._aclient
        return InThread(self.client, lock=self._local_lock if self._is_local() else None)

    def _is_local(self) -> bool:
        """Whether the client is local mode (``:memory:`` or a folder), given or built."""
        return type(getattr(self.client, "_client", None)).__name__ == "QdrantLocal"

    def _run(self, operation: str, flow: Flow[Any]) -> Any:
        if not self._is_local():
            return super()._run(operation, flow)
        with self._local_lock:
            return super()._run(operation, flow)

    def _close_clients(self) -> None:
        if self._owns_client and self._client is not None:
            with wrap_errors("close", self.collection):
                self._client.close()
        aclient, self._aclient = self._aclient, None
        if self._owns_aclient and aclient is not None:
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
        """Async twin of :meth:`close` (closes the async client on its own loop)."""
        aclient, self._aclient = self._aclient, None
        if self._owns_aclient and aclient is not None and not self._closed:
            with wrap_errors("close", self.collection):
                await aclient.close()
        self.close()

    @contextmanager
    def _guard(self, operation: str, call: Call) -> Iterator[None]:
        with super()._guard(operation, call), warnings.catch_warnings():
            for notice in _LOCAL_NOTICES:
                warnings.filterwarnings("ignore", message=notice)
            yield

    # -- engine hooks ----------------------------------------------------------------------------

    def _exists(self) -> Flow[bool]:
        return bool((yield client("collection_exists", collection_name=self.collection)))

    def _describe(self) -> Flow[Described]:
        info = yield client("get_collection", collection_name=self.collection)
        vectors = info.config.params.vectors
        named = isinstance(vectors, Mapping)
        full = vectors.get(FULL) if named else vectors
        if full is None:
            raise SignatureMismatchError(
                f"Qdrant collection {self.collection!r} has vectors {sorted(vectors)}, not the "
                f"{FULL!r}/{FUNNEL!r} layout of this store. Fix: {REBUILD_FIX}."
            )
        funnel = vectors.get(FUNNEL) if named else None
        stored = (info.config.metadata or {}).get(SIGNATURE_KEY)
        return Described(
            None if stored is None else EmbeddingSignature.from_dict(stored),
            full.size,
            {"funnel_dimensions": None if funnel is None else funnel.size},
        )

    def _adopt(self, signature: EmbeddingSignature) -> Flow[None]:
        info = yield client("get_collection", collection_name=self.collection)
        metadata = {**(info.config.metadata or {}), SIGNATURE_KEY: signature.to_dict()}
        yield client("update_collection", collection_name=self.collection, metadata=metadata)

    def _create(self, signature: EmbeddingSignature) -> Flow[None]:
        models = _models()
        full = models.VectorParams(size=signature.dimensions, distance=models.Distance.COSINE)
        vectors: Any = full
        if self.funnel_dimensions is not None:
            funnel = models.VectorParams(
                size=self.funnel_dimensions, distance=models.Distance.COSINE
            )
            vectors = {FULL: full, FUNNEL: funnel}
        quantization = None
        if self.binary_quantization:
            quantization = models.BinaryQuantization(
                binary=models.BinaryQuantizationConfig(always_ram=True)
            )
        layout = {
            "funnel_dimensions": self.funnel_dimensions,
            "binary_quantization": self.binary_quantization,
            "payload_indexes": self.payload_indexes,
        }
        yield client(
            "create_collection",
            collection_name=self.collection,
            vectors_config=vectors,
            sparse_vectors_config=_sparse_config(signature),
            quantization_config=quantization,
            metadata={SIGNATURE_KEY: signature.to_dict(), LAYOUT_KEY: layout},
        )
        for name, kind in {DOCUMENT_ID_KEY: "keyword", **self.payload_indexes}.items():
            yield client(
                "create_payload_index",
                collection_name=self.collection,
                field_name=name,
                field_schema=models.PayloadSchemaType(kind),
            )

    def _drop(self) -> Flow[None]:
        yield client("delete_collection", collection_name=self.collection)

    def _write(self, items: list[Any], signature: EmbeddingSignature) -> Flow[None]:
        models = _models()
        vectors = np.stack([vector for _, vector in items])
        vectors_field: Any = vectors.tolist()
        if self.funnel_dimensions is not None:
            funnel = prefix_vectors(vectors, self.funnel_dimensions).tolist()
            vectors_field = {FULL: vectors_field, FUNNEL: funnel}
        if signature.keywords is not None:  # named vectors: the dense one keeps its name
            if not isinstance(vectors_field, dict):
                vectors_field = {"": vectors_field}
            vectors_field[KEYWORDS] = [_sparse(record.keywords) for record, _ in items]
        batch = models.Batch(
            ids=[record.id for record, _ in items],
            vectors=vectors_field,
            payloads=[record_payload(record) for record, _ in items],
        )
        yield client("upsert", collection_name=self.collection, points=batch, wait=True)

    def _search(
        self, vector: np.ndarray, k: int, native: Any, signature: EmbeddingSignature
    ) -> Flow[list[Hit]]:
        models = _models()
        kwargs: dict[str, Any] = {
            "collection_name": self.collection,
            "query": vector.tolist(),
            "query_filter": native,
            "limit": k,
            "with_payload": True,
        }
        if self.funnel_dimensions is not None:
            kwargs["using"] = FULL
            kwargs["prefetch"] = models.Prefetch(
                query=prefix_vectors(vector, self.funnel_dimensions).tolist(),
                using=FUNNEL,
                filter=native,
                limit=k * self.funnel_oversample,
            )
        if self.binary_quantization:
            kwargs["search_params"] = models.SearchParams(
                quantization=models.QuantizationSearchParams(rescore=True, oversampling=2.0)
            )
        response = yield client("query_points", **kwargs)
        return [hit_from_payload(p.id, p.score, p.payload or {}) for p in response.points]

    def _dense_name(self) -> str | None:
        return FULL if self.funnel_dimensions is not None else None

    def _search_keywords(self, keywords: SparseVector, k: int, native: Any) -> Flow[list[Hit]]:
        response = yield client(
            "query_points",
            collection_name=self.collection,
            query=_sparse(keywords),
            using=KEYWORDS,
            query_filter=native,
            limit=k,
            with_payload=True,
        )
        return [hit_from_payload(p.id, p.score, p.payload or {}) for p in response.points]

    def _search_fused(
        self,
        vector: np.ndarray,
        keywords: SparseVector,
        k: int,
        native: Any,
        rrf_k: int,
    ) -> Flow[list[Hit]]:
        models = _models()
        limit = prefetch_limit(k)
        prefetch = [
            models.Prefetch(
                query=vector.tolist(), using=self._dense_name(), filter=native, limit=limit
            )
        ]
        if len(keywords):
            prefetch.append(
                models.Prefetch(query=_sparse(keywords), using=KEYWORDS, filter=native, limit=limit)
            )
        fusion = models.RrfQuery(rrf=models.Rrf(k=rrf_k + 1))  # Qdrant counts from 0
        response = yield client(
            "query_points",
            collection_name=self.collection,
            prefetch=prefetch,
            query=fusion,
            query_filter=native,
            limit=k,
            with_payload=True,
        )
        best = rrf_max(rrf_k)
        return [hit_from_payload(p.id, p.score / best, p.payload or {}) for p in response.points]

    def _fetch(self, ids: list[str]) -> Flow[list[Hit]]:
        points = yield client(
            "retrieve", collection_name=self.collection, ids=ids, with_payload=True
        )
        return [hit_from_payload(p.id, 1.0, p.payload or {}) for p in points]

    def _scroll(
        self, cursor: str | None, limit: int, vectors: bool
    ) -> Flow[tuple[list, str | None]]:
        points, following = yield client(
            "scroll",
            collection_name=self.collection,
            limit=limit,
            offset=cursor,
            with_payload=True,
            with_vectors=vectors,
        )
        records = [
            record_from_payload(
                p.id,
                _full(p.vector) if vectors else NO_VECTOR,
                p.payload or {},
                keywords=_stored_keywords(p.vector) if vectors else None,
            )
            for p in points
        ]
        return records, None if following is None else str(following)

    def _delete(self, *, ids: list[str] = (), document_ids: list[str] = ()) -> Flow[None]:  # type: ignore[assignment]
        models = _models()
        if ids:
            selector: Any = models.PointIdsList(points=list(ids))
        else:
            condition = models.FieldCondition(
                key=DOCUMENT_ID_KEY, match=models.MatchAny(any=list(document_ids))
            )
            selector = models.FilterSelector(filter=models.Filter(must=[condition]))
        yield client("delete", collection_name=self.collection, points_selector=selector, wait=True)

    def _delete_matching(self, native: Any) -> Flow[None]:
        selector = _models().FilterSelector(filter=native)
        yield client("delete", collection_name=self.collection, points_selector=selector, wait=True)

    def _collections(self) -> Flow[list[str]]:
        response = yield client("get_collections")
        names = []
        for collection in response.collections:  # only those carrying a signature
            info = yield client("get_collection", collection_name=collection.name)
            if SIGNATURE_KEY in (info.config.metadata or {}):
                names.append(collection.name)
        return sorted(names)

    def _count(self) -> Flow[int]:
        result = yield client("count", collection_name=self.collection, exact=True)
        return int(result.count)

    def _translate(self, tree: FilterNode) -> Any:
        return to_qdrant_filter(tree)

    def _is_native_filter(self, filter: Any) -> bool:
        return isinstance(filter, _models().Filter)


def _sparse_config(signature: EmbeddingSignature) -> Any:
    if signature.keywords is None:
        return None
    models = _models()  # BM25: the engine keeps the IDF statistics
    return {KEYWORDS: models.SparseVectorParams(modifier=models.Modifier.IDF)}


def _sparse(keywords: SparseVector | None) -> Any:
    if keywords is None:
        keywords = SparseVector((), ())
    return _models().SparseVector(indices=list(keywords.indices), values=list(keywords.values))


def to_qdrant_filter(node: FilterNode) -> Any:
    """Translate a parsed filter tree (:func:`jina_v3.filters.parse_filter`) to a Qdrant
    ``Filter`` (semantics: :func:`~jina_v3.connectors.qdrant.filters.to_qdrant_family_filter`)."""
    models = _models()
    return FilterModels(models, models.Range).translate(node)


def _full(vector: Any) -> np.ndarray:
    """The full vector of a scrolled point: named ``full`` with a funnel, the unnamed ``""``
    beside the keyword channel, a bare list otherwise."""
    if isinstance(vector, Mapping):
        vector = vector[FULL] if FULL in vector else vector[""]
    return np.asarray(vector, dtype=np.float32)


def _stored_keywords(vector: Any) -> SparseVector | None:
    """The keyword channel's weights of a scrolled point (None without the channel)."""
    sparse = vector.get(KEYWORDS) if isinstance(vector, Mapping) else None
    if sparse is None:
        return None
    return SparseVector(tuple(sparse.indices), tuple(sparse.values))
