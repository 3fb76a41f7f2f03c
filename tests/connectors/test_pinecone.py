"""PineconeStore specifics, through the real `pinecone` SDK over HTTP against the Pinecone-API
test server on 127.0.0.1 (tests/_pinecone_server.py), plus one opt-in test against the real
service (``-m pinecone_cloud`` with ``PINECONE_API_KEY`` set). The behaviour shared with every
store is in test_contract.py."""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from typing import Any

import numpy as np
import pytest

pinecone = pytest.importorskip("pinecone")

from jina_v3.connectors.pinecone import (  # noqa: E402
    MAX_METADATA_BYTES,
    PineconeStore,
    signature_from_tags,
    signature_tags,
)
from jina_v3.errors import (  # noqa: E402
    ConfigurationError,
    DimensionMismatchError,
    SignatureMismatchError,
    StoreError,
    UnsupportedFilterError,
)
from jina_v3.store import EmbeddingSignature, Record, point_id  # noqa: E402
from tests._pinecone_server import MAX_REQUEST_BYTES, PineconeTestServer  # noqa: E402

DIMS = 16
SIGNATURE = EmbeddingSignature(model="jina-embeddings-v3", dimensions=DIMS)


@pytest.fixture
def server():
    with PineconeTestServer() as srv:
        yield srv


@pytest.fixture
def pc(server):
    client = pinecone.Pinecone(api_key=server.api_key, host=server.url)
    yield client
    client.close()


def _store(server: PineconeTestServer, name: str = "docs", **options: Any) -> PineconeStore:
    return PineconeStore(name, api_key=server.api_key, controller_host=server.url, **options)


def _records(n: int, dims: int = DIMS, seed: int = 0, text: str = "", **meta: Any) -> list:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        Record(point_id(f"d{i}"), vectors[i], text or f"text {i}", {"n": i, **meta}, f"d{i}")
        for i in range(n)
    ]


def _upserts(server: PineconeTestServer) -> list[tuple[str, str, int, int]]:
    return [r for r in server.requests if r[1] == "/vectors/upsert"]


# -- the test server answers like Pinecone (checked through the real SDK) ----------------------


def test_server_enforces_pinecones_limits(server, pc):
    model = pc.indexes.create(name="limits", dimension=4, metric="cosine")
    index = pc.index(host=model.host)
    too_many = [(f"v{i}", [1.0, 0, 0, 0]) for i in range(1001)]
    with pytest.raises(pinecone.ApiError, match="1001 vectors"):
        index.upsert(vectors=too_many)
    too_big = [{"id": "v", "values": [1.0, 0, 0, 0], "metadata": {"t": "x" * 41_000}}]
    with pytest.raises(pinecone.ApiError, match="exceeds the limit of 40960"):
        index.upsert(vectors=too_big)
    big_request = [
        {"id": f"v{i}", "values": [1.0, 0, 0, 0], "metadata": {"t": "x" * 30_000}}
        for i in range(80)
    ]
    with pytest.raises(pinecone.ApiError, match="maximum supported size of 2MB"):
        index.upsert(vectors=big_request)
    with pytest.raises(pinecone.ApiError, match="metadata value"):
        index.upsert(vectors=[{"id": "v", "values": [1.0, 0, 0, 0], "metadata": {"a": None}}])
    with pytest.raises(pinecone.ApiError, match="dimension 3 does not match"):
        index.upsert(vectors=[("v", [1.0, 0, 0])])
    assert index.describe_index_stats().total_vector_count == 0  # all-or-nothing

    # cosine like the service: unnormalised vectors score by angle, not by dot product
    index.upsert(vectors=[("a", [3.0, 0, 0, 0]), ("b", [1.0, 1.0, 0, 0])])
    matches = index.query(vector=[2.0, 0, 0, 0], top_k=2).matches
    assert [(m.id, round(m.score, 5)) for m in matches] == [("a", 1.0), ("b", 0.70711)]

    # at most 1000 sparse values per vector: a record's, and a query's too
    sparse = pc.index(host=pc.indexes.create(name="sparse", dimension=4, metric="dotproduct").host)
    wide = {"indices": list(range(1001)), "values": [1.0] * 1001}
    with pytest.raises(pinecone.ApiError, match="1001 non-zero values; the maximum is 1000"):
        sparse.upsert(vectors=[{"id": "w", "values": [1.0, 0, 0, 0], "sparse_values": wide}])
    sparse.upsert(vectors=[{"id": "s", "values": [1.0, 0, 0, 0], "sparse_values": {
        "indices": [1], "values": [1.0]}}])  # fmt: skip
    with pytest.raises(pinecone.ApiError, match="1001 non-zero values; the maximum is 1000") as err:
        sparse.query(vector=[0.0] * 4, sparse_vector=wide, top_k=1)
    assert err.value.status_code == 400
    full = {"indices": list(range(1000)), "values": [1.0] * 1000}
    assert sparse.query(vector=[0.0] * 4, sparse_vector=full, top_k=1).matches[0].id == "s"

    with pytest.raises(pinecone.UnauthorizedError):
        pinecone.Pinecone(api_key="wrong", host=server.url).indexes.describe("limits")


