"""The keyword channel on Pinecone: sparse-dense records in a ``dotproduct`` index, with the
BM25 statistics the collection keeps itself (Pinecone has no IDF on the server).

Each point carries its BM25 document weights (:mod:`jina_v3.index.keywords`) as
``sparse_values`` beside its dense ``values``, stored at unit length so that the dotproduct
metric ranks the dense channel by cosine. The statistics live in a companion namespace,
``<namespace>#jina_v3_bm25``: one record per 1000 token ids whose sparse values are those
terms' document frequencies, and one record whose metadata holds the number of points. Every
write and delete through this library updates them from what the touched points held before
to what they hold after, by id (each point counts once, its last version): an overwrite reads
the point's old terms first, a delete reads the deleted points' terms. A keyword query reads
its terms' frequencies and sends ``idf(term)`` as its sparse weights, so the sparse dot
product is BM25; the dense half of that query is zero. A query with more distinct terms in
the collection than a sparse vector holds (``MAX_SPARSE_VALUES``: a pasted passage) is
searched with its highest-IDF ones. Hybrid queries are fused here from both channels' own
results (Pinecone has no rank fusion), with the one :func:`~jina_v3.index.keywords.fuse`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from jina_v3._flow import Flow
from jina_v3.connectors.base.keywords import KeywordChannel, fuse_hits, prefetch_limit
from jina_v3.connectors.base.store import client
from jina_v3.index.keywords import SparseVector, bm25_idf
from jina_v3.index.store import Hit, hit_from_payload

logger = logging.getLogger("jina_v3.connectors.pinecone")

#: The metric of an index with the keyword channel (Pinecone's sparse-dense vectors need it).
HYBRID_METRIC = "dotproduct"
#: Pinecone's limit on the non-zero values of a sparse vector (a record's, and a query's).
MAX_SPARSE_VALUES = 1000
STATS_SUFFIX = "#jina_v3_bm25"
_SHARD = 1000  # token ids per statistics record: at most MAX_SPARSE_VALUES frequencies
_COUNT_ID = "documents"
_STATS_PER_REQUEST = 40  # statistics records of <= ~20 KB each: well under 2 MB a request
_IDS_PER_QUERY = 1000  # matches per query while collecting the points a filter deletes


def stats_namespace(namespace: str) -> str:
    """Where the statistics of the collection in `namespace` live."""
    return namespace + STATS_SUFFIX


def unit(vector: np.ndarray) -> np.ndarray:
    """`vector` at length 1: the dotproduct metric then ranks by cosine."""
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def sparse_values(keywords: SparseVector | None, point: str) -> dict[str, list] | None:
    """A point's document weights as Pinecone's ``sparse_values`` (None without terms): the
    ``MAX_SPARSE_VALUES`` heaviest terms of a longer text, with a warning naming the point."""
    if keywords is None or not len(keywords):
        return None
    indices, values = list(keywords.indices), list(keywords.values)
    if len(indices) > MAX_SPARSE_VALUES:
        keep = _heaviest(values)
        logger.warning(
            "point %s has %d distinct terms; Pinecone keeps %d: its keyword channel holds "
            "the heaviest ones (use shorter chunks to keep them all)",
            point,
            len(indices),
            MAX_SPARSE_VALUES,
        )
        indices, values = [indices[i] for i in keep], [values[i] for i in keep]
    return {"indices": indices, "values": values}


def _heaviest(weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """The positions of the ``MAX_SPARSE_VALUES`` largest weights, in their order (equal
    weights: the earlier first)."""
    return np.sort(np.argsort(-np.asarray(weights), kind="stable")[:MAX_SPARSE_VALUES])


def stored_sparse(vector: Any) -> SparseVector | None:
    """A fetched record's keyword weights (None: no sparse values)."""
    sparse = getattr(vector, "sparse_values", None)
    if sparse is None:
        return None
    return SparseVector(tuple(int(i) for i in sparse.indices), tuple(map(float, sparse.values)))


def _shard(term: int) -> str:
    return f"df-{term // _SHARD}"


def _terms(vector: Any) -> tuple[int, ...]:
    sparse = getattr(vector, "sparse_values", None)
    return tuple(int(i) for i in sparse.indices) if sparse is not None else ()


