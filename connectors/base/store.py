"""`BaseStore`: everything the database connectors share, written once.

A connector is a subclass that implements a handful of *engine hooks*, each a flow (see
:mod:`jina_v3._flow`) whose I/O is ``yield Call("client", method, ...)`` on its client:

    _exists()                   is there a collection?
    _describe()                 its stored signature, vector size and layout (Described)
    _create(signature)          make it (with the signature stored)
    _drop()                     remove it
    _adopt(signature)           record the signature on an empty foreign collection
    _write(items, signature)    write one request's worth of engine items
    _search(vector, k, native_filter, signature) -> list[Hit]
    _delete(ids, document_ids)  delete points (one request's worth of each)
    _count() / _fetch(ids)      read
    _check_record(record)       refuse a record over the engine's own limits (pure)
    _scroll(cursor, limit, vectors)  one page of points (Records) and the next page's cursor
    _item(record, vector)       one record as an engine item, with its size for the packer
    _translate(tree)            a parsed filter in the engine's native form

The base owns the rest: the closed state, the lazy client, the one signature cache, the
vector and metadata checks, the collection's life cycle against the signature (with one
wording for every engine: :mod:`jina_v3.connectors.base.collection`),
request packing (:func:`jina_v3._packing.pack`), error wrapping, and the async twins: each
public method and its ``a``-prefixed twin drive the same flow, with the sync client or with
the async one (a native async client, or the sync one in a worker thread).

The call path: each public method runs its flow (``_run`` / ``_arun``, with ``client`` the
store's client); the flow reaches the engine hooks by name:

    ensure_collection -> _ensure_flow (collection.py): _exists; _create, or _describe checked
                         against the signature, then _opened (and _adopt, or _drop + _create)
    read_signature    -> _read_flow: _exists, _describe
    upsert            -> _upsert_flow: _expected (the signature, read once); check_record and
                         _item for every record; requests packed -> _write
    query             -> _query_flow: _native_filter (_translate); _expected -> _search
    query_keywords, query_hybrid -> _hybrid_flow (keywords.py, engines with the keyword
                         channel) -> _search_keywords | _search_fused | _search + _search_keywords
    fetch             -> _fetch_flow: _exists, _expected -> _fetch (delete_batch ids a request)
    delete            -> _delete_flow: _native_filter; _exists -> _delete_matching, _delete
    scroll            -> _scroll_flow: _exists, _expected -> _scroll
    clear / count / collections -> _clear_flow (_drop, _create) / _count_flow / _collections
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, ClassVar, Unpack

import numpy as np

from jina_v3._flow import Call, Flow, InThread, alocked, arun, run
from jina_v3._packing import pack
from jina_v3.connectors.base.collection import CollectionLifecycle, Described
from jina_v3.connectors.base.common import as_str_ids, wrap_errors
from jina_v3.errors import (
    ConfigurationError,
    SignatureMismatchError,
    StoreError,
    UnsupportedFilterError,
    check_positive,
)
from jina_v3.index.filters import FilterNode, parse_filter
from jina_v3.index.keywords import stored_weights
from jina_v3.index.store import (
    REBUILD_FIX,
    EmbeddingSignature,
    Hit,
    PointSelector,
    Record,
    check_metadata,
    check_text,
    stored_vector,
)
from jina_v3.types import AsyncClosing, Closing

logger = logging.getLogger("jina_v3.connectors")


def client(method: str, *args: Any, **kwargs: Any) -> Call:
    """A call on the store's client (the only I/O an engine hook does)."""
    return Call("client", method, args, kwargs)


def last_versions(records: Sequence[Record]) -> list[Record]:
    """Each id once, as its last version, at that version's place: engines and statistics
    then see what is stored (one request never holds an id twice, whatever its pages)."""
    last = {record.id: i for i, record in enumerate(records)}
    return [record for i, record in enumerate(records) if last[record.id] == i]


