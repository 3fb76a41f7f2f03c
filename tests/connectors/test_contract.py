"""The behavioural contract every vector-store connector passes, on its real engine.

Expected results are computed from the corpus (brute-force cosine over vectors the embedder
makes directly, and `jina_v3.filters.matches` for filters), never hard-coded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from jina_v3.errors import (
    DimensionMismatchError,
    JinaV3Error,
    SignatureMismatchError,
    UnsupportedFilterError,
)
from jina_v3.filters import matches, parse_filter
from jina_v3.index import AsyncVectorIndex, VectorIndex
from jina_v3.store import Document, EmbeddingSignature, Record, point_id

from .conftest import DIMS

QUERY = "a festival by the old harbour"

FILTERS: list[dict[str, Any]] = [
    {"lang": "de"},
    {"lang": {"$eq": "fr"}},
    {"lang": {"$ne": "en"}},
    {"year": {"$gt": 2020}},
    {"year": {"$gte": 2020}},
    {"year": {"$lt": 2018}},
    {"year": {"$lte": 2018}},
    {"year": {"$gte": 2017, "$lt": 2021}},
    {"rating": {"$gte": 3.5}},
    {"rating": 4},  # stored as 4.0: numbers compare by value
    {"rating": {"$lt": 2.25}},
    {"published": True},
    {"published": {"$ne": True}},
    {"lang": {"$in": ["de", "fr"]}},
    {"lang": {"$nin": ["de", "fr"]}},
    {"year": {"$in": [2016, 2019, 2023]}},
    {"year": {"$nin": [2016, 2019]}},
    {"lang": {"$in": []}},
    {"tags": "science"},  # list field: any element
    {"tags": {"$in": ["sport", "food"]}},
    {"tags": {"$nin": ["news"]}},
    {"tags": {"$ne": "travel"}},
    {"editor": "bo"},  # a field only some documents have
    {"editor": {"$ne": "bo"}},
    {"editor": {"$nin": ["ana", "cy"]}},
    {"$and": [{"lang": "en"}, {"published": True}]},
    {"$or": [{"lang": "de"}, {"rating": {"$gte": 4.5}}]},
    {"lang": "en", "year": {"$gte": 2019}},  # top-level keys are ANDed
    {"$or": [{"$and": [{"lang": "fr"}, {"year": {"$lt": 2020}}]}, {"tags": "sport"}]},
    {"$and": [{"$or": [{"lang": "de"}, {"lang": "fr"}]}, {"published": {"$ne": False}}]},
]


def _reference(embedder: Any, docs: list[Document], query: str, vectors: np.ndarray):
    q = embedder.encode_queries(query, dimensions=DIMS)
    scores = vectors @ q
    return {d.id: float(s) for d, s in zip(docs, scores, strict=True)}


def _snapshot(store: Any, count: int) -> list[tuple]:
    """Everything observable about the stored points: ids, texts, metadata and (through
    scores against fixed probe vectors) the vectors themselves."""
    rng = np.random.default_rng(0)
    probes = rng.standard_normal((3, DIMS)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    rows: dict[str, list] = {}
    for probe in probes:
        hits = store.query(probe, k=count + 5)
        assert len(hits) == count
        for hit in hits:
            row = rows.setdefault(
                hit.id, [hit.document_id, hit.chunk_index, hit.text, dict(hit.metadata)]
            )
            row.append(round(hit.score, 4))
    return sorted((k, *v) for k, v in rows.items())


def test_add_search_count_delete(engine, make_store, tiny_embedder, corpus, passage_vectors):
    index = VectorIndex(tiny_embedder, make_store(), dimensions=DIMS, chunker=None)
    assert index.count() == 0
    assert index.add(corpus) == len(corpus)
    assert index.count() == len(corpus)

    expected = _reference(tiny_embedder, corpus, QUERY, passage_vectors)
    hits = index.search(QUERY, k=5)
    best = sorted(expected, key=expected.get, reverse=True)[:5]
    assert [h.document_id for h in hits] == best
    by_id = {d.id: d for d in corpus}
    for hit in hits:
        doc = by_id[hit.document_id]
        assert hit.id == point_id(doc.id)
        assert hit.chunk_index is None
        assert hit.text == doc.text
        assert dict(hit.metadata) == dict(doc.metadata)
        assert hit.score == pytest.approx(expected[doc.id], abs=1e-4)

    gone = [corpus[0].id, corpus[7].id]
    index.delete(gone)
    assert index.count() == len(corpus) - 2
    remaining = {h.document_id for h in index.search(QUERY, k=len(corpus))}
    assert remaining == {d.id for d in corpus} - set(gone)
    index.delete(["no-such-document"])  # deleting nothing is fine
    assert index.count() == len(corpus) - 2


def test_filters_match_reference(engine, make_store, tiny_embedder, corpus):
    """Every operator, on every field type, against the reference evaluator (one ingestion,
    all filters; the failure lists every filter that disagrees)."""
    index = VectorIndex(tiny_embedder, make_store(), dimensions=DIMS)
    index.add(corpus)
    wrong = []
    for filter in FILTERS:
        tree = parse_filter(filter)
        expected = {d.id for d in corpus if matches(tree, d.metadata)}
        hits = index.search(QUERY, k=len(corpus) + 5, filter=filter)
        got = {h.document_id for h in hits}
        scores = [h.score for h in hits]
        if got != expected or scores != sorted(scores, reverse=True):
            wrong.append(
                f"{filter}: missing {sorted(expected - got)}, extra {sorted(got - expected)}"
            )
    assert not wrong, "\n".join(wrong)
    assert any(
        len({d.id for d in corpus if matches(parse_filter(f), d.metadata)}) == 0 for f in FILTERS
    )
    assert all(
        len({d.id for d in corpus if matches(parse_filter(f), d.metadata)}) < len(corpus)
        for f in FILTERS
    )


def test_unsupported_filters_are_typed_errors(engine, make_store, tiny_embedder, corpus):
    index = VectorIndex(tiny_embedder, make_store(), dimensions=DIMS)
    index.add(corpus[:3])
    for bad in (
        {"lang": {"$regex": "e.*"}},
        {"$not": {"lang": "en"}},
        {"year": {"$gt": "2020"}},
        {"tags": {"$in": "news"}},
        {},
    ):
        with pytest.raises(UnsupportedFilterError):
            index.search(QUERY, k=3, filter=bad)
    with pytest.raises(UnsupportedFilterError):
        index.search(QUERY, k=3, filter=[("lang", "en")])  # neither a dict nor native


def test_signature_and_dimension_mismatch(engine, make_store, tiny_embedder, corpus):
    store = make_store()
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS)
    index.add(corpus[:5])

    smaller = VectorIndex(tiny_embedder, store, dimensions=16)
    with pytest.raises(DimensionMismatchError) as err:
        smaller.add(corpus[5:10])
    message = str(err.value)
    assert f"dimensions={DIMS}" in message and "recreate=True" in message
    with pytest.raises(DimensionMismatchError):
        smaller.search(QUERY)
    assert store.count() == 5  # nothing written

    late = VectorIndex(tiny_embedder, store, dimensions=DIMS, late_chunking=True)
    with pytest.raises(SignatureMismatchError) as err:
        late.add(corpus[5:10])
    assert not isinstance(err.value, DimensionMismatchError)
    assert "late_chunking" in str(err.value) and "recreate=True" in str(err.value)

    other_model = EmbeddingSignature(model="some-other-model", dimensions=DIMS)
    with pytest.raises(SignatureMismatchError, match="model"):
        store.ensure_collection(other_model)
    assert store.count() == 5

    # a raw write of the wrong size is refused before it reaches the database
    wrong = Record(point_id("x"), np.ones(16, np.float32), "x", {}, "x")
    with pytest.raises(DimensionMismatchError):
        store.upsert([wrong])
    assert store.count() == 5

    rebuilt = VectorIndex(tiny_embedder, store, dimensions=16, recreate=True)
    assert rebuilt.add(corpus[:3]) == 3
    assert store.count() == 3
    assert store.read_signature() == rebuilt.signature
    with pytest.raises(DimensionMismatchError):
        index.search(QUERY)  # the first index notices the rebuilt collection


def test_reingestion_adds_nothing_twice(engine, make_store, tiny_embedder, corpus):
    store = make_store()
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS, batch_size=7)
    index.add(corpus)
    first = _snapshot(store, len(corpus))
    index.add(corpus)
    index.add(iter(corpus[:10]))
    assert index.count() == len(corpus)
    assert _snapshot(store, len(corpus)) == first


class _FailingStore:
    """Passes everything to a real store; its `fail_on`-th upsert carries a record the
    database cannot take (an unserialisable payload value), in the middle of the batch."""

    def __init__(self, inner: Any, fail_on: int) -> None:
        self.inner, self.fail_on, self.upserts = inner, fail_on, 0
        self.collection = getattr(inner, "collection", "?")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def upsert(self, records):
        self.upserts += 1
        records = list(records)
        if self.upserts == self.fail_on:
            poison = Record(
                point_id("poison"), records[0].vector, "poison", {"bad": object()}, "poison"
            )
            half = len(records) // 2
            records = [*records[:half], poison, *records[half:]]
        self.inner.upsert(records)


def test_interrupted_ingestion_resumes(engine, make_store, tiny_embedder, corpus):
    clean = make_store()
    VectorIndex(tiny_embedder, clean, dimensions=DIMS, batch_size=6).add(corpus)

    store = make_store()
    failing = _FailingStore(store, fail_on=3)
    with pytest.raises(JinaV3Error):
        VectorIndex(tiny_embedder, failing, dimensions=DIMS, batch_size=6).add(corpus)
    assert failing.upserts == 3
    assert 12 <= store.count() < len(corpus)  # two batches in, the third failed

    VectorIndex(tiny_embedder, store, dimensions=DIMS, batch_size=6).add(corpus)
    assert store.count() == len(corpus)
    assert _snapshot(store, len(corpus)) == _snapshot(clean, len(corpus))


def test_late_chunked_documents(engine, make_store, tiny_embedder, chunked_corpus):
    store = make_store()
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS, late_chunking=True, batch_size=5)
    n_chunks = sum(len(d.chunks) for d in chunked_corpus)
    assert index.add(chunked_corpus) == n_chunks
    assert index.count() == n_chunks
    assert index.signature.late_chunking

    late = tiny_embedder.encode_late_chunked([d.chunks for d in chunked_corpus], dimensions=DIMS)
    q = tiny_embedder.encode_queries(QUERY, dimensions=DIMS)
    expected = {
        point_id(d.id, j): (d.id, j, chunk, float(vectors[j] @ q))
        for d, vectors in zip(chunked_corpus, late, strict=True)
        for j, chunk in enumerate(d.chunks)
    }
    hits = index.search(QUERY, k=n_chunks + 5)
    assert len(hits) == n_chunks
    for hit in hits:
        doc_id, j, chunk, score = expected[hit.id]
        assert (hit.document_id, hit.chunk_index, hit.text) == (doc_id, j, chunk)
        assert hit.score == pytest.approx(score, abs=1e-4)

    # a document re-added with fewer chunks leaves none of its old ones behind
    longest = chunked_corpus[-1]
    shorter = Document(longest.id, metadata=longest.metadata, chunks=list(longest.chunks[:2]))
    index.add([shorter])
    assert index.count() == n_chunks - len(longest.chunks) + 2
    index.delete([longest.id])
    assert index.count() == n_chunks - len(longest.chunks)
    assert longest.id not in {h.document_id for h in index.search(QUERY, k=n_chunks)}


def test_funnel_search_matches_full_search(
    engine, make_store, tiny_embedder, corpus, passage_vectors
):
    funnel = VectorIndex(tiny_embedder, make_store(funnel_dimensions=8), dimensions=DIMS)
    full = VectorIndex(tiny_embedder, make_store(), dimensions=DIMS)
    funnel.add(corpus)
    full.add(corpus)
    for query in (QUERY, "cheaper tickets for students", "the history of the city walls"):
        expected = _reference(tiny_embedder, corpus, query, passage_vectors)
        coarse_hits = funnel.search(query, k=3)
        full_hits = full.search(query, k=3)
        assert [h.id for h in coarse_hits] == [h.id for h in full_hits]
        for hit in coarse_hits:  # rescored with the full vectors
            assert hit.score == pytest.approx(expected[hit.document_id], abs=1e-4)
        filtered = funnel.search(query, k=3, filter={"lang": "en"})
        assert [h.id for h in filtered] == [
            h.id for h in full.search(query, k=3, filter={"lang": "en"})
        ]


def test_qdrant_family_binary_quantization_with_a_funnel_finds_what_full_search_does(
    engine, make_store, tiny_embedder, corpus, passage_vectors
):
    # QdrantStore and QdrantEdgeStore share their searches (qdrant/common.py): the funnel's
    # prefetch and the quantized search's rescoring go through each client's own request
    if not engine.startswith("qdrant"):
        pytest.skip("binary_quantization is a Qdrant-family option")
    options = {"funnel_dimensions": 8, "binary_quantization": True}
    quantized = VectorIndex(tiny_embedder, make_store(**options), dimensions=DIMS)
    full = VectorIndex(tiny_embedder, make_store(), dimensions=DIMS)
    quantized.add(corpus)
    full.add(corpus)
    for query in (QUERY, "the history of the city walls"):
        expected = _reference(tiny_embedder, corpus, query, passage_vectors)
        hits = quantized.search(query, k=3, filter={"lang": "en"})
        assert [h.id for h in hits] == [
            h.id for h in full.search(query, k=3, filter={"lang": "en"})
        ]
        for hit in hits:  # rescored with the original vectors
            assert hit.score == pytest.approx(expected[hit.document_id], abs=1e-4)


async def test_async_twins(engine, make_store, tiny_embedder, corpus):
    store = make_store()
    index = AsyncVectorIndex(tiny_embedder, store, dimensions=DIMS)
    assert await index.add(corpus[:10]) == 10
    assert await index.count() == 10
    hits = await index.search(QUERY, k=3, filter={"lang": {"$in": ["en", "de"]}})
    sync_hits = VectorIndex(tiny_embedder, store, dimensions=DIMS).search(
        QUERY, k=3, filter={"lang": {"$in": ["en", "de"]}}
    )
    assert [h.id for h in hits] == [h.id for h in sync_hits]
    await index.delete([corpus[0].id])
    assert await index.count() == 9
    assert await store.aread_signature() == index.signature


#: Engines with a native binary vector type (Milvus Lite has none; Qdrant and Pinecone store
#: floats, Qdrant with optional binary quantization).
BINARY_ENGINES = {"milvus-server"}


def test_binary_vectors_where_the_database_has_them(engine, make_store, tiny_embedder, corpus):
    """``embedding_type="ubinary"``: packed sign bits in a native binary vector type (Hamming
    distance); other databases refuse it with a typed error and write nothing."""
    store = make_store()
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS, embedding_type="ubinary")
    if engine not in BINARY_ENGINES:
        with pytest.raises(JinaV3Error, match=r"(?i)binary"):
            index.add(corpus)
        assert store.count() == 0
        return
    assert index.add(corpus) == len(corpus)
    assert index.count() == len(corpus)
    packed = tiny_embedder.encode_passages(
        [d.text for d in corpus], dimensions=DIMS, embedding_type="ubinary"
    )
    query = tiny_embedder.encode_queries(QUERY, dimensions=DIMS, embedding_type="ubinary")
    hamming = {
        d.id: int(np.unpackbits(np.bitwise_xor(row, query)).sum())
        for d, row in zip(corpus, packed, strict=True)
    }
    k = 5
    hits = index.search(QUERY, k=k)
    got = [hamming[h.document_id] for h in hits]
    assert got == sorted(hamming.values())[:k]  # the k nearest, nearest first (ties any order)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)  # a similarity: higher is better
