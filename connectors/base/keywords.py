"""The keyword channel of a store (hybrid search), for engines that keep it: the public
``query_keywords`` / ``query_hybrid`` (and async twins) written once; engines implement two
hooks, ``_search_keywords`` and ``_search_fused``.

The engine keeps the IDF statistics (Qdrant's IDF modifier). With equal weights it fuses the
two channels itself (its RRF is :func:`jina_v3.index.keywords.fuse` then); unequal weights
are fused here from each channel's own results. Scores are divided by
:func:`~jina_v3.index.keywords.rrf_max`, so they lie in (0, 1].
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from jina_v3._flow import Flow
from jina_v3.errors import ConfigurationError, check_positive
from jina_v3.index.keywords import DEFAULT_RRF_K, SparseVector, check_search_mode, fuse
from jina_v3.index.store import Hit


def prefetch_limit(k: int) -> int:
    """Candidates each channel contributes to the fusion of `k` hits."""
    return max(2 * k, 20)


def no_channel(engine: str, collection: str) -> ConfigurationError:
    return ConfigurationError(
        f"{engine} collection {collection!r} has no keyword channel: it was indexed without "
        "hybrid=True. Fix: search with mode='dense', or re-index into a new collection with "
        "hybrid=True (`jina-v3 index --hybrid`)."
    )


def fuse_hits(
    channels: Sequence[Sequence[Hit]], *, weights: Sequence[float], rrf_k: int, k: int
) -> list[Hit]:
    """The client-side fusion: :func:`~jina_v3.index.keywords.fuse` over each channel's hits."""
    by_id = {hit.id: hit for channel in channels for hit in channel}
    ranked = fuse([[h.id for h in channel] for channel in channels], k=rrf_k, weights=weights)
    return [dataclasses.replace(by_id[i], score=score) for i, score in ranked[:k]]


class KeywordChannel:
    """Mixin for a :class:`~jina_v3.connectors.base.store.BaseStore` whose engine keeps sparse
    vectors with IDF."""

    keyword_channel: ClassVar[bool] = True
    engine: ClassVar[str]
    collection: str

    def query_keywords(
        self, keywords: SparseVector, *, k: int, filter: Any | None = None
    ) -> list[Hit]:
        """The `k` best points by BM25 (the engine's IDF) for the query's term weights."""
        return self._run("query", self._hybrid_flow(None, keywords, k, filter, (1.0, 1.0), 0))  # type: ignore[attr-defined]

    async def aquery_keywords(
        self, keywords: SparseVector, *, k: int, filter: Any | None = None
    ) -> list[Hit]:
        """Async twin of :meth:`query_keywords`."""
        flow = self._hybrid_flow(None, keywords, k, filter, (1.0, 1.0), 0)
        return await self._arun("query", flow)  # type: ignore[attr-defined]

    def query_hybrid(
        self,
        vector: np.ndarray,
        keywords: SparseVector,
        *,
        k: int,
        filter: Any | None = None,
        weights: Sequence[float] | None = None,
        rrf_k: int = DEFAULT_RRF_K,
    ) -> list[Hit]:
        """Dense and keyword channels fused on the engine (weighted RRF, ``weights`` =
        (dense, keyword)); scores in (0, 1], 1.0 = first in both channels."""
        pair = check_search_mode("hybrid", "rrf", weights)
        return self._run("query", self._hybrid_flow(vector, keywords, k, filter, pair, rrf_k))  # type: ignore[attr-defined]

    async def aquery_hybrid(
        self,
        vector: np.ndarray,
        keywords: SparseVector,
        *,
        k: int,
        filter: Any | None = None,
        weights: Sequence[float] | None = None,
        rrf_k: int = DEFAULT_RRF_K,
    ) -> list[Hit]:
        """Async twin of :meth:`query_hybrid`."""
        pair = check_search_mode("hybrid", "rrf", weights)
        flow = self._hybrid_flow(vector, keywords, k, filter, pair, rrf_k)
        return await self._arun("query", flow)  # type: ignore[attr-defined]

    def _hybrid_flow(
        self,
        vector: Any | None,
        keywords: SparseVector,
        k: int,
        filter: Any | None,
        weights: tuple[float, float],
        rrf_k: int,
    ) -> Flow[list[Hit]]:
        k = check_positive("k", k)
        max_k = getattr(self, "max_k", None)
        if max_k is not None and k > max_k:
            raise ConfigurationError(f"k={k} exceeds {self.engine}'s limit of {max_k} hits")
        if not isinstance(keywords, SparseVector):
            raise ConfigurationError(
                "keywords must be a jina_v3.index.keywords.SparseVector (KeywordEncoder.query)"
            )
        native = self._native_filter(filter)  # type: ignore[attr-defined]
        signature = yield from self._expected()  # type: ignore[attr-defined]
        if signature.keywords is None:
            raise no_channel(self.engine, self.collection)
        if vector is None:
            if not len(keywords):
                return []  # no term: nothing matches
            return (yield from self._search_keywords(keywords, k, native))
        rrf_k = check_positive("rrf_k", rrf_k)
        query = self._vector(vector, signature)  # type: ignore[attr-defined]
        if weights[0] == weights[1]:
            return (yield from self._search_fused(query, keywords, k, native, rrf_k))
        # the engines' weighted RRF is another formula: fuse the channels' own results here
        limit = prefetch_limit(k)
        dense = yield from self._search(query, limit, native, signature)  # type: ignore[attr-defined]
        sparse = (
            (yield from self._search_keywords(keywords, limit, native)) if len(keywords) else []
        )
        return fuse_hits([dense, sparse], weights=weights, rrf_k=rrf_k, k=k)

    @abstractmethod
    def _search_keywords(self, keywords: SparseVector, k: int, native: Any) -> Flow[list[Hit]]:
        """The `k` best points of the keyword channel (one request)."""

    @abstractmethod
    def _search_fused(
        self, vector: np.ndarray, keywords: SparseVector, k: int, native: Any, rrf_k: int
    ) -> Flow[list[Hit]]:
        """Both channels (``prefetch_limit(k)`` candidates each) fused by the engine's own
        equal-weight RRF (:func:`~jina_v3.index.keywords.fuse`), scores divided by
        ``rrf_max(rrf_k)``."""
