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

from jina_v3._flow import Call, Flow, InThread
from jina_v3.connectors.base.common import SIGNATURE_KEY, one_of, require, wrap_errors
from jina_v3.connectors.base.store import Described, client
from jina_v3.connectors.qdrant.common import FULL, FUNNEL, KEYWORDS, QdrantFamilyStore
from jina_v3.connectors.qdrant.filters import FilterModels
from jina_v3.errors import ConfigurationError, SignatureMismatchError, StoreInUseError
from jina_v3.index.filters import FilterNode
from jina_v3.index.keywords import SparseVector
from jina_v3.index.store import (
    REBUILD_FIX,
    EmbeddingSignature,
    Hit,
    hit_from_payload,
    record_payload,
)

__all__ = ["QdrantStore", "to_qdrant_filter"]

logger = logging.getLogger(__name__)

# Local mode (":memory:", path) ignores payload indexes and search params and says so on
# every call; the store sets both for servers, so silence exactly these two notices.
_LOCAL_NOTICES = ("Payload indexes have no effect", "Local mode performs exact")


def _models() -> Any:
    return require("qdrant_client.models", "qdrant", "qdrant-client")


class QdrantStore(QdrantFamilyStore):
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
        self._set_layout(funnel_dimensions, funnel_oversample, binary_quantization, payload_indexes)
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
        # local mode is one Python object that is not thread-safe: one caller at a time
        self._local_lock = threading.RLock()

    def _where(self) -> str:
        where = {"url": self._url, "location": self._location, "path": self._path}.get(
            self._source, "client"
        )
        return f"{self._source}={where!r}"

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
        yield client(
            "create_collection",
            collection_name=self.collection,
            vectors_config=vectors,
            sparse_vectors_config=_sparse_config(signature),
            quantization_config=quantization,
            metadata=self._stored_settings(signature),
        )
        for name, kind in self._indexed_fields().items():
            yield client(
                "create_payload_index",
                collection_name=self.collection,
                field_name=name,
                field_schema=models.PayloadSchemaType(kind),
            )

    def _drop(self) -> Flow[None]:
        yield client("delete_collection", collection_name=self.collection)

    def _write(self, items: list[Any], signature: EmbeddingSignature) -> Flow[None]:
        vectors: dict[str, Any] = self._dense_columns(items)
        if signature.keywords is not None:  # every point has one, if empty
            empty = SparseVector((), ())
            vectors[KEYWORDS] = [self._sparse(record.keywords or empty) for record, _ in items]
        batch = _models().Batch(
            ids=[record.id for record, _ in items],
            vectors=vectors[""] if list(vectors) == [""] else vectors,  # one unnamed: a list
            payloads=[record_payload(record) for record, _ in items],
        )
        yield client("upsert", collection_name=self.collection, points=batch, wait=True)

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
        return self._page(points, following, vectors)

    def _delete(self, *, ids: list[str] = (), document_ids: list[str] = ()) -> Flow[None]:  # type: ignore[assignment]
        models = _models()
        if ids:
            selector: Any = models.PointIdsList(points=list(ids))
        else:
            selector = models.FilterSelector(filter=self._document_filter(document_ids))
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

    # -- qdrant-client's vocabulary (see jina_v3.connectors.qdrant.common) ------------------------

    def _dense_name(self) -> str | None:
        return FULL if self.funnel_dimensions is not None else None

    def _nearest(self, vector: Any, using: str | None) -> dict[str, Any]:
        return {"query": vector, "using": using}  # query_points' and Prefetch's own arguments

    def _prefetch(self, query: dict[str, Any], limit: int, native: Any) -> Any:
        return _models().Prefetch(**query, filter=native, limit=limit)

    def _fusion(self, k: int) -> dict[str, Any]:
        models = _models()
        return {"query": models.RrfQuery(rrf=models.Rrf(k=k))}

    def _query(
        self, query: dict, k: int, native: Any, prefetch: list | None = None, rescore: bool = False
    ) -> Flow[list[Any]]:
        models = _models()
        params = None
        if rescore:
            quantization = models.QuantizationSearchParams(rescore=True, oversampling=2.0)
            params = models.SearchParams(quantization=quantization)
        response = yield client(
            "query_points",
            collection_name=self.collection,
            **query,
            prefetch=prefetch,
            query_filter=native,
            limit=k,
            with_payload=True,
            search_params=params,
        )
        return response.points

    def _sparse(self, keywords: SparseVector) -> Any:
        return _models().SparseVector(indices=list(keywords.indices), values=list(keywords.values))

    def _filter_models(self) -> FilterModels:
        return _filter_models()


def _sparse_config(signature: EmbeddingSignature) -> Any:
    if signature.keywords is None:
        return None
    models = _models()  # BM25: the engine keeps the IDF statistics
    return {KEYWORDS: models.SparseVectorParams(modifier=models.Modifier.IDF)}


def _filter_models() -> FilterModels:
    models = _models()
    return FilterModels(models, models.Range)


def to_qdrant_filter(node: FilterNode) -> Any:
    """Translate a parsed filter tree (:func:`jina_v3.filters.parse_filter`) to a Qdrant
    ``Filter`` (semantics: :func:`~jina_v3.connectors.qdrant.filters.to_qdrant_family_filter`)."""
    return _filter_models().translate(node)
