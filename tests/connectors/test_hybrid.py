"""The keyword channel on every store, on the real engines: multilingual keyword queries with
the realistic-vocabulary tokenizer (tests/_tokenizer.py), IDF kept by the engine (also after
deletes), engine fusion equal to the reference fusion of the two channels' own results, scores
in (0, 1]. Dense vectors are random, which makes keyword effects sharp."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from jina_v3.connectors.base.keywords import prefetch_limit
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


# -- Pinecone's statistics count what is stored: the same keyword scores as Qdrant Edge -------


@pytest.fixture
def pinecone_and_edge(fast_tmp) -> Any:
    """``make(**options)``: a new (Pinecone, Qdrant Edge) pair of stores, closed after the test."""
    pytest.importorskip("pinecone")
    pytest.importorskip("qdrant_edge")
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore
    from tests.connectors._milvus_pinecone import FACTORIES

    made: list[Any] = []

    def make(**options: Any) -> tuple[Any, Any]:
        name = f"t{uuid.uuid4().hex[:10]}"
        pair = (
            FACTORIES["pinecone"](name, fast_tmp, **options),
            QdrantEdgeStore(name, path=fast_tmp / name, **options),
        )
        made.extend(pair)
        return pair

    yield make
    for store in made:
        store.close()


def _keyword_scores(store: Any, keywords: SparseVector, k: int = 20) -> dict[str, float]:
    """{text: score} of the keyword channel's hits (Qdrant Edge vacuums overwrites first)."""
    getattr(store, "optimize", lambda: None)()
    return {h.text: h.score for h in store.query_keywords(keywords, k=k)}


def _ranking(scores: dict[str, float]) -> list[str]:
    """Texts best first; equal scores (to float32 precision) in text order."""
    return sorted(scores, key=lambda text: (-round(scores[text], 4), text))


def _assert_same_keyword_scores(
    pinecone: Any, edge: Any, encoder: KeywordEncoder, stored: list[str], queries: Sequence[str]
) -> None:
    """Both engines rank and score as BM25 over `stored` (the texts the collection holds)."""
    docs = dict(enumerate(stored))
    for query in queries:
        keywords = encoder.query(query)
        found = _keyword_scores(pinecone, keywords)
        expected = _keyword_scores(edge, keywords)
        reference = {docs[i]: _bm25(encoder, docs, query, i, edge) for i in docs}
        reference = {text: score for text, score in reference.items() if score > 0}
        assert _ranking(found) == _ranking(expected) == _ranking(reference), query
        for text, score in found.items():
            assert score == pytest.approx(expected[text], rel=1e-4), (query, text)
            assert score == pytest.approx(reference[text], rel=1e-4), (query, text)


def _versions(pairs: Sequence[tuple[str, str]], encoder: KeywordEncoder) -> list[Record]:
    """Records of (name, text) pairs in order, a name repeated as a new version of its point."""
    vectors = _vectors(len(pairs), seed=11)
    weights = encoder.documents([text for _, text in pairs])
    return [
        Record(point_id(name), vectors[i], text, {"lang": name}, name, keywords=weights[i])
        for i, (name, text) in enumerate(pairs)
    ]


def test_pinecone_counts_a_repeated_id_once_like_qdrant_edge(pinecone_and_edge, encoder) -> None:
    stores = pinecone_and_edge(batch_size=2)  # pages of two points: ids repeat across pages
    for store in stores:
        store.ensure_collection(_signature(encoder))
    writes = [
        # one request holding the same id twice (LangChain's add_texts(ids=["x", "x"]))
        [("x", "Berlin Fluss"), ("x", "Hauptstadt Paris"), ("y", "Fluss Brücke")],
        # one write whose pages repeat ids: the last version wins
        [("z", "Berlin Berlin"), ("w", "Paris Fluss"), ("z", "Fluss Garten"), ("v", "Berlin")],
        [("f0", "Museum Bahnhof"), ("f1", "Markt Winter"), ("w", "Paris Fluss Markt")],
    ]
    for write in writes:
        records = _versions(write, encoder)
        for store in stores:
            store.upsert(records)
    for store in stores:
        store.delete(ids=[point_id("y"), point_id("y")])  # an id named twice in a delete
    stored = ["Hauptstadt Paris", "Fluss Garten", "Paris Fluss Markt", "Berlin", "Museum Bahnhof"]
    stored.append("Markt Winter")
    assert [s.count() for s in stores] == [len(stored)] * 2
    queries = ("Berlin", "Paris", "Fluss", "Hauptstadt", "Markt", "Brücke", "Berlin Paris Fluss")
    _assert_same_keyword_scores(*stores, encoder, stored, queries)


