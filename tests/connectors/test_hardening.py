"""Issue-8 regressions on every store (real engines): ids, re-added documents, filter
semantics (large integers, literal keys, booleans vs numbers, control characters), metadata
that no store can hold, and the same wording for the same mismatch everywhere."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

from jina_v3.errors import (
    ConfigurationError,
    DimensionMismatchError,
    JinaV3Error,
    UnsupportedFilterError,
)
from jina_v3.filters import matches, parse_filter
from jina_v3.index import AsyncVectorIndex, VectorIndex
from jina_v3.store import Document, EmbeddingSignature, Record, point_id

from .conftest import DIMS

QDRANT_FAMILY = {"qdrant-memory", "qdrant-path", "qdrant-edge"}


def _ids(index: Any, filter: Any = None) -> set[str]:
    return {h.document_id for h in index.search("anything", k=50, filter=filter)}


def test_point_ids_never_collide():
    assert point_id("a#0") != point_id("a", 0)
    assert point_id("a", 10) != point_id("a#1", 0)
    assert point_id("a", 0) == point_id("a", 0)


def test_a_plain_document_and_a_chunk_never_share_a_point(engine, make_store, tiny_embedder):
    index = VectorIndex(tiny_embedder, make_store(), dimensions=DIMS)
    index.add([Document("a#0", "plain"), Document("a", chunks=["zero", "one"])])
    assert index.count() == 3
    assert sorted(h.text for h in index.search("x", k=10)) == ["one", "plain", "zero"]


@pytest.mark.parametrize("late", [False, True])
def test_readding_a_document_replaces_all_its_points(engine, make_store, tiny_embedder, late):
    index = VectorIndex(tiny_embedder, make_store(), dimensions=DIMS, late_chunking=late)
    index.add([Document("d", chunks=["one", "two", "three"]), Document("other", "stays")])
    assert index.count() == 4
    index.add([Document("d", chunks=["only"])])  # fewer chunks
    assert index.count() == 2
    if not late:  # with late chunking every text is chunked: a plain one is one chunk
        index.add([Document("d", "plain now")])
        assert index.count() == 2
        assert {h.text for h in index.search("x", k=10)} == {"plain now", "stays"}
    index.add([Document("d", chunks=["a", "b"])])
    index.add([Document("d", chunks=["a", "b"])])  # idempotent
    assert index.count() == 3
    assert {h.chunk_index for h in index.search("x", k=10) if h.document_id == "d"} == {0, 1}


async def test_readding_replaces_all_points_async(engine, make_store, tiny_embedder):
    index = AsyncVectorIndex(tiny_embedder, make_store(), dimensions=DIMS)
    await index.add([Document("d", chunks=["one", "two", "three"])])
    await index.add([Document("d", "plain now")])
    assert await index.count() == 1
    await index.add([Document("d", "plain now")])
    assert await index.count() == 1


BIG = 2**60
SEMANTICS_DOCS = [
    Document("big0", "x", {"sid": BIG}),
    Document("big1", "x", {"sid": BIG + 1}),
    Document("big2", "x", {"sid": BIG + 2}),
    Document("bool", "x", {"flag": True}),
    Document("int", "x", {"flag": 1}),
    Document("float", "x", {"flag": 1.0}),
    Document("zero", "x", {"flag": 0}),
    Document("false", "x", {"flag": False}),
    Document("dotted", "x", {"a.b": 1, "sp ace": "v"}),
]
SEMANTICS_FILTERS: list[dict[str, Any]] = [
    {"sid": BIG + 1},
    {"sid": {"$ne": BIG + 1}},
    {"sid": {"$gte": BIG + 1}},
    {"sid": {"$gt": BIG}},
    {"sid": {"$lt": BIG + 2}},
    {"sid": {"$lte": BIG + 1}},
    {"sid": {"$in": [BIG, BIG + 2]}},
    {"sid": {"$nin": [BIG]}},
    {"flag": True},
    {"flag": False},
    {"flag": 1},
    {"flag": {"$ne": True}},
    {"flag": {"$ne": 1}},
    {"flag": {"$in": [True, 0]}},
    {"flag": {"$nin": [1]}},
    {"flag": {"$gte": 1}},
    {"a.b": 1},
    {"sp ace": "v"},
]


def test_filter_semantics_are_the_same_on_every_store(engine, make_store, tiny_embedder):
    """Integers compare exactly beyond 2**53, keys are literal, booleans are not numbers."""
    docs = list(SEMANTICS_DOCS)
    if engine != "pinecone":  # Pinecone metadata cannot nest
        docs.append(Document("nested", "x", {"a": {"b": 1}}))
    index = VectorIndex(tiny_embedder, make_store(), dimensions=DIMS)
    index.add(docs)
    wrong = []
    for filter in SEMANTICS_FILTERS:
        expected = {d.id for d in docs if matches(parse_filter(filter), d.metadata)}
        got = _ids(index, filter)
        if got != expected:
            wrong.append(
                f"{filter}: missing {sorted(expected - got)}, extra {sorted(got - expected)}"
            )
    assert not wrong, "\n".join(wrong)
    assert _ids(index, {"flag": True}) == {"bool"}  # the reference itself keeps them apart
    assert _ids(index, {"a.b": 1}) == {"dotted"}


def test_reference_evaluator_keeps_booleans_and_numbers_apart():
    tree = parse_filter({"flag": True})
    assert matches(tree, {"flag": True}) and not matches(tree, {"flag": 1})
    assert matches(parse_filter({"n": 1}), {"n": 1.0}) and not matches(
        parse_filter({"n": 1}), {"n": True}
    )
    assert matches(parse_filter({"n": {"$ne": 1}}), {"n": True})


def test_control_characters_in_ids_and_filter_values(engine, make_store, tiny_embedder):
    odd = ["nul\x00id", "soh\x01id", 'quote"id', "back\\slash", "new\nline", "tab\tid", "é"]
    index = VectorIndex(tiny_embedder, make_store(), dimensions=DIMS)
    index.add([Document(i, "text", {"key": i}) for i in odd])
    assert index.count() == len(odd)
    for i in odd:
        assert _ids(index, {"key": i}) == {i}, repr(i)
        assert _ids(index, {"document_id": i}) == {i}, repr(i)
    index.delete(odd[:4])
    assert index.count() == len(odd) - 4 and _ids(index) == set(odd[4:])


BAD_METADATA = [
    ({"v": float("nan")}, "finite"),
    ({"v": float("inf")}, "finite"),
    ({1: "x"}, "keys"),
    ({"v": 2**63}, "int64"),
    ({"v": object()}, "object"),
    ({"v": "\ud800"}, "surrogate"),
]


@pytest.mark.parametrize(("metadata", "words"), BAD_METADATA)
def test_metadata_no_store_can_hold_is_refused_with_nothing_written(
    engine, make_store, tiny_embedder, metadata, words
):
    with pytest.raises(ConfigurationError, match=words):
        Document("x", "text", metadata)
    store = make_store()
    VectorIndex(tiny_embedder, store, dimensions=DIMS).add([Document("ok", "fine")])
    vector = tiny_embedder.encode_passages(["text"], dimensions=DIMS)[0]
    good = Record(point_id("y"), vector, "text", {"v": 1}, "y")
    bad = Record(point_id("x"), vector, "text", metadata, "x")
    with pytest.raises(ConfigurationError, match=words):
        store.upsert([good, bad])
    assert store.count() == 1  # all or nothing


def test_documents_are_validated_where_they_are_made():
    for kwargs, words in (
        ({"text": ""}, "empty"),
        ({"text": "t", "chunks": ["c"]}, "both"),
        ({"chunks": [None, 42]}, "string"),
        ({"chunks": ["ok", "  "]}, "whitespace"),
        ({"text": "t", "metadata": "lang=en"}, "dict"),
        ({"text": "\ud800"}, "surrogate"),
    ):
        with pytest.raises(ConfigurationError, match=words):
            Document("d", **kwargs)
    assert Document("d", "t", None).metadata == {}  # None means no metadata


def test_filter_keys_and_depth(engine, make_store, tiny_embedder):
    index = VectorIndex(tiny_embedder, make_store(), dimensions=DIMS)
    index.add([Document("q", "x", {'we"ird': 1})])
    if engine in QDRANT_FAMILY:  # Qdrant's path syntax has no escape for '"'
        with pytest.raises(UnsupportedFilterError, match="Rename the key"):
            index.search("x", filter={'we"ird': 1})
    else:
        assert _ids(index, {'we"ird': 1}) == {"q"}
    deep: dict[str, Any] = {"a": 1}
    for _ in range(300):
        deep = {"$and": [deep]}
    with pytest.raises(UnsupportedFilterError, match="levels"):
        index.search("x", filter=deep)


def test_every_store_words_a_dimension_mismatch_the_same(engine, make_store, tiny_embedder):
    store = make_store()
    VectorIndex(tiny_embedder, store, dimensions=DIMS).add([Document("a", "x")])
    with pytest.raises(DimensionMismatchError) as err:
        store.ensure_collection(EmbeddingSignature(model=tiny_embedder.model_name, dimensions=16))
    message = str(err.value)
    assert f"holds {DIMS}-d vectors but this index makes 16-d ones" in message
    assert "recreate=True" in message and "deletes its data" in message
    with pytest.raises(DimensionMismatchError, match="deletes its data"):
        store.upsert([Record(point_id("b"), np.ones(16, np.float32), "b", {}, "b")])


def test_nan_vectors_are_refused(engine, make_store, tiny_embedder):
    store = make_store()
    VectorIndex(tiny_embedder, store, dimensions=DIMS).add([Document("a", "x")])
    vector = np.full(DIMS, np.nan, np.float32)
    with pytest.raises(ConfigurationError, match="NaN"):
        store.upsert([Record(point_id("b"), vector, "b", {}, "b")])
    assert store.count() == 1


def test_fetch_and_clear(engine, make_store, tiny_embedder):
    store = make_store()
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS, chunker=None)
    index.add([Document("a", "alpha", {"n": 1}), Document("b", chunks=["b0", "b1"])])
    got = store.fetch([point_id("b", 1), point_id("missing"), point_id("a")])
    assert [(h.document_id, h.chunk_index, h.text) for h in got] == [
        ("b", 1, "b1"),
        ("a", None, "alpha"),
    ]
    assert dict(got[1].metadata) == {"n": 1}
    store.clear()
    assert store.count() == 0
    assert store.read_signature() == index.signature
    index.add([Document("c", "again")])
    assert index.count() == 1


def test_engine_errors_we_translate_are_not_logged(engine, make_store, tiny_embedder, caplog):
    if not engine.startswith("milvus"):
        pytest.skip("only the pymilvus client logs the errors it raises")
    store = make_store()
    VectorIndex(tiny_embedder, store, dimensions=DIMS).add([Document("a", "x")])
    with caplog.at_level(logging.DEBUG, logger="pymilvus"), pytest.raises(JinaV3Error):
        store.query(np.ones(DIMS, np.float32), k=1, filter="no_such_field == 1")
    logged = [r for r in caplog.records if r.name.startswith("pymilvus")]
    assert not [r for r in logged if r.levelno >= logging.ERROR]


def test_a_freshly_opened_store_reads_without_ensure_collection(engine, make_store, tiny_embedder):
    if engine == "qdrant-memory":
        pytest.skip("an in-memory engine lives and dies with its client")
    name = f"fresh{engine.replace('-', '')}"
    first = make_store(name)
    index = VectorIndex(tiny_embedder, first, dimensions=DIMS, chunker=None)
    index.add([Document("a", "x"), Document("b", "y")])
    first.close()  # an embedded engine has one owner at a time
    fresh = make_store(name)  # a new store object on the same collection: nothing ensured
    assert [h.document_id for h in fresh.fetch([point_id("b")])] == ["b"]
    assert len(fresh.query(np.ones(DIMS, np.float32), k=5)) == 2