class BaseStore(CollectionLifecycle, Closing, AsyncClosing, ABC):
    """One collection of a vector database, as a :class:`~jina_v3.store.VectorStore` with
    async twins. Subclasses implement the engine hooks listed in the module docstring."""

    #: The engine's name in messages ("Qdrant", "Milvus", ...).
    engine: ClassVar[str] = "vector database"
    #: Embedding types the engine stores.
    embedding_types: ClassVar[tuple[str, ...]] = ("float",)
    #: What the engine's native filter is, for messages (see _is_native_filter).
    native_filter_name: ClassVar[str] = "native filter"
    #: Largest k one query may ask for (None: no limit).
    max_k: ClassVar[int | None] = None
    #: Bytes per write request (None: no limit), and ids per delete or fetch request.
    max_request_bytes: ClassVar[int | None] = None
    delete_batch: ClassVar[int] = 1000
    #: Whether the engine stores the keyword channel of hybrid search (connectors/base/keywords.py).
    keyword_channel: ClassVar[bool] = False

    #: Matryoshka funnel: the prefix size searched first, and candidates per hit asked for.
    funnel_dimensions: int | None = None
    funnel_oversample: int = 10
    _funnel_adopted = False  # funnel_dimensions is the existing collection's, not asked for

    def __init__(self, collection: str, batch_size: int) -> None:
        if not isinstance(collection, str) or not collection:
            raise ConfigurationError("collection must be a non-empty string")
        self.collection = collection
        self.batch_size = check_positive("batch_size", batch_size)
        self._client: Any | None = None
        self._signature: EmbeddingSignature | None = None  # the collection's, once known
        self._closed = False
        # one ensure_collection at a time (sync or async): concurrent first uses create the
        # collection once, the others find it made
        self._ensure_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(collection={self.collection!r})"

    def _set_funnel(self, dimensions: int | None, oversample: int) -> None:
        """For engines with a funnel: store `dimensions` leading values as a second vector."""
        if dimensions is not None:
            check_positive("funnel_dimensions", dimensions)
        self.funnel_dimensions = dimensions
        self.funnel_oversample = check_positive("funnel_oversample", oversample)

    # -- clients (hooks: _connect, _async_client, _close_clients) -------------------------------

    @property
    def client(self) -> Any:
        """The database client (created on first use)."""
        self._check_open()
        if self._client is None:
            with wrap_errors("connect", self.collection):
                self._client = self._connect()
        return self._client

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(
                f"{type(self).__name__}({self.collection!r}) is closed; create a new store."
            )

    @abstractmethod
    def _connect(self) -> Any:
        """The database client this store uses."""

    def _async_client(self) -> Any:
        """The client the async twins drive: by default the sync one, in a worker thread."""
        return InThread(self.client)

    def _close_clients(self) -> None:
        """Release what the store created (called once)."""

    def close(self) -> None:
        """Close the clients this store created (idempotent)."""
        if not self._closed:
            self._closed = True
            self._close_clients()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        await asyncio.to_thread(self.close)

    # -- drivers -------------------------------------------------------------------------------

    @contextmanager
    def _guard(self, operation: str, call: Call) -> Iterator[None]:
        """Around every client call: its exceptions become StoreError naming the operation."""
        with wrap_errors(operation, self.collection):
            yield

    def _run(self, operation: str, flow: Flow[Any]) -> Any:
        return run(flow, partial(self._guard, operation), client=self.client)

    async def _arun(self, operation: str, flow: Flow[Any]) -> Any:
        self._check_open()
        return await arun(flow, partial(self._guard, operation), client=self._async_client())

    # -- the VectorStore protocol and its async twins --------------------------------------------

    def ensure_collection(self, signature: EmbeddingSignature, *, recreate: bool = False) -> None:
        """Create the collection for `signature` (how the vectors are made), or check an
        existing one against it: DimensionMismatchError / SignatureMismatchError, naming the
        fix, with nothing written. ``recreate`` drops an existing collection (and its data).
        Concurrent calls run one at a time."""
        with self._ensure_lock:
            self._run("ensure_collection", self._ensure_flow(signature, recreate))

    async def aensure_collection(
        self, signature: EmbeddingSignature, *, recreate: bool = False
    ) -> None:
        """Async twin of :meth:`ensure_collection`."""
        async with alocked(self._ensure_lock):
            await self._arun("ensure_collection", self._ensure_flow(signature, recreate))

    def read_signature(self) -> EmbeddingSignature | None:
        """The signature stored with the collection (None without one, or without a collection)."""
        return self._run("read_signature", self._read_flow())

    async def aread_signature(self) -> EmbeddingSignature | None:
        """Async twin of :meth:`read_signature`."""
        return await self._arun("read_signature", self._read_flow())

    def upsert(self, records: Sequence[Record]) -> None:
        """Write records (insert or overwrite by id), in requests within the engine's limits.
        An id given more than once is written once, as its last version (what writing the
        records one by one would leave).

        Raises:
            DimensionMismatchError: A vector does not have the collection's size.
            ConfigurationError: Metadata no store can hold. Either way nothing is written.
            StoreError: The database failed (earlier requests stay written).
        """
        self._run("upsert", self._upsert_flow(records))

    async def aupsert(self, records: Sequence[Record]) -> None:
        """Async twin of :meth:`upsert`."""
        await self._arun("upsert", self._upsert_flow(records))

    def query(self, vector: np.ndarray, *, k: int, filter: Any | None = None) -> list[Hit]:
        """The `k` nearest points to `vector` (similarity, best first) that match `filter`
        (a Mongo-style dict, see :mod:`jina_v3.filters`, or the engine's native filter)."""
        return self._run("query", self._query_flow(vector, k, filter))

    async def aquery(self, vector: np.ndarray, *, k: int, filter: Any | None = None) -> list[Hit]:
        """Async twin of :meth:`query`."""
        return await self._arun("query", self._query_flow(vector, k, filter))

    def fetch(self, ids: Sequence[str]) -> list[Hit]:
        """The stored points with these ids, in that order (missing ones left out), score 1.0."""
        return self._run("fetch", self._fetch_flow(ids))

    async def afetch(self, ids: Sequence[str]) -> list[Hit]:
        """Async twin of :meth:`fetch`."""
        return await self._arun("fetch", self._fetch_flow(ids))

    def delete(self, **selector: Unpack[PointSelector]) -> None:
        """Delete points by ``ids``, every point (chunk) of the given ``document_ids``, and/or
        every point matching ``filter`` (the dialect or the engine's native filter)."""
        self._run("delete", self._delete_flow(**selector))

    async def adelete(self, **selector: Unpack[PointSelector]) -> None:
        """Async twin of :meth:`delete`."""
        await self._arun("delete", self._delete_flow(**selector))

    def collections(self) -> list[str]:
        """Names of the jina_v3 collections in the same database (sorted)."""
        return self._run("collections", self._collections())

    async def acollections(self) -> list[str]:
        """Async twin of :meth:`collections`."""
        return await self._arun("collections", self._collections())

    def clear(self) -> None:
        """Delete every point, keeping the collection and its signature."""
        self._run("clear", self._clear_flow())

    async def aclear(self) -> None:
        """Async twin of :meth:`clear`."""
        await self._arun("clear", self._clear_flow())

    def exists(self) -> bool:
        """Whether the collection exists (a PineconeStore: its index), ours or not."""
        return self._run("exists", self._exists())

    async def aexists(self) -> bool:
        """Async twin of :meth:`exists`."""
        return await self._arun("exists", self._exists())

    def drop_if_empty(self) -> bool:
        """Remove the collection if it holds no point (what a failed first write leaves
        behind; a Pinecone index only when no namespace holds one); True if it was removed."""
        return self._run("drop_if_empty", self._drop_if_empty_flow())

    async def adrop_if_empty(self) -> bool:
        """Async twin of :meth:`drop_if_empty`."""
        return await self._arun("drop_if_empty", self._drop_if_empty_flow())

    def count(self) -> int:
        """Number of points in the collection (0 if there is none)."""
        return self._run("count", self._count_flow())

    async def acount(self) -> int:
        """Async twin of :meth:`count`."""
        return await self._arun("count", self._count_flow())

    def scroll(
        self, cursor: str | None = None, *, limit: int = 256, vectors: bool = True
    ) -> tuple[list[Record], str | None]:
        """One page of at most `limit` stored points in the engine's order, from `cursor`
        (None: the first page), and the next page's cursor (None after the last). Each point
        is the Record that wrote it (the vector empty unless `vectors`; with `vectors`, the
        keyword channel's weights too, where the collection has the channel)."""
        return self._run("scroll", self._scroll_flow(cursor, limit, vectors))

    async def ascroll(
        self, cursor: str | None = None, *, limit: int = 256, vectors: bool = True
    ) -> tuple[list[Record], str | None]:
        """Async twin of :meth:`scroll`."""
        return await self._arun("scroll", self._scroll_flow(cursor, limit, vectors))

    # -- the glue, written once ----------------------------------------------------------------

    def _scroll_flow(
        self, cursor: str | None, limit: int, vectors: bool
    ) -> Flow[tuple[list[Record], str | None]]:
        limit = check_positive("limit", limit)
        if not (yield from self._exists()):
            return [], None
        signature = yield from self._expected()  # ours, and opened (loaded)
        records, following = yield from self._scroll(cursor, limit, vectors)
        if vectors and signature.keywords is not None:  # as the index wrote them
            records = [
                dataclasses.replace(r, keywords=stored_weights(r.keywords, signature.keywords))
                for r in records
            ]
        return records, following

    def _upsert_flow(self, records: Sequence[Record]) -> Flow[None]:
        records = last_versions(records)
        if not records:
            return
        signature = yield from self._expected()
        # every record is checked and converted before the first request: all or nothing
        items = [self._checked_item(r, signature) for r in records]
        sizes = [size for _, size in items]
        for part in pack(sizes, max_items=self.batch_size, max_size=self.max_request_bytes):
            yield from self._write([items[i][0] for i in part], signature)

    def check_record(self, record: Record) -> None:
        """Refuse a record this store cannot hold, naming its document: metadata or text no
        store can hold (ConfigurationError), or over this engine's own limits
        (ConfigurationError or StoreError). Pure: nothing is read or written, so a caller can
        leave such a document out before it touches the store."""
        where = f"document {record.document_id!r}"
        check_metadata(record.metadata, where)
        check_text(record.text, f"text of {where}")
        self._check_record(record, where)

    def _checked_item(self, record: Record, signature: EmbeddingSignature) -> tuple[Any, int]:
        self.check_record(record)
        if signature.keywords is not None and record.keywords is None:
            raise ConfigurationError(
                f"point {record.id}: {self.engine} collection {self.collection!r} has the "
                "keyword channel (hybrid search); pass Record(..., keywords=...) with the "
                "KeywordEncoder's document weights (VectorIndex(..., hybrid=True) does)."
            )
        return self._item(record, self._vector(record.vector, signature))

    def _vector(self, vector: Any, signature: EmbeddingSignature) -> np.ndarray:
        return stored_vector(vector, signature, f"{self.engine} collection {self.collection!r}")

    def _query_flow(self, vector: Any, k: int, filter: Any | None) -> Flow[list[Hit]]:
        k = check_positive("k", k)
        if self.max_k is not None and k > self.max_k:
            raise ConfigurationError(f"k={k} exceeds {self.engine}'s limit of {self.max_k} hits")
        native = self._native_filter(filter)
        signature = yield from self._expected()
        query = self._vector(vector, signature)
        return (yield from self._search(query, k, native, signature))

    def _native_filter(self, filter: Any | None) -> Any:
        if filter is None:
            return None
        if isinstance(filter, Mapping):
            return self._translate(parse_filter(filter))
        if self._is_native_filter(filter):
            return filter  # the engine's own filter: untouched
        raise UnsupportedFilterError(
            f"filter must be a Mongo-style dict or a {self.native_filter_name}, got "
            f"{type(filter).__name__}"
        )

    def _fetch_flow(self, ids: Sequence[str]) -> Flow[list[Hit]]:
        wanted = list(dict.fromkeys(as_str_ids(ids, "ids")))
        if not wanted or not (yield from self._exists()):
            return []
        yield from self._expected()  # the collection is ours, and opened (loaded)
        found: dict[str, Hit] = {}
        for start in range(0, len(wanted), self.delete_batch):
            for hit in (yield from self._fetch(wanted[start : start + self.delete_batch])):
                found[hit.id] = hit
        return [found[i] for i in wanted if i in found]

    def _delete_flow(
        self,
        ids: Sequence[str] | None = None,
        document_ids: Sequence[str] | None = None,
        filter: Any | None = None,
    ) -> Flow[None]:
        point_ids = as_str_ids(ids, "ids")
        doc_ids = as_str_ids(document_ids, "document_ids")
        native = self._native_filter(filter)
        if not (point_ids or doc_ids or filter is not None) or not (yield from self._exists()):
            return
        if native is not None:
            yield from self._delete_matching(native)
        for values, key in ((point_ids, "ids"), (doc_ids, "document_ids")):
            for start in range(0, len(values), self.delete_batch):
                yield from self._delete(**{key: values[start : start + self.delete_batch]})

    def _drop_if_empty_flow(self) -> Flow[bool]:
        if not (yield from self._exists()) or (yield from self._foreign_points()):
            return False
        yield from self._drop()
        self._signature = None
        return True

    def _clear_flow(self) -> Flow[None]:
        signature = yield from self._expected()
        yield from self._drop()
        yield from self._create(signature)

    def _count_flow(self) -> Flow[int]:
        if not (yield from self._exists()):
            return 0
        return int((yield from self._count()))

    # -- engine hooks ------------------------------------------------------------------------

    @abstractmethod
    def _exists(self) -> Flow[bool]:
        """Whether the collection exists."""

    @abstractmethod
    def _describe(self) -> Flow[Described]:
        """What the existing collection says about itself."""

    @abstractmethod
    def _create(self, signature: EmbeddingSignature) -> Flow[None]:
        """Make the collection, with `signature` stored."""

    @abstractmethod
    def _drop(self) -> Flow[None]:
        """Remove the collection and its data."""

    def _opened(self) -> Flow[None]:
        """Called once an existing collection is found usable (e.g. to load it)."""
        return
        yield  # pragma: no cover

    def _can_remake(self) -> bool:
        """Whether this store may drop and create its collection (a store that could not
        create it again must never drop it)."""
        return True

    def _adopt(self, signature: EmbeddingSignature) -> Flow[None]:
        raise SignatureMismatchError(
            f"{self.engine} collection {self.collection!r} exists but was not created by "
            f"jina_v3 (it has no embedding signature). Fix: {REBUILD_FIX}."
        )
        yield  # pragma: no cover

    def _check_record(self, record: Record, where: str) -> None:
        """Raise if the engine cannot hold `record` (`where` names its document)."""

    def _item(self, record: Record, vector: np.ndarray) -> tuple[Any, int]:
        """One record as the engine writes it, and its size for the request packer."""
        return (record, vector), 1

    @abstractmethod
    def _write(self, items: list[Any], signature: EmbeddingSignature) -> Flow[None]:
        """Write one request of engine items (from :meth:`_item`)."""

    @abstractmethod
    def _search(
        self, vector: np.ndarray, k: int, native: Any, signature: EmbeddingSignature
    ) -> Flow[list[Hit]]:
        """The `k` nearest points to `vector` that match the native filter."""

    @abstractmethod
    def _fetch(self, ids: list[str]) -> Flow[list[Hit]]:
        """The stored points among `ids` (one request)."""

    def _scroll(
        self, cursor: str | None, limit: int, vectors: bool
    ) -> Flow[tuple[list[Record], str | None]]:
        """One page of points from `cursor` and the next cursor (see :meth:`scroll`)."""
        raise StoreError(f"{self.engine} stores cannot list their points")
        yield  # pragma: no cover

    @abstractmethod
    def _delete(self, *, ids: list[str] = (), document_ids: list[str] = ()) -> Flow[None]:  # type: ignore[assignment]
        """Delete these points, or all points of these documents (one request)."""

    @abstractmethod
    def _delete_matching(self, native: Any) -> Flow[None]:
        """Delete every point that matches the native filter."""

    @abstractmethod
    def _collections(self) -> Flow[list[str]]:
        """The jina_v3 collections in the same database."""

    @abstractmethod
    def _count(self) -> Flow[int]:
        """Points in the collection."""

    def _foreign_points(self) -> Flow[int]:
        """Points in a collection without a signature (only an empty one is adopted)."""
        return (yield from self._count())

    def _translate(self, tree: FilterNode) -> Any:
        raise NotImplementedError

    def _is_native_filter(self, filter: Any) -> bool:
        return False
