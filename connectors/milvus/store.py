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

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from jina_v3._flow import Call, Flow
from jina_v3.connectors.base.common import SIGNATURE_KEY, require
from jina_v3.connectors.base.keywords import KeywordChannel, fuse_hits, prefetch_limit
from jina_v3.connectors.base.store import BaseStore, Described, client
from jina_v3.connectors.milvus.filters import (
    list_literal,
    literal,
    needs_exact_check,
    to_expression,
)
from jina_v3.connectors.milvus.keywords import (
    BM25_SEARCH,
    KEYWORDS,
    TERMS,
    bm25_score,
    hybrid_requests,
    rrf_ranker,
    terms_text,
    terms_weights,
)
from jina_v3.connectors.milvus.lite import open_lite, release_lite
from jina_v3.connectors.milvus.rows import (
    cut_text,
    first_result,
    hit_payload,
    row_hit,
    stored_vector_of,
)
from jina_v3.connectors.milvus.schema import (
    MAX_VARCHAR_BYTES,
    collection_schema,
    create_hint,
    described,
)
from jina_v3.errors import ConfigurationError, StoreError, UnsupportedFilterError
from jina_v3.index.filters import FilterNode, matches
from jina_v3.index.keywords import SparseVector, rrf_max
from jina_v3.index.store import (
    NO_VECTOR,
    EmbeddingSignature,
    Hit,
    Record,
    prefix_vectors,
    record_from_payload,
)

__all__ = ["MilvusStore", "to_expression"]

logger = logging.getLogger(__name__)

#: Rows and (estimated) bytes per insert request; the server's gRPC limit is 64 MB.
DEFAULT_BATCH_SIZE = 1000
MAX_REQUEST_BYTES = 16 * 1024 * 1024

_OUTPUT_FIELDS = ["text", "document_id", "chunk_index", "metadata"]
#: Connection attempts before a server that refuses connections is an error.
_CONNECT_ATTEMPTS = 3