# -- the store -------------------------------------------------------------------------------


def test_signature_is_stored_as_index_tags(server, pc):
    store = _store(server)
    store.ensure_collection(SIGNATURE)
    tags = dict(pc.indexes.describe("docs").tags)
    assert tags == signature_tags(SIGNATURE)
    assert tags["jina_v3_dimensions"] == str(DIMS)
    assert tags["jina_v3_query_task"] == "retrieval.query"
    assert store.read_signature() == SIGNATURE
    store.close()

    # a local model path that is too long for a tag value is kept as a digest
    local = EmbeddingSignature(model="/models/" + "jina-v3/" * 30, dimensions=DIMS)
    assert signature_tags(local)["jina_v3_model"].startswith("sha256:")
    assert signature_from_tags(signature_tags(local)).dimensions == DIMS
    other = _store(server, "local")
    other.ensure_collection(local)
    other.ensure_collection(local)  # the same long name matches its digest
    other.upsert(_records(1))  # (an empty index would be re-created for the new settings)
    with pytest.raises(SignatureMismatchError, match="model"):
        other.ensure_collection(EmbeddingSignature(model="/other/path", dimensions=DIMS))
    other.close()


def test_existing_indexes_are_checked(server, pc):
    pc.indexes.create(name="foreign", dimension=DIMS, metric="cosine")
    index = pc.index(host=pc.indexes.describe("foreign").host)
    index.upsert(vectors=[("x", [1.0] * DIMS)])
    with pytest.raises(SignatureMismatchError, match="without an embedding signature"):
        _store(server, "foreign").ensure_collection(SIGNATURE)
    assert pc.indexes.describe("foreign").tags is None  # nothing written

    pc.indexes.create(name="empty", dimension=DIMS, metric="cosine")
    _store(server, "empty").ensure_collection(SIGNATURE)  # an empty index is adopted
    assert signature_from_tags(pc.indexes.describe("empty").tags) == SIGNATURE

    pc.indexes.create(name="wide", dimension=64, metric="cosine")
    with pytest.raises(DimensionMismatchError, match="dimensions=64"):
        _store(server, "wide").ensure_collection(SIGNATURE)

    pc.indexes.create(name="dot", dimension=DIMS, metric="dotproduct")
    with pytest.raises(SignatureMismatchError, match="cosine"):
        _store(server, "dot").ensure_collection(SIGNATURE)

    with pytest.raises(StoreError, match="create_if_missing"):
        _store(server, "absent", create_if_missing=False).ensure_collection(SIGNATURE)
    assert _store(server, "absent").count() == 0

    store = _store(server, "foreign")
    store.ensure_collection(SIGNATURE, recreate=True)
    assert store.count() == 0 and store.read_signature() == SIGNATURE


