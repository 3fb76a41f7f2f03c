"""What `QdrantStore` and `QdrantEdgeStore` share: the two differ only where their clients do.

Written once here: the layout of a collection (the dense vector, named ``full`` where it has
company; the funnel's Matryoshka prefix, ``funnel``; the keyword channel's sparse vector,
``keywords``, with the IDF kept by the engine; payload indexes; binary quantization), the
searches on it (dense, funnel-then-rescore, keywords, fused), the vectors a write sends and
the points a scroll reads back. A store implements the rest of BaseStore's engine hooks and
its client's vocabulary:

    _dense_name()                      the dense vector's name (None: the unnamed one)
    _nearest(vector, using)            a nearest-neighbour query on one named vector
    _prefetch(query, limit, native)    a candidate stage of a query
    _fusion(k)                         the engine's reciprocal-rank fusion (k counted from 0)
    _query(query, k, native, prefetch=, rescore=) -> points   one query request
    _sparse(keywords)                  a sparse vector in the client's type
    _filter_models()                   the client's filter classes (:class:`FilterModels`)
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jina_v3._flow import Flow
from jina_v3.connectors.base.common import LAYOUT_KEY, SIGNATURE_KEY
from jina_v3.connectors.base.keywords import KeywordChannel, prefetch_limit
from jina_v3.connectors.base.store import BaseStore
from jina_v3.connectors.qdrant.filters import FilterModels, check_payload_indexes
from jina_v3.index.filters import FilterNode
from jina_v3.index.keywords import SparseVector, rrf_max
from jina_v3.index.store import (
    DOCUMENT_ID_KEY,
    NO_VECTOR,
    EmbeddingSignature,
    Hit,
    Record,
    hit_from_payload,
    prefix_vectors,
    record_from_payload,
)

#: The names of a collection's vectors: the dense one, the funnel's prefix, the keyword channel.
FULL, FUNNEL, KEYWORDS = "full", "funnel", "keywords"


class QdrantFamilyStore(KeywordChannel, BaseStore):
    """The base of the Qdrant-family stores (see the module docstring for its hooks)."""

    def _set_layout(
        self,
        funnel_dimensions: int | None,
        funnel_oversample: int,
        binary_quantization: bool,
        payload_indexes: Mapping[str, str] | None,
    ) -> None:
        """The layout options both stores take (checked; see the stores' Args)."""
        self._set_funnel(funnel_dimensions, funnel_oversample)
        self.binary_quantization = bool(binary_quantization)
        self.payload_indexes = check_payload_indexes(payload_indexes)

    @abstractmethod
    def _where(self) -> str:
        """Where the collection lives, for the repr (``path='...'``)."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(collection={self.collection!r}, {self._where()}, "
            f"funnel_dimensions={self.funnel_dimensions})"
        )

    # -- the layout ------------------------------------------------------------------------------

    def _stored_settings(self, signature: EmbeddingSignature) -> dict[str, Any]:
        """What a new collection records beside its points: the signature and the layout."""
        layout = {
            "funnel_dimensions": self.funnel_dimensions,
            "binary_quantization": self.binary_quantization,
            "payload_indexes": self.payload_indexes,
        }
        return {SIGNATURE_KEY: signature.to_dict(), LAYOUT_KEY: layout}

    def _indexed_fields(self) -> dict[str, str]:
        """Payload fields indexed when the collection is made (``document_id``: deletes by
        document), by index type."""
        return {DOCUMENT_ID_KEY: "keyword", **self.payload_indexes}

    def _dense_columns(self, items: Sequence[tuple[Record, np.ndarray]]) -> dict[str, list]:
        """One write's dense vectors by vector name (``""``: the unnamed one), in item order."""
        vectors = np.stack([vector for _, vector in items])
        columns = {self._dense_name() or "": vectors.tolist()}
        if self.funnel_dimensions is not None:
            columns[FUNNEL] = prefix_vectors(vectors, self.funnel_dimensions).tolist()
        return columns

    def _page(
        self, points: Sequence[Any], following: Any, vectors: bool
    ) -> tuple[list[Record], str | None]:
        """A scrolled page as Records, and the next page's cursor."""
        records = [
            record_from_payload(
                p.id,
                full_vector(p.vector) if vectors else NO_VECTOR,
                p.payload or {},
                keywords=stored_keywords(p.vector) if vectors else None,
            )
            for p in points
        ]
        return records, None if following is None else str(following)

    def _document_filter(self, document_ids: Sequence[str]) -> Any:
        """The native filter matching every point of these documents."""
        models = self._filter_models()
        return models.filter(must=[models.match_any(DOCUMENT_ID_KEY, list(document_ids))])

    # -- searches ----------------------------------------------------------------------------------

    def _search(
        self, vector: np.ndarray, k: int, native: Any, signature: EmbeddingSignature
    ) -> Flow[list[Hit]]:
        prefetch = None
        if self.funnel_dimensions is not None:  # candidates on the prefix, rescored in full
            coarse = prefix_vectors(vector, self.funnel_dimensions).tolist()
            limit = k * self.funnel_oversample
            prefetch = [self._prefetch(self._nearest(coarse, FUNNEL), limit, native)]
        query = self._nearest(vector.tolist(), self._dense_name())
        rescore = self.binary_quantization
        return hits((yield from self._query(query, k, native, prefetch=prefetch, rescore=rescore)))

    def _search_keywords(self, keywords: SparseVector, k: int, native: Any) -> Flow[list[Hit]]:
        query = self._nearest(self._sparse(keywords), KEYWORDS)
        return hits((yield from self._query(query, k, native)))

    def _search_fused(
        self, vector: np.ndarray, keywords: SparseVector, k: int, native: Any, rrf_k: int
    ) -> Flow[list[Hit]]:
        limit = prefetch_limit(k)
        dense = self._nearest(vector.tolist(), self._dense_name())
        prefetch = [self._prefetch(dense, limit, native)]
        if len(keywords):
            sparse = self._nearest(self._sparse(keywords), KEYWORDS)
            prefetch.append(self._prefetch(sparse, limit, native))
        fusion = self._fusion(rrf_k + 1)  # Qdrant counts positions from 0
        points = yield from self._query(fusion, k, native, prefetch=prefetch)
        return hits(points, best=rrf_max(rrf_k))

    # -- filters -----------------------------------------------------------------------------------

    def _translate(self, tree: FilterNode) -> Any:
        return self._filter_models().translate(tree)

    def _is_native_filter(self, filter: Any) -> bool:
        return self._filter_models().is_filter(filter)

    # -- the client's vocabulary -------------------------------------------------------------------

    @abstractmethod
    def _dense_name(self) -> str | None:
        """The dense vector's name (None: the collection's one unnamed vector)."""

    @abstractmethod
    def _nearest(self, vector: Any, using: str | None) -> Any:
        """A nearest-neighbour query for `vector` (a list, or a sparse vector from
        :meth:`_sparse`) on the vector named `using`."""

    @abstractmethod
    def _prefetch(self, query: Any, limit: int, native: Any) -> Any:
        """A candidate stage: the `limit` best points for `query` that match `native`."""

    @abstractmethod
    def _fusion(self, k: int) -> Any:
        """The engine's reciprocal-rank fusion of the prefetched stages, with its `k`."""

    @abstractmethod
    def _query(
        self, query: Any, k: int, native: Any, prefetch: list | None = None, rescore: bool = False
    ) -> Flow[list[Any]]:
        """One query request: the `k` best points (with payload) that match `native`, from the
        `prefetch` stages' candidates if any, binary quantized ones rescored if `rescore`."""

    @abstractmethod
    def _sparse(self, keywords: SparseVector) -> Any:
        """`keywords` as the client's sparse vector."""

    @abstractmethod
    def _filter_models(self) -> FilterModels:
        """The client's filter classes."""


def hits(points: Sequence[Any], *, best: float = 1.0) -> list[Hit]:
    """Scored points as Hits, scores divided by `best` (a fusion's highest possible score)."""
    return [hit_from_payload(p.id, p.score / best, p.payload or {}) for p in points]


def full_vector(vector: Any) -> np.ndarray:
    """The dense vector of a scrolled point: named ``full`` with a funnel (and always on Edge),
    the unnamed ``""`` beside the keyword channel (qdrant-client), a bare list otherwise."""
    if isinstance(vector, Mapping):
        vector = vector[FULL] if FULL in vector else vector[""]
    return np.asarray(vector, dtype=np.float32)


def stored_keywords(vector: Any) -> SparseVector | None:
    """The keyword channel's weights of a scrolled point (None: no channel, or no terms)."""
    sparse = vector.get(KEYWORDS) if isinstance(vector, Mapping) else None
    if sparse is None:
        return None
    return SparseVector(tuple(sparse.indices), tuple(float(v) for v in sparse.values))
