"""What the matrix compares against, computed here: the points a kind must hold, and the
hits a search must answer in each mode (cosine over the expected vectors; BM25 over the
expected texts with the model's tokenizer; the reciprocal rank fusion of the two), for the
engine at hand (Milvus normalises BM25 lengths by the collection's real average)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from tests.matrix._kinds import Context, Expected, Kind

QUERY = "Berlin capital printer error XJ-4471b backups"
#: Every search asks for more hits than any collection of the matrix holds.
K = 50
#: float32 cosine of unit vectors; engines may re-normalise what they store.
DENSE_TOLERANCE = 1e-4
#: Milvus computes BM25 itself, with lengths as its segments estimate them: on the matrix's
#: short texts it is up to 7 % off the reference (Qdrant and Pinecone: exact).
MILVUS_BM25 = 0.1


def _comparable(value: Any) -> Any:
    """Numbers by value (an engine may return 3 as 3.0)."""
    return json.loads(json.dumps(value, sort_keys=True), parse_int=float)


def snapshot(store: Any) -> dict[str, Any]:
    """Every stored point (``Record`` with its vector), by id."""
    from jina_v3.index.transfer import pages

    return {r.id: r for page in pages(store, page=64) for r in page}


def check_points(stored: Mapping[str, Any], expected: Mapping[str, Expected]) -> None:
    """The stored points are the expected ones: ids, documents, chunks, texts, the expected
    metadata (a writer may add its own keys), and vectors."""
    missing, extra = set(expected) - set(stored), set(stored) - set(expected)
    assert not missing and not extra, f"missing {sorted(missing)}, extra {sorted(extra)}"
    for key, want in expected.items():
        got = stored[key]
        assert (got.document_id, got.chunk_index, got.text) == (
            want.document_id,
            want.chunk_index,
            want.text,
        ), key
        metadata = {k: got.metadata.get(k) for k in want.metadata}
        assert _comparable(metadata) == _comparable(want.metadata), key
        np.testing.assert_allclose(got.vector, want.vector, atol=DENSE_TOLERANCE, err_msg=key)


def same_points(a: Mapping[str, Any], b: Mapping[str, Any]) -> None:
    """Two collections hold the same points (a copy and its source)."""
    assert sorted(a) == sorted(b)
    for key, record in a.items():
        other = b[key]
        assert (other.document_id, other.chunk_index, other.text) == (
            record.document_id,
            record.chunk_index,
            record.text,
        ), key
        assert _comparable(dict(other.metadata)) == _comparable(dict(record.metadata)), key
        np.testing.assert_allclose(other.vector, record.vector, atol=1e-5, err_msg=key)


# -- searches ------------------------------------------------------------------------------------


def dense(ctx: Context, kind: Kind, expected: Mapping[str, Expected]) -> dict[str, float]:
    """point id -> cosine with the query (retrieval.query at the kind's size)."""
    query = ctx.embedder.encode_queries(QUERY, dimensions=kind.dimensions)
    return {key: float(e.vector @ query) for key, e in expected.items()}


def keyword(ctx: Context, expected: Mapping[str, Expected], engine: str) -> dict[str, float]:
    """point id -> BM25 of its text for the query, over the collection's texts (points
    without a query term are not hits)."""
    from jina_v3.index.keywords import KeywordEncoder, bm25_idf

    encoder = ctx.keyword_encoder()
    texts = {key: e.text for key, e in expected.items()}
    if engine.startswith("milvus"):  # Milvus's BM25: the collection's real average length
        terms = encoder.terms(list(texts.values()))
        encoder = KeywordEncoder(encoder.tokenizer, avg_length=sum(map(len, terms)) / len(terms))
    weights = dict(zip(texts, encoder.documents(list(texts.values())), strict=True))
    query = encoder.query(QUERY).indices
    out = {}
    for key, doc in weights.items():
        found = doc.as_dict()
        if any(t in found for t in query):
            out[key] = sum(
                float(bm25_idf(sum(t in d.indices for d in weights.values()), len(weights)))
                * found[t]
                for t in query
                if t in found
            )
    return out


def _positions(scores: Mapping[str, float], rel: float) -> dict[str, tuple[int, int]]:
    """Each id's possible 0-based positions in a ranking: ties (within `rel`) in any order."""
    ordered = sorted(scores.values(), reverse=True)
    out = {}
    for key, score in scores.items():
        same = [i for i, s in enumerate(ordered) if abs(s - score) <= rel * max(abs(score), 1e-9)]
        out[key] = (min(same), max(same))
    return out


def hybrid_bounds(
    dense_scores: Mapping[str, float], keyword_scores: Mapping[str, float], engine: str
) -> dict[str, tuple[float, float]]:
    """point id -> (lowest, highest) fused score it may have: the fusion of the two
    channels' rankings, ties in either channel in any order."""
    from jina_v3.connectors.base.keywords import prefetch_limit
    from jina_v3.index.keywords import rrf_max, rrf_term

    limit = prefetch_limit(K)
    channels = [
        _positions(dense_scores, 1e-5),
        _positions(keyword_scores, MILVUS_BM25 if engine.startswith("milvus") else 1e-4),
    ]
    bounds = {}
    for key in set(dense_scores) | set(keyword_scores):
        low = high = 0.0
        for positions in channels:
            if key in positions:
                first, last = positions[key]
                high += rrf_term(first) if first < limit else 0.0
                low += rrf_term(last) if last < limit else 0.0
        bounds[key] = (low / rrf_max(), high / rrf_max())
    return bounds


def check_hits(
    ctx: Context,
    kind: Kind,
    expected: Mapping[str, Expected],
    mode: str,
    engine: str,
    hits: Sequence[tuple[str, float]],
) -> None:
    """`hits` (point id, score) are what a search in `mode` must answer on `engine`."""
    got = dict(hits)
    assert len(got) == len(hits), "a point answered twice"
    scores = dense(ctx, kind, expected)
    if mode == "dense":
        assert sorted(got) == sorted(scores)
        for key, score in scores.items():
            assert got[key] == pytest.approx(score, abs=DENSE_TOLERANCE), key
        return
    terms = keyword(ctx, expected, engine)
    if mode == "keyword":
        assert sorted(got) == sorted(terms)
        rel = MILVUS_BM25 if engine.startswith("milvus") else 1e-4
        for key, score in terms.items():
            assert got[key] == pytest.approx(score, rel=rel), key
        return
    bounds = hybrid_bounds(scores, terms, engine)
    assert sorted(got) == sorted(bounds)
    for key, (low, high) in bounds.items():
        assert low - 1e-6 <= got[key] <= high + 1e-6, (key, got[key], low, high)