@pytest.mark.parametrize("engine", ["pinecone"])
def test_a_long_pinecone_keyword_query_keeps_its_rarest_terms(make_store, encoder, caplog):
    """A query with more distinct terms in the collection than Pinecone takes in one sparse
    vector (1000: a pasted passage) is answered from its 1000 highest-IDF terms, not a 400."""
    store = make_store()
    store.ensure_collection(_signature(encoder))
    rare_a, rare_b = range(1, 601), range(601, 1001)  # each in one document
    common = range(1001, 1101)  # in three documents: lower IDF, left out of the query
    layout = {"a": [*rare_a, *common], "b": [*rare_b, *common], "c": list(common)}
    layout.update({f"f{i}": [5000 + i] for i in range(4)})
    vectors = _vectors(len(layout))
    records = [
        Record(point_id(name), vectors[i], name, {}, name, keywords=_ones(terms))
        for i, (name, terms) in enumerate(layout.items())
    ]
    store.upsert(records)
    query = _ones([*rare_a, *rare_b, *common])
    with caplog.at_level("INFO", logger="jina_v3.connectors.pinecone"):
        hits = store.query_keywords(query, k=5)
    assert "1100 distinct terms" in caplog.text
    idf = float(bm25_idf(1, len(layout)))
    assert [(h.document_id, h.score) for h in hits] == [
        ("a", pytest.approx(600 * idf, rel=1e-4)),
        ("b", pytest.approx(400 * idf, rel=1e-4)),
    ]  # "c" holds only the common terms
    fused = store.query_hybrid(vectors[2], query, k=3)
    assert {h.document_id for h in fused} >= {"a", "c"}  # first by keywords; by its vector


def _ones(terms: Sequence[int]) -> SparseVector:
    return SparseVector(tuple(sorted(terms)), (1.0,) * len(terms))


def test_every_caller_keeps_pinecone_statistics_those_of_qdrant_edge(
    pinecone_and_edge, tiny_embedder
) -> None:
    """VectorIndex, LangChain and LlamaIndex, each writing an id twice (VectorIndex also
    replaces a document by fewer chunks: overwrites and deletes in one batch): Pinecone's
    keyword ranking and scores stay Qdrant Edge's, and BM25's over what is stored."""
    from jina_v3 import Document, VectorIndex
    from jina_v3.index.keywords import encoder_for

    encoder = encoder_for(tiny_embedder)
    queries = ("Berlin", "Paris", "Fluss", "Markt", "Garten Winter")

    def vector_index(store: Any) -> list[str]:
        index = VectorIndex(tiny_embedder, store, dimensions=DIMS, hybrid=True, batch_size=2)
        chunks = ["Fluss Garten", "Markt Winter", "Berlin Brücke"]
        index.add([Document("x", "Berlin Fluss"), Document("x", "Hauptstadt Paris")])
        index.add([Document("long", chunks=chunks), Document("x", "Paris Fluss")])
        index.add([Document("long", chunks=["Paris Markt"]), Document("y", "Garten")])
        return ["Paris Fluss", "Paris Markt", "Garten"]

    def langchain(store: Any) -> list[str]:
        pytest.importorskip("langchain_core")
        from jina_v3.connectors.langchain import JinaV3Embeddings, JinaV3VectorStore

        embeddings = JinaV3Embeddings(embedder=tiny_embedder, dimensions=DIMS)
        texts = ["Berlin Fluss", "Fluss Garten", "Hauptstadt Paris", "Markt"]
        lc = JinaV3VectorStore(store, embeddings, hybrid=True)
        lc.add_texts(texts, ids=["x", "y", "x", "z"])
        return ["Fluss Garten", "Hauptstadt Paris", "Markt"]

    def llama_index(store: Any) -> list[str]:
        pytest.importorskip("llama_index.core")
        from llama_index.core.schema import TextNode

        from jina_v3.connectors.llama_index import JinaV3Embedding, JinaV3VectorStore

        embed_model = JinaV3Embedding(embedder=tiny_embedder, dimensions=DIMS)
        texts = {"Berlin Fluss": "x", "Markt Winter": "y", "Paris Fluss": "x", "Berlin": "z"}
        nodes = [
            TextNode(text=t, id_=i, embedding=embed_model.get_text_embedding(t))
            for t, i in texts.items()
        ]
        JinaV3VectorStore(store, embed_model=embed_model, hybrid=True).add(nodes)
        return ["Markt Winter", "Paris Fluss", "Berlin"]

    for caller in (vector_index, langchain, llama_index):
        pinecone, edge = pinecone_and_edge()
        stored = caller(pinecone)
        assert caller(edge) == stored
        assert pinecone.count() == edge.count() == len(stored), caller.__name__
        _assert_same_keyword_scores(pinecone, edge, encoder, stored, queries)