class MilvusStore(KeywordChannel, BaseStore):
    """One Milvus collection as a :class:`~jina_v3.store.VectorStore`.

    Example:
        >>> from jina_v3 import Document, Embedder, VectorIndex
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

    engine = "Milvus"
    embedding_types = ("float", "ubinary")
    native_filter_name = "Milvus expression string"
    max_k = 16_384

    @property
    def max_request_bytes(self) -> int:  # type: ignore[override]
        return MAX_REQUEST_BYTES  # read at call time: tests lower it

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
        super().__init__(collection, batch_size)
        self._set_funnel(funnel_dimensions, funnel_candidates)
        self._funnel_asked = funnel_dimensions is not None
        if consistency_level not in ("Strong", "Bounded", "Session", "Eventually"):
            raise ConfigurationError(
                "consistency_level must be one of 'Strong', 'Bounded', 'Session', 'Eventually'; "
                f"got {consistency_level!r}"
            )
        if client is None:
            require("pymilvus", "milvus", "pymilvus")  # a missing extra fails here, not later
        self._uri = os.fspath(uri)
        self._token = token
        self._client = client
        self._owns_client = client is None
        self._index_params = dict(index_params or {})
        self._search_params = dict(search_params or {})
        self._consistency = consistency_level
        self._timeout = timeout
        self._lite_path: str | None = None
        # the keyword channel: Milvus Lite's BM25 function (a server needs 2.5+: not wired yet)
        self.keyword_channel = client is None and self._uri.endswith(".db")

    def __repr__(self) -> str:
        where = "client" if not self._owns_client else self._uri
        return f"MilvusStore(collection={self.collection!r}, uri={where!r})"

    # -- connection --------------------------------------------------------------------------

    def _connect(self) -> Any:
        pymilvus = require("pymilvus", "milvus", "pymilvus")
        kwargs: dict[str, Any] = {"uri": self._uri}
        if self._token:
            kwargs["token"] = self._token
        if self._timeout is not None:
            kwargs["timeout"] = self._timeout
        if not self._uri.endswith(".db"):
            return self._connect_server(pymilvus, kwargs)
        made = open_lite(pymilvus, kwargs)
        self._lite_path = os.path.abspath(self._uri)
        return made

    @staticmethod
    def _connect_server(pymilvus: Any, kwargs: dict[str, Any]) -> Any:
        for attempt in range(_CONNECT_ATTEMPTS):  # a busy or starting server: try again
            try:
                return pymilvus.MilvusClient(**kwargs)
            except pymilvus.MilvusException as exc:
                if attempt + 1 == _CONNECT_ATTEMPTS or "connect" not in str(exc).lower():
                    raise
                time.sleep(1.0 + attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _close_clients(self) -> None:
        """Close the client if this store created it (and free a Milvus Lite data path).

        With Milvus Lite this waits for the engine's background indexing of recent writes
        (tens of seconds after a bulk insert of tens of thousands of points).
        """
        if self._owns_client and self._client is not None:
            try:
                self._client.close()
            except Exception:  # closing is best effort
                logger.debug("closing the Milvus client failed", exc_info=True)
            path, self._lite_path = self._lite_path, None
            if path is not None:
                release_lite(path)
        self._client = None

    @contextmanager
    def _guard(self, operation: str, call: Call) -> Iterator[None]:
        # pymilvus logs a full ERROR traceback before raising; we raise a clear StoreError
        engine_log = logging.getLogger("pymilvus")
        level = engine_log.level
        engine_log.setLevel(logging.CRITICAL)
        try:
            with super()._guard(operation, call):
                yield
        finally:
            engine_log.setLevel(level)

    # -- engine hooks ------------------------------------------------------------------------

    def _opened(self) -> Flow[None]:
        yield client("load_collection", self.collection)  # searched only once loaded

    def _exists(self) -> Flow[bool]:
        return bool((yield client("has_collection", self.collection)))

    def _describe(self) -> Flow[Described]:
        info = yield client("describe_collection", self.collection)
        return described(info, self.collection)

    def _create(self, signature: EmbeddingSignature) -> Flow[None]:
        binary = signature.embedding_type == "ubinary"
        schema, index_params, properties = collection_schema(
            self.client, signature, self.funnel_dimensions, self._index_params
        )
        try:
            yield client(
                "create_collection",
                self.collection,
                schema=schema,
                index_params=index_params,
                consistency_level=self._consistency,
                properties=properties,
            )
        except StoreError as exc:
            message = str(exc.__cause__ or exc)
            if "multiple vector fields" in message and not self._funnel_asked:
                # a funnel carried from a copy's source, which this server (Milvus < 2.4)
                # cannot keep: the copy goes without it, as onto any engine without one
                logger.info("this Milvus server keeps one vector field: no funnel vector")
                self._set_funnel(None, self.funnel_oversample)
                yield from self._create(signature)
                return
            hint = create_hint(message, binary, self.funnel_dimensions)
            raise StoreError(f"{exc}.{hint}") from exc.__cause__

    def _drop(self) -> Flow[None]:
        yield client("drop_collection", self.collection)

    def _check_record(self, record: Record, where: str) -> None:
        size = len(record.document_id.encode("utf-8"))
        if size > MAX_VARCHAR_BYTES:  # the text is cut to fit; an id cannot be
            raise ConfigurationError(
                f"the id of {where[:80]}... is {size} bytes; Milvus holds at most "
                f"{MAX_VARCHAR_BYTES}. Use a shorter document id."
            )

    def _item(self, record: Record, vector: np.ndarray) -> tuple[Any, int]:
        row = {
            "id": record.id,
            "vector": vector.tobytes() if vector.dtype == np.uint8 else vector,
            "text": cut_text(record.text, record.id),
            "document_id": record.document_id,
            "chunk_index": -1 if record.chunk_index is None else int(record.chunk_index),
            "metadata": dict(record.metadata),
        }
        if self.funnel_dimensions is not None:
            row["funnel"] = prefix_vectors(vector, self.funnel_dimensions)
        if self._signature is not None and self._signature.keywords is not None:
            row[TERMS] = terms_text(record.keywords, MAX_VARCHAR_BYTES)
        # an estimate, generous for the vector, exact enough for the rest
        size = (
            8 * vector.size
            + 4 * len(record.text)
            + len(row.get(TERMS, ""))
            + 200
            + len(record.document_id)
            + sum(32 + 4 * len(v) if isinstance(v, str) else 32 for v in record.metadata.values())
        )
        return row, size

    def _write(self, items: list[Any], signature: EmbeddingSignature) -> Flow[None]:
        yield client("upsert", self.collection, items)

    def _search(
        self, vector: np.ndarray, k: int, native: Any, signature: EmbeddingSignature
    ) -> Flow[list[Hit]]:
        return (
            yield from self._filtered(
                lambda limit, expr: self._search_once(vector, limit, expr, signature), k, native
            )
        )

    def _filtered(
        self, search: Callable[[int, str], Flow[list[Hit]]], k: int, native: Any
    ) -> Flow[list[Hit]]:
        """`search(limit, expression)` under the native filter, narrowed where needed."""
        if not isinstance(native, _Narrowed):
            return (yield from search(k, native or ""))
        # the loose expression may match more than the filter: ask for more until k remain
        limit = k
        while True:
            hits = yield from search(limit, native.expression)
            kept = [h for h in hits if matches(native.tree, hit_payload(h))]
            if len(kept) >= k or len(hits) < limit or limit >= (self.max_k or limit):
                return kept[:k]
            limit = min(limit * 4, self.max_k or limit * 4)

    def _search_once(
        self, vector: np.ndarray, k: int, expression: str, signature: EmbeddingSignature
    ) -> Flow[list[Hit]]:
        if signature.embedding_type == "ubinary":
            params = {"metric_type": "HAMMING", "params": self._search_params}
            hits = first_result(
                (yield self._search_call("vector", vector.tobytes(), k, expression, params))
            )
            return [row_hit(h, 1.0 - float(h["distance"]) / signature.dimensions) for h in hits]
        params = {"metric_type": "COSINE", "params": self._search_params}
        if self.funnel_dimensions is None:
            hits = first_result(
                (yield self._search_call("vector", vector.tolist(), k, expression, params))
            )
            return [row_hit(h, float(h["distance"])) for h in hits]
        # funnel: a coarse pass on the prefix field, then an exact rescore on the full vectors
        coarse = prefix_vectors(vector, self.funnel_dimensions).tolist()
        candidates = first_result(
            (
                yield self._search_call(
                    "funnel", coarse, k * self.funnel_oversample, expression, params, ["vector"]
                )
            )
        )
        if not candidates:
            return []
        full = np.asarray([c["entity"]["vector"] for c in candidates], dtype=np.float32)
        full /= np.maximum(np.linalg.norm(full, axis=1, keepdims=True), 1e-12)
        scores = full @ (vector / max(float(np.linalg.norm(vector)), 1e-12))
        order = np.argsort(-scores, kind="stable")[:k]
        return [row_hit(candidates[i], float(scores[i])) for i in order]

    def _search_keywords(self, keywords: SparseVector, k: int, native: Any) -> Flow[list[Hit]]:
        def once(limit: int, expression: str) -> Flow[list[Hit]]:
            text = keywords.as_text()
            raw = yield self._search_call(KEYWORDS, text, limit, expression, BM25_SEARCH)
            return [row_hit(h, bm25_score(h["distance"])) for h in first_result(raw)]

        return (yield from self._filtered(once, k, native))

    def _search_fused(
        self, vector: np.ndarray, keywords: SparseVector, k: int, native: Any, rrf_k: int
    ) -> Flow[list[Hit]]:
        signature = self._signature
        assert signature is not None
        if isinstance(native, _Narrowed) or self.funnel_dimensions is not None or not keywords:
            # the filter needs narrowing, or the dense side is a funnel: fuse here
            limit = prefetch_limit(k)
            dense = yield from self._search(vector, limit, native, signature)
            sparse = []
            if keywords:
                sparse = yield from self._search_keywords(keywords, limit, native)
            return fuse_hits([dense, sparse], weights=(1.0, 1.0), rrf_k=rrf_k, k=k)
        limit, expression = prefetch_limit(k), native or ""
        requests = hybrid_requests(vector, keywords, limit, expression, self._search_params)
        raw = yield client(
            "hybrid_search",
            self.collection,
            requests,
            ranker=rrf_ranker(rrf_k),
            limit=k,
            output_fields=_OUTPUT_FIELDS,
            consistency_level=self._consistency,
        )
        best = rrf_max(rrf_k)
        return [row_hit(h, float(h["distance"]) / best) for h in first_result(raw)]

    def _search_call(
        self,
        field: str,
        data: Any,
        limit: int,
        expression: str,
        params: Mapping[str, Any],
        extra_fields: tuple[str, ...] | list[str] = (),
    ) -> Call:
        return client(
            "search",
            self.collection,
            data=[data],
            anns_field=field,
            limit=min(limit, self.max_k or limit),
            filter=expression,
            search_params=dict(params),
            output_fields=[*_OUTPUT_FIELDS, *extra_fields],
            consistency_level=self._consistency,
        )

    def _fetch(self, ids: list[str]) -> Flow[list[Hit]]:
        rows = yield client("get", self.collection, ids=ids, output_fields=_OUTPUT_FIELDS)
        return [row_hit({"id": row["id"], "entity": row}, 1.0) for row in rows]

    def _scroll(
        self, cursor: str | None, limit: int, vectors: bool
    ) -> Flow[tuple[list, str | None]]:
        # pages in primary-key order, as pymilvus' own query iterator asks for them
        keywords = self._signature.keywords if vectors and self._signature else None
        fields = [*_OUTPUT_FIELDS, "vector"] if vectors else _OUTPUT_FIELDS
        rows = yield client(
            "query",
            self.collection,
            filter=f"id > {literal(cursor or '')}",
            limit=limit,
            output_fields=fields if keywords is None else [*fields, TERMS],
            iterator="True",
            reduce_stop_for_best="True",
            consistency_level=self._consistency,
        )
        records = [
            record_from_payload(
                row["id"],
                stored_vector_of(row["vector"]) if vectors else NO_VECTOR,
                {**(row.get("metadata") or {}), **{k: row.get(k) for k in _OUTPUT_FIELDS[:3]}},
                keywords=None if keywords is None else terms_weights(row.get(TERMS), keywords),
            )
            for row in rows
        ]
        return records, records[-1].id if len(records) == limit else None

    def _delete(self, *, ids: list[str] = (), document_ids: list[str] = ()) -> Flow[None]:  # type: ignore[assignment]
        field, values = ("id", ids) if ids else ("document_id", document_ids)
        yield client("delete", self.collection, filter=f"{field} in {list_literal(list(values))}")

    def _delete_matching(self, native: Any) -> Flow[None]:
        if isinstance(native, _Narrowed):
            raise UnsupportedFilterError(
                "Milvus compares JSON booleans as numbers, so a delete filter on a number or a "
                "boolean in metadata could remove other points: filter on strings, or pass a "
                "native Milvus expression"
            )
        yield client("delete", self.collection, filter=native)

    def _collections(self) -> Flow[list[str]]:
        names = []
        for name in (yield client("list_collections")):  # only those carrying a signature
            info = yield client("describe_collection", name)
            if (info.get("properties") or {}).get(SIGNATURE_KEY):
                names.append(name)
        return sorted(names)

    def _count(self) -> Flow[int]:
        rows = yield client("query", self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def _translate(self, tree: FilterNode) -> Any:
        if needs_exact_check(tree):  # Milvus reads true as 1: narrow its answer afterwards
            return _Narrowed(to_expression(tree, loose=True), tree)
        return to_expression(tree)

    def _is_native_filter(self, filter: Any) -> bool:
        return isinstance(filter, str)  # a Milvus expression, passed through untouched


# -- helpers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Narrowed:
    """A loose Milvus expression and the filter its hits must still pass."""

    expression: str
    tree: FilterNode
