"""The keyword channel on every store, on the real engines: multilingual keyword queries with
the realistic-vocabulary tokenizer (tests/_tokenizer.py), IDF kept by the engine (also after
deletes), engine fusion equal to the reference fusion of the two channels' own results, scores
in (0, 1]. Dense vectors are random, which makes keyword effects sharp."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from jina_v3.connectors._sparse import prefetch_limit
from jina_v3.errors import ConfigurationError
from jina_v3.index.keywords import KeywordEncoder, SparseVector, bm25_idf, fuse
from jina_v3.index.store import EmbeddingSignature, Record, point_id

DIMS = 16
TEXTS = {
    "zh": "柏林是德国首都。",
    "ja": "東京は日本の大きな都市です。",
    "ar": "القاهرة هي عاصمة مصر.",
    "de": "Die Hauptstadt von Frankreich ist Paris.",
    "code": "The printer reports error XJ-4471b after the paper jam.",
    "en": "The weather in winter is cold and the trains are late.",
    "es": "El museo de la ciudad abre los domingos.",
    "fr": "La bibliothèque ferme à midi le samedi.",
}
QUERIES = {"zh": "首都", "ja": "日本", "ar": "عاصمة", "de": "Hauptstadt", "code": "XJ-4471b"}


@pytest.fixture(scope="module")
def encoder() -> KeywordEncoder:
    pytest.importorskip("tokenizers")
    from tests._tokenizer import realistic_tokenizer

    return KeywordEncoder(realistic_tokenizer())


def _signature(encoder: KeywordEncoder | None) -> EmbeddingSignature:
    return EmbeddingSignature(
        "test-model", DIMS, keywords=None if encoder is None else encoder.identity
    )


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIMS)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _records(texts: dict[str, str], encoder: KeywordEncoder, seed: int = 0) -> list[Record]:
    vectors = _vectors(len(texts), seed)
    weights = encoder.documents(list(texts.values()))
    return [
        Record(point_id(name), vectors[i], text, {"lang": name}, name, keywords=weights[i])
        for i, (name, text) in enumerate(texts.items())
    ]


def _hybrid_store(make_store: Any, encoder: KeywordEncoder) -> Any:
    store = make_store()
    if not getattr(store, "keyword_channel", False):
        with pytest.raises(ConfigurationError, match=r"no keyword channel.*hybrid=False"):
            store.ensure_collection(_signature(encoder))
        assert store.count() == 0  # refused before anything was made
        pytest.skip(f"{type(store).__name__} has no keyword channel (refused with a typed error)")
    store.ensure_collection(_signature(encoder))
    return store


def test_keyword_queries_find_their_document_in_every_language(make_store, encoder) -> None:
    store = _hybrid_store(make_store, encoder)
    records = _records(TEXTS, encoder)
    store.upsert(records)
    ids = list(TEXTS)
    for name, query in QUERIES.items():
        hits = store.query_keywords(encoder.query(query), k=3)
        assert hits and hits[0].document_id == name, (name, [h.document_id for h in hits])
        assert len({h.score for h in hits[:2]}) == len(hits[:2])  # a clear first
        # the dense side alone (the query vector of another document) ranks it elsewhere
        decoy = records[(ids.index(name) + 1) % len(ids)].vector
        dense = store.query(decoy, k=1)
        assert dense[0].document_id != name
        fused = store.query_hybrid(decoy, encoder.query(query), k=3)
        assert name in [h.document_id for h in fused[:2]]


def test_hybrid_ranks_equal_the_reference_fusion(make_store, encoder) -> None:
    store = _hybrid_store(make_store, encoder)
    texts = {
        f"d{i}": f"{TEXTS[n]} {TEXTS[m]}"
        for i, (n, m) in enumerate(zip(TEXTS, list(TEXTS)[3:], strict=False))
    }
    texts.update(TEXTS)
    store.upsert(_records(texts, encoder, seed=3))
    vector, keywords = _vectors(1, seed=9)[0], encoder.query("Hauptstadt Paris XJ-4471b")
    for weights in (None, (1.0, 3.0)):
        k = 4
        hits = store.query_hybrid(vector, keywords, k=k, weights=weights)
        dense = [h.id for h in store.query(vector, k=prefetch_limit(k))]
        sparse = [h.id for h in store.query_keywords(keywords, k=prefetch_limit(k))]
        reference = dict(fuse([dense, sparse], weights=weights))
        assert len(hits) == k
        for hit in hits:
            assert hit.score == pytest.approx(reference[hit.id], rel=1e-5)
        best = sorted(reference.values(), reverse=True)[:k]  # ties aside: the same scores
        assert [h.score for h in hits] == pytest.approx(best, rel=1e-5)
        assert all(0 < h.score <= 1 for h in hits)
    # first in both channels: 1.0
    target = store.fetch([point_id("code")])[0]
    vector_code = _records(texts, encoder, seed=3)[list(texts).index("code")].vector
    top = store.query_hybrid(vector_code, encoder.query("XJ-4471b"), k=1)
    assert top[0].id == target.id and top[0].score == pytest.approx(1.0, rel=1e-5)


def _bm25(
    encoder: KeywordEncoder, texts: dict[str, str], query: str, name: str, store: Any
) -> float:
    """BM25 of document `name` for `query` over the collection `texts`, computed here (Milvus
    normalises lengths by the collection's real average, the others by a fixed one)."""
    if type(store).__name__ == "MilvusStore":
        terms = encoder.terms(list(texts.values()))
        average = sum(map(len, terms)) / len(terms)
        encoder = KeywordEncoder(encoder.tokenizer, avg_length=average)
    docs = dict(zip(texts, encoder.documents(list(texts.values())), strict=True))
    score = 0.0
    for term in encoder.query(query).indices:
        df = sum(term in d.indices for d in docs.values())
        if term in docs[name].indices:
            score += float(bm25_idf(df, len(docs))) * docs[name].as_dict()[term]
    return score


def test_idf_is_kept_by_the_engine_also_after_deletes(make_store, encoder) -> None:
    store = _hybrid_store(make_store, encoder)
    texts = {f"c{i}": f"Berlin Fluss {i}" for i in range(6)}
    texts["rare"] = "Hauptstadt Fluss"
    store.upsert(_records(texts, encoder))

    def score(query: str, name: str) -> float:
        hits = store.query_keywords(encoder.query(query), k=10)
        return next(h.score for h in hits if h.document_id == name)

    # Milvus's own BM25 estimates the average length from its segments' statistics
    rel = 2e-2 if type(store).__name__ == "MilvusStore" else 1e-4
    common = score("Berlin", "c0")
    assert common == pytest.approx(_bm25(encoder, texts, "Berlin", "c0", store), rel=rel)
    # "Fluss" is in every document: it weighs less than "Berlin" (six of seven)
    fluss = [t for t in encoder.query("Fluss").indices if t not in encoder.query("Berlin").indices]
    assert fluss
    assert score("Fluss", "c0") < common
    store.delete(document_ids=[f"c{i}" for i in range(1, 6)])
    left = {name: texts[name] for name in ("c0", "rare")}
    # Qdrant: at once; Qdrant Edge counts deleted points until optimize() vacuums them
    getattr(store, "optimize", lambda: None)()
    assert score("Berlin", "c0") > common  # now in one document of two: it weighs more
    for query, name in (("Berlin", "c0"), ("Fluss", "rare"), ("Hauptstadt", "rare")):
        expected = _bm25(encoder, left, query, name, store)
        assert score(query, name) == pytest.approx(expected, rel=rel)


def test_a_collection_without_the_channel_refuses_keyword_queries(make_store, encoder) -> None:
    store = make_store()
    if not getattr(store, "keyword_channel", False):
        pytest.skip("no keyword channel on this engine")
    store.ensure_collection(_signature(None))
    store.upsert([Record(point_id("a"), _vectors(1)[0], "Berlin", {}, "a")])
    for search in (
        lambda: store.query_keywords(encoder.query("Berlin"), k=1),
        lambda: store.query_hybrid(_vectors(1)[0], encoder.query("Berlin"), k=1),
    ):
        with pytest.raises(ConfigurationError, match="hybrid=True"):
            search()


def test_records_without_keywords_are_refused_on_a_hybrid_collection(make_store, encoder):
    store = _hybrid_store(make_store, encoder)
    bare = Record(point_id("a"), _vectors(1)[0], "Berlin", {}, "a")
    with pytest.raises(ConfigurationError, match="keywords="):
        store.upsert([bare])
    assert store.count() == 0
    empty = _records({"a": "   "}, encoder)  # a text without terms is stored all the same
    store.upsert(empty)
    assert store.count() == 1
    assert store.query_keywords(encoder.query("   "), k=1) == []


async def test_async_twins(make_store, encoder) -> None:
    store = _hybrid_store(make_store, encoder)
    await store.aupsert(_records(TEXTS, encoder))
    hits = await store.aquery_keywords(encoder.query("XJ-4471b"), k=1)
    assert hits[0].document_id == "code"
    fused = await store.aquery_hybrid(_vectors(1)[0], encoder.query("XJ-4471b"), k=2)
    assert "code" in [h.document_id for h in fused]
    await store.aclose()


def test_a_query_without_terms_fuses_the_dense_channel_alone(make_store, encoder) -> None:
    store = _hybrid_store(make_store, encoder)
    store.upsert(_records(TEXTS, encoder))
    vector = _vectors(1, seed=5)[0]
    nothing = encoder.query("   ")
    assert len(nothing) == 0
    for weights in (None, (1.0, 2.0)):
        hits = store.query_hybrid(vector, nothing, k=3, weights=weights)
        dense = [h.id for h in store.query(vector, k=prefetch_limit(3))]
        assert [h.id for h in hits] == dense[:3]
        reference = [s for _, s in fuse([dense, []], weights=weights)[:3]]
        assert [h.score for h in hits] == pytest.approx(reference, rel=1e-5)
        assert hits[0].score < 1  # first in one channel of two


# -- Pinecone: no IDF on the server, so the collection keeps its own statistics ----------------


def _check_bm25(store: Any, encoder: KeywordEncoder, texts: dict[str, str], cases: Any) -> None:
    for query, name in cases:
        hits = store.query_keywords(encoder.query(query), k=10)
        score = next(h.score for h in hits if h.document_id == name)
        assert score == pytest.approx(_bm25(encoder, texts, query, name, store), rel=1e-4)


@pytest.mark.parametrize("engine", ["pinecone"])
def test_pinecone_statistics_stay_exact_under_overwrites_filters_clear_and_reopen(
    make_store, encoder
) -> None:
    store = make_store()
    store.ensure_collection(_signature(encoder))
    texts = {f"c{i}": f"Berlin Fluss {i}" for i in range(4)}
    texts["rare"] = "Hauptstadt Fluss"
    store.upsert(_records(texts, encoder))
    texts["c1"] = "Hauptstadt Paris"  # an overwrite takes the point's old terms out
    store.upsert(_records({"c1": texts["c1"]}, encoder))
    cases = (("Berlin", "c0"), ("Hauptstadt", "rare"), ("Fluss", "rare"), ("Paris", "c1"))
    _check_bm25(store, encoder, texts, cases)
    store.delete(filter={"lang": {"$in": ["c2", "c3"]}})  # found by query, counted out
    del texts["c2"], texts["c3"]
    _check_bm25(store, encoder, texts, cases)
    # another store on the same index reads the channel from the index tags
    again = make_store(store._name)
    assert again.read_signature().keywords == encoder.identity
    _check_bm25(again, encoder, texts, cases)
    assert again.collections() == ["contract"]  # the statistics' namespace is not a collection
    # the dense channel ranks by cosine on the dotproduct index (vectors stored at unit length)
    record = _records(texts, encoder)[0]
    assert again.query(3.0 * record.vector, k=1)[0].score == pytest.approx(1.0, rel=1e-5)
    store.clear()
    assert store.query_keywords(encoder.query("Berlin"), k=3) == []
    texts = {"a": "Berlin Fluss", "b": "Fluss Fluss Hauptstadt"}
    store.upsert(_records(texts, encoder))
    _check_bm25(store, encoder, texts, (("Berlin", "a"), ("Fluss", "b")))


@pytest.mark.parametrize("engine", ["pinecone"])
def test_pinecone_keeps_the_heaviest_terms_of_a_long_text(make_store, encoder, caplog) -> None:
    store = make_store()
    store.ensure_collection(_signature(encoder))
    n = 1200  # Pinecone takes at most 1000 sparse values per record
    keywords = SparseVector(tuple(range(1, n + 1)), tuple(map(float, range(1, n + 1))))
    record = Record(point_id("long"), _vectors(1)[0], "long", {}, "long", keywords=keywords)
    with caplog.at_level("WARNING", logger="jina_v3.connectors.pinecone"):
        store.upsert([record])
    assert f"{n} distinct terms" in caplog.text
    assert store.query_keywords(SparseVector((n,), (1.0,)), k=1)[0].document_id == "long"
    assert store.query_keywords(SparseVector((1,), (1.0,)), k=1) == []  # the lightest: cut


@pytest.mark.parametrize("engine", ["pinecone"])
def test_the_pinecone_server_takes_sparse_values_on_dotproduct_indexes_only(make_store) -> None:
    store = make_store()
    store.ensure_collection(_signature(None))  # a cosine index
    vector = {"id": "x", "values": _vectors(1)[0].tolist()}
    vector["sparse_values"] = {"indices": [1], "values": [1.0]}
    with pytest.raises(Exception, match="dotproduct"):
        store.index.upsert(vectors=[vector], namespace=store.namespace)