def test_upserts_respect_request_limits(server):
    store = _store(server, batch_size=1000)
    store.ensure_collection(SIGNATURE)
    store.upsert(_records(2300))
    sizes = [r[3] for r in _upserts(server)]
    assert len(sizes) == 3 and all(r[2] == 200 for r in _upserts(server))
    assert store.count() == 2300

    # 1024-d vectors with 8 KB texts: the 2 MB bound splits long before 1000 vectors
    wide = EmbeddingSignature(model="jina-embeddings-v3", dimensions=1024)
    big = _store(server, "wide")
    big.ensure_collection(wide)
    server.requests.clear()
    big.upsert(_records(300, dims=1024, text="w" * 8_000))
    upserts = _upserts(server)
    assert len(upserts) > 1 and all(r[2] == 200 for r in upserts)
    assert all(r[3] <= MAX_REQUEST_BYTES for r in upserts)
    assert max(r[3] for r in upserts) > MAX_REQUEST_BYTES * 0.8  # requests are well filled
    assert big.count() == 300

    with pytest.raises(ConfigurationError, match="1000"):
        _store(server, batch_size=1001)


def test_a_write_sends_a_repeated_id_once_as_its_last_version(server):
    """Pages of one write never repeat an id: what a page overwrites is read before it is
    written (the keyword statistics), and Pinecone's reads are only eventually consistent."""
    store = _store(server, batch_size=2)
    store.ensure_collection(SIGNATURE)
    a, b = _records(2)
    newer = Record(a.id, b.vector, "newer", {"n": 9}, a.document_id)
    server.requests.clear()
    store.upsert([a, b, newer])  # pages of two: [a, b], [newer] without the collapse
    assert len(_upserts(server)) == 1
    sent = server.last_body["/vectors/upsert"]["vectors"]
    assert [v["id"] for v in sent] == [b.id, a.id]  # where the last version came
    assert server.vectors("docs")[a.id][1]["text"] == "newer"
    assert store.count() == 2


def test_metadata_text_is_cut_to_40kb_with_a_warning(server, caplog):
    store = _store(server)
    store.ensure_collection(SIGNATURE)
    (record,) = _records(1, text="ü" * 30_000)  # 60 KB of two-byte characters
    with caplog.at_level(logging.WARNING, logger="jina_v3.connectors.pinecone"):
        store.upsert([record])
    assert record.id in caplog.text and "40960" in caplog.text
    (hit,) = store.query(record.vector, k=1)
    assert record.text.startswith(hit.text) and len(hit.text) > 20_000
    stored = server.vectors("docs")[record.id][1]
    size = len(json.dumps(stored, separators=(",", ":"), ensure_ascii=False).encode())
    assert MAX_METADATA_BYTES - 8 <= size <= MAX_METADATA_BYTES

    (huge,) = _records(1, seed=1, blob="x" * 41_000)
    with pytest.raises(StoreError, match="without its text"):
        store.upsert([huge])


def test_metadata_values_are_checked(server):
    store = _store(server)
    store.ensure_collection(SIGNATURE)
    (record,) = _records(1, maybe=None, tags=["a", "b"], score=np.float32(0.5))
    store.upsert([record])
    (hit,) = store.query(record.vector, k=1)
    assert dict(hit.metadata) == {"n": 0, "tags": ["a", "b"], "score": 0.5}  # null dropped
    (bad,) = _records(1, seed=2, nested={"a": 1})
    with pytest.raises(ConfigurationError, match="nested"):
        store.upsert([bad])
    assert store.count() == 1


def test_filters_go_to_pinecone_as_they_are(server):
    store = _store(server)
    store.ensure_collection(SIGNATURE)
    records = _records(10, group=["x"])
    store.upsert(records)
    filter = {"$or": [{"n": {"$gte": 8}}, {"n": {"$in": [1, 2]}}], "group": "x"}
    hits = store.query(records[0].vector, k=10, filter=filter)
    assert {h.document_id for h in hits} == {"d1", "d2", "d8", "d9"}
    assert server.last_body["/query"]["filter"] == filter
    with pytest.raises(UnsupportedFilterError):
        store.query(records[0].vector, k=3, filter={"n": {"$exists": True}})
    with pytest.raises(UnsupportedFilterError):
        store.query(records[0].vector, k=3, filter="n > 3")
    with pytest.raises(ConfigurationError, match="10000"):
        store.query(records[0].vector, k=10_001)