class PineconeKeywords(KeywordChannel):
    """The keyword channel of :class:`~jina_v3.connectors.pinecone.PineconeStore`: the
    statistics' upkeep on writes and deletes, and the two search hooks."""

    namespace: str
    delete_batch: int

    def _dimensions(self) -> int:
        return self._signature.dimensions  # type: ignore[attr-defined]

    # -- statistics --------------------------------------------------------------------------

    def _stored_terms(self, ids: Sequence[str]) -> Flow[dict[str, tuple[int, ...]]]:
        """The terms of the stored points among `ids`, by id (missing ones left out)."""
        unique = list(dict.fromkeys(ids))
        found: dict[str, tuple[int, ...]] = {}
        for start in range(0, len(unique), self.delete_batch):
            result = yield client("fetch", unique[start : start + self.delete_batch])
            found.update((key, _terms(v)) for key, v in (result.vectors or {}).items())
        return found

    def _statistics(self, terms: Iterable[int]) -> Flow[tuple[int, dict[int, int]]]:
        """The number of points and the document frequencies of every term in the
        statistics records that hold `terms`."""
        ids = [_COUNT_ID, *sorted({_shard(t) for t in terms})]
        namespace = stats_namespace(self.namespace)
        documents, frequencies = 0, {}
        for start in range(0, len(ids), self.delete_batch):
            result = yield client("fetch", ids[start : start + self.delete_batch], namespace)
            for key, vector in (result.vectors or {}).items():
                if key == _COUNT_ID:
                    documents = int((vector.metadata or {}).get("count", 0))
                elif vector.sparse_values is not None:
                    sparse = vector.sparse_values
                    frequencies.update(
                        (int(t), round(v))
                        for t, v in zip(sparse.indices, sparse.values, strict=True)
                    )
        return documents, frequencies

    def _count_terms(
        self, before: Mapping[str, Sequence[int]], after: Mapping[str, Sequence[int]]
    ) -> Flow[None]:
        """Update the statistics: the points a write or delete touched held the terms
        `before` and hold those `after` (by id, so each point counts once; a deleted point
        is in `before` only)."""
        delta: Counter[int] = Counter(t for terms in after.values() for t in terms)
        delta.subtract(t for terms in before.values() for t in terms)
        changed = {t: d for t, d in delta.items() if d}
        points = len(after.keys() - before.keys()) - len(before.keys() - after.keys())
        if not changed and not points:
            return
        documents, frequencies = yield from self._statistics(changed)
        for term, d in changed.items():
            frequencies[term] = max(frequencies.get(term, 0) + d, 0)
        shards: dict[str, list[int]] = {_shard(t): [] for t in changed}
        for term in sorted(frequencies):
            if frequencies[term] and _shard(term) in shards:
                shards[_shard(term)].append(term)
        basis = [1.0] + [0.0] * (self._dimensions() - 1)  # Pinecone stores no zero vector
        count = max(documents + points, 0)
        records: list[dict[str, Any]] = [
            {"id": _COUNT_ID, "values": basis, "metadata": {"count": count}}
        ]
        for key, terms in shards.items():
            record: dict[str, Any] = {"id": key, "values": basis}
            if terms:
                values = [float(frequencies[t]) for t in terms]
                record["sparse_values"] = {"indices": terms, "values": values}
            records.append(record)
        for start in range(0, len(records), _STATS_PER_REQUEST):
            batch = records[start : start + _STATS_PER_REQUEST]
            yield client("upsert", batch, stats_namespace(self.namespace))

    # -- writes and deletes ------------------------------------------------------------------

    def _write_counted(self, items: list[dict[str, Any]]) -> Flow[None]:
        """Upsert points and count their terms in (an overwritten point's old ones out)."""
        latest = {item["id"]: item for item in items}  # an id given twice: its last version
        before = yield from self._stored_terms(list(latest))
        yield client("upsert", list(latest.values()))
        after = {
            key: tuple(item.get("sparse_values", {}).get("indices", ()))
            for key, item in latest.items()
        }
        yield from self._count_terms(before, after)

    def _delete_counted(self, ids: Sequence[str]) -> Flow[None]:
        """Delete points by id and count their terms out."""
        before = yield from self._stored_terms(ids)
        yield client("delete", ids=list(ids))
        yield from self._count_terms(before, {})

    def _delete_matching_counted(self, native: Any) -> Flow[None]:
        """Delete the points that match a filter, their terms counted out: Pinecone lists
        points by id prefix only, so queries find them."""
        basis = [1.0] + [0.0] * (self._dimensions() - 1)
        seen: set[str] = set()
        while True:
            result = yield client(
                "query", vector=basis, top_k=_IDS_PER_QUERY, filter=native, include_metadata=False
            )
            ids = [m.id for m in result.matches if m.id not in seen]
            if not ids:
                return
            seen.update(ids)
            yield from self._delete_counted(ids)

    # -- search hooks ------------------------------------------------------------------------

    def _search_keywords(self, keywords: SparseVector, k: int, native: Any) -> Flow[list[Hit]]:
        documents, frequencies = yield from self._statistics(keywords.indices)
        present = [
            (t, w)
            for t, w in zip(keywords.indices, keywords.values, strict=True)
            if frequencies.get(t)
        ]
        if not present:
            return []  # no document holds a term of the query
        df = np.array([frequencies[t] for t, _ in present])
        weights = bm25_idf(df, documents) * np.array([w for _, w in present])
        terms = [t for t, _ in present]
        if len(terms) > MAX_SPARSE_VALUES:  # Pinecone answers a longer sparse vector with 400
            # the heaviest IDF x query weight: the highest IDF (the encoder's weights are 1.0)
            keep = _heaviest(weights)
            logger.info(
                "keyword query has %d distinct terms in the collection; Pinecone takes %d: "
                "searching with the rarest (highest IDF)",
                len(terms),
                MAX_SPARSE_VALUES,
            )
            terms, weights = [terms[i] for i in keep], weights[keep]
        result = yield client(
            "query",
            vector=[0.0] * self._dimensions(),
            sparse_vector={"indices": terms, "values": weights.tolist()},
            top_k=k,
            filter=native,
        )
        return [
            hit_from_payload(m.id, float(m.score), dict(m.metadata or {}))
            for m in result.matches
            if m.score > 0  # a point without a query term scores 0
        ]

    def _search_fused(
        self, vector: np.ndarray, keywords: SparseVector, k: int, native: Any, rrf_k: int
    ) -> Flow[list[Hit]]:
        limit = prefetch_limit(k)
        dense = yield from self._search(vector, limit, native, self._signature)  # type: ignore[attr-defined]
        sparse = (
            (yield from self._search_keywords(keywords, limit, native)) if len(keywords) else []
        )
        return fuse_hits([dense, sparse], weights=(1.0, 1.0), rrf_k=rrf_k, k=k)