def test_namespaces_are_isolated(server):
    english = _store(server, namespace="en")
    german = _store(server, namespace="de")
    english.ensure_collection(SIGNATURE)
    german.ensure_collection(SIGNATURE)
    english.upsert(_records(5))
    german.upsert(_records(3, seed=1))
    assert (english.count(), german.count()) == (5, 3)
    german.delete(document_ids=["d0", "d1"])
    assert (english.count(), german.count()) == (5, 1)
    assert {h.document_id for h in english.query(_records(1)[0].vector, k=10)} == {
        f"d{i}" for i in range(5)
    }
    english.delete(ids=[point_id("d4")])
    assert english.count() == 4


def test_host_only_store_finds_its_index(server):
    named = _store(server)
    named.ensure_collection(SIGNATURE)
    named.upsert(_records(4))
    by_host = PineconeStore(
        host=named.index.host, api_key=server.api_key, controller_host=server.url
    )
    by_host.ensure_collection(SIGNATURE)
    assert by_host.count() == 4
    assert by_host.read_signature() == SIGNATURE
    with pytest.raises(DimensionMismatchError):
        by_host.ensure_collection(EmbeddingSignature(model="jina-embeddings-v3", dimensions=8))


def test_failures_are_wrapped_and_resumable(server):
    store = _store(server, batch_size=10)
    store.ensure_collection(SIGNATURE)
    records = _records(30)
    server.fail_next("/vectors/upsert", status=503)  # transient: the SDK retries it
    store.upsert(records[:10])
    assert store.count() == 10

    server.requests.clear()
    server.fail_next("/vectors/upsert", status=400)  # refused: not retried
    with pytest.raises(StoreError, match="upsert on collection 'docs'") as err:
        store.upsert(records)
    assert err.value.__cause__ is not None
    assert [r[2] for r in _upserts(server)] == [400]
    store.upsert(records)  # the same call again completes the ingestion
    assert store.count() == 30


def test_api_key_handling(server, monkeypatch, caplog):
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="PINECONE_API_KEY"):
        PineconeStore("docs")
    monkeypatch.setenv("PINECONE_API_KEY", server.api_key)
    store = PineconeStore("docs", controller_host=server.url)
    store.ensure_collection(SIGNATURE)  # the key came from the environment
    assert server.api_key not in repr(store)

    wrong = PineconeStore("docs", api_key="pc-wrong-key-123", controller_host=server.url)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(StoreError) as err:
            wrong.ensure_collection(SIGNATURE)
    assert "pc-wrong-key-123" not in str(err.value)
    assert "pc-wrong-key-123" not in caplog.text


def test_binary_vectors_are_refused(server):
    store = _store(server)
    with pytest.raises(ConfigurationError, match="float"):
        store.ensure_collection(
            EmbeddingSignature(model="m", dimensions=DIMS, embedding_type="ubinary")
        )
    assert store.count() == 0


# -- the real service (opt-in) ---------------------------------------------------------------


@pytest.mark.pinecone_cloud
@pytest.mark.skipif(not os.environ.get("PINECONE_API_KEY"), reason="needs PINECONE_API_KEY")
def test_real_pinecone_round_trip():
    name = f"jina-v3-test-{uuid.uuid4().hex[:8]}"
    store = PineconeStore(name, namespace="t", ready_timeout=300)
    try:
        store.ensure_collection(SIGNATURE)
        records = _records(20)
        store.upsert(records)
        deadline = time.monotonic() + 120  # the service is eventually consistent
        while store.count() < 20 and time.monotonic() < deadline:
            time.sleep(2)
        assert store.count() == 20
        hits = store.query(records[3].vector, k=3, filter={"n": {"$lt": 10}})
        assert hits[0].document_id == "d3" and hits[0].score == pytest.approx(1.0, abs=1e-3)
        assert store.read_signature() == SIGNATURE
    finally:
        try:
            store.client.indexes.delete(name, timeout=120)
        finally:
            store.close()
