"""MilvusStore specifics on the real engines: Milvus Lite (embedded) and the Milvus 2.3 server
(started once per test process, on loopback). The behaviour shared with every store is in
test_contract.py."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from jina_v3.connectors.base.common import SIGNATURE_KEY
from jina_v3.connectors.milvus import MAX_VARCHAR_BYTES, MilvusStore, to_expression
from jina_v3.errors import (
    ConfigurationError,
    DimensionMismatchError,
    SignatureMismatchError,
    StoreError,
    UnsupportedFilterError,
)
from jina_v3.filters import matches, parse_filter
from jina_v3.store import EmbeddingSignature, Record, point_id
from tests._milvus_server import milvus_server_command, shared_server

DIMS = 16
SIGNATURE = EmbeddingSignature(model="tiny", dimensions=DIMS)


def _records(n: int, seed: int = 0, dims: int = DIMS, **extra: Any) -> list[Record]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        Record(point_id(f"d{i}"), vectors[i], f"text {i}", {"n": i, **extra}, f"d{i}")
        for i in range(n)
    ]


@pytest.fixture(params=["lite", "server"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "lite":
        return str(tmp_path / "milvus.db")
    if milvus_server_command() is None:
        pytest.skip("the `milvus` package (milvus-server) is not installed")
    return shared_server().uri


@pytest.fixture
def lite_uri(tmp_path: Path) -> str:
    return str(tmp_path / "milvus.db")


@pytest.fixture
def stores():
    made: list[MilvusStore] = []
    yield made
    for store in made:
        store.close()


def _store(stores: list, name: str, uri: str, **options: Any) -> MilvusStore:
    store = MilvusStore(name, uri=uri, **options)
    stores.append(store)
    return store


class _Recording:
    """A real MilvusClient that remembers the row count of every upsert request."""

    def __init__(self, client: Any) -> None:
        self.client, self.upserts = client, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def upsert(self, collection: str, rows: list, **kwargs: Any) -> Any:
        self.upserts.append(len(rows))
        return self.client.upsert(collection, rows, **kwargs)


# -- filter expressions ------------------------------------------------------------------------


def test_expression_quotes_and_maps_reserved_fields():
    tree = parse_filter({"title": 'say "hi"\\now', "document_id": {"$in": ["a", "b"]}})
    expression = to_expression(tree)
    assert 'metadata["title"] == "say \\"hi\\"\\\\now"' in expression
    assert '(document_id == "a" or document_id == "b")' in expression
    assert "json_contains" in expression  # list-valued metadata fields match any element
    assert to_expression(parse_filter({"x": {"$in": []}})) == "id in []"
    assert to_expression(parse_filter({"ok": True})).startswith('(metadata["ok"] == true')


TRICKY = ['say "hi"', "back\\slash", "new\nline", "it's", "üñíçødé ✓", "tab\tend", ""]


def test_tricky_strings_filter_exactly(uri, stores, request):
    """Strings with quotes, backslashes, control characters and non-ASCII round-trip through
    the expression translation on the real engine, against the reference evaluator."""
    store = _store(stores, f"tricky_{request.node.callspec.id}", uri)
    store.ensure_collection(SIGNATURE, recreate=True)
    records = _records(len(TRICKY))
    records = [
        Record(r.id, r.vector, r.text, {"s": value, "k-e y": value}, r.document_id)
        for r, value in zip(records, TRICKY, strict=True)
    ]
    store.upsert(records)
    for value in TRICKY:
        for filter in (
            {"s": value},
            {"k-e y": {"$ne": value}},
            {"s": {"$in": [value, "zz"]}},
            {"s": {"$nin": [value]}},
        ):
            tree = parse_filter(filter)
            expected = {r.document_id for r in records if matches(tree, r.metadata)}
            got = {h.document_id for h in store.query(records[0].vector, k=20, filter=filter)}
            assert got == expected, filter


def test_native_expression_passes_through(uri, stores, request):
    store = _store(stores, f"native_{request.node.callspec.id}", uri)
    store.ensure_collection(SIGNATURE, recreate=True)
    records = _records(10)
    store.upsert(records)
    hits = store.query(records[0].vector, k=10, filter='metadata["n"] >= 7 and chunk_index == -1')
    assert {h.document_id for h in hits} == {"d7", "d8", "d9"}
    with pytest.raises(StoreError, match="query on collection"):
        store.query(records[0].vector, k=3, filter="no_such_field == 1")
    with pytest.raises(UnsupportedFilterError):
        store.query(records[0].vector, k=3, filter=42)


# -- schema, signature, batching ---------------------------------------------------------------


def test_signature_lives_in_collection_properties(uri, stores, request):
    name = f"sig_{request.node.callspec.id}"
    store = _store(stores, name, uri)
    store.ensure_collection(SIGNATURE, recreate=True)
    info = store.client.describe_collection(name)
    assert json.loads(info["properties"][SIGNATURE_KEY]) == SIGNATURE.to_dict()
    fields = {f["name"]: f for f in info["fields"]}
    assert set(fields) == {"id", "vector", "text", "document_id", "chunk_index", "metadata"}
    assert fields["vector"]["params"]["dim"] == DIMS
    assert store.read_signature() == SIGNATURE

    # a collection someone else made is refused (nothing written), and recreate rebuilds it
    client = store.client
    client.drop_collection(name)
    client.create_collection(name, dimension=DIMS)
    fresh = _store(stores, name, uri)
    with pytest.raises(SignatureMismatchError, match="not created by jina_v3"):
        fresh.ensure_collection(SIGNATURE)
    fresh.ensure_collection(SIGNATURE, recreate=True)
    assert fresh.read_signature() == SIGNATURE


def test_upserts_are_batched(uri, stores, request, monkeypatch):
    name = f"batch_{request.node.callspec.id}"
    probe = _store(stores, name, uri)
    recording = _Recording(probe.client)
    store = _store(stores, name, uri, client=recording, batch_size=7)
    store.ensure_collection(SIGNATURE, recreate=True)
    store.upsert(_records(20))
    assert recording.upserts == [7, 7, 6]
    assert store.count() == 20

    # the byte bound splits requests too (lowered here so a test can reach it)
    monkeypatch.setattr("jina_v3.connectors.milvus.store.MAX_REQUEST_BYTES", 2_000)
    recording.upserts.clear()
    store.upsert(_records(20, seed=1))
    assert len(recording.upserts) > 3 and sum(recording.upserts) == 20
    assert max(recording.upserts) < 7
    assert store.count() == 20  # same ids: overwritten, not added


def test_long_text_is_cut_with_a_warning(lite_uri, stores, caplog):
    store = _store(stores, "long", lite_uri)
    store.ensure_collection(SIGNATURE)
    text = "é" * 40_000  # 80,000 bytes; the cut falls inside a two-byte character
    record = Record(point_id("long"), _records(1)[0].vector, text, {}, "long")
    with caplog.at_level(logging.WARNING, logger="jina_v3.connectors.milvus"):
        store.upsert([record])
    assert record.id in caplog.text and "cut" in caplog.text
    (hit,) = store.query(record.vector, k=1)
    assert text.startswith(hit.text)
    assert len(hit.text.encode()) <= MAX_VARCHAR_BYTES
    assert len(hit.text.encode()) > MAX_VARCHAR_BYTES - 2


def test_dimension_checked_before_writing(uri, stores, request):
    store = _store(stores, f"dims_{request.node.callspec.id}", uri)
    store.ensure_collection(SIGNATURE, recreate=True)
    with pytest.raises(DimensionMismatchError, match=f"dimensions={DIMS}"):
        store.upsert(_records(3, dims=8))
    with pytest.raises(DimensionMismatchError):
        store.query(np.ones(8, np.float32), k=1)
    assert store.count() == 0


def test_database_errors_are_wrapped(uri, stores, request):
    name = f"gone_{request.node.callspec.id}"
    store = _store(stores, name, uri)
    store.ensure_collection(SIGNATURE, recreate=True)
    store.client.drop_collection(name)  # behind the store's back
    with pytest.raises(StoreError, match=f"upsert on collection '{name}'") as err:
        store.upsert(_records(2))
    assert err.value.__cause__ is not None
    assert store.count() == 0 and store.read_signature() is None


# -- engines and layouts -----------------------------------------------------------------------


def test_lite_collection_persists_and_reopens(lite_uri):
    store = MilvusStore("persist", uri=lite_uri)
    store.ensure_collection(SIGNATURE)
    records = _records(5)
    store.upsert(records)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.count()

    reopened = MilvusStore("persist", uri=lite_uri)
    try:
        reopened.ensure_collection(SIGNATURE)  # loads the released collection
        assert reopened.count() == 5
        assert reopened.query(records[2].vector, k=1)[0].document_id == "d2"
    finally:
        reopened.close()


def test_a_passed_client_is_not_closed(lite_uri):
    from pymilvus import MilvusClient

    client = MilvusClient(lite_uri)
    store = MilvusStore("shared", client=client)
    store.ensure_collection(SIGNATURE)
    store.close()
    assert client.has_collection("shared")  # still usable
    client.close()


def test_funnel_layout_is_checked(lite_uri, stores):
    store = _store(stores, "funnel", lite_uri, funnel_dimensions=4)
    store.ensure_collection(SIGNATURE)
    fields = {f["name"]: f for f in store.client.describe_collection("funnel")["fields"]}
    assert fields["funnel"]["params"]["dim"] == 4
    records = _records(30)
    store.upsert(records)
    exact = max(records, key=lambda r: float(r.vector @ records[3].vector))
    (hit,) = store.query(records[3].vector, k=1)
    assert hit.document_id == exact.document_id == "d3"
    assert hit.score == pytest.approx(1.0, abs=1e-5)  # rescored on the full vector

    with pytest.raises(SignatureMismatchError, match="funnel_dimensions=4"):
        _store(stores, "funnel", lite_uri, funnel_dimensions=8).ensure_collection(SIGNATURE)
    with pytest.raises(ConfigurationError, match="smaller"):
        _store(stores, "f2", lite_uri, funnel_dimensions=DIMS).ensure_collection(SIGNATURE)
    # a store without the option searches the full vectors of the same collection
    plain = _store(stores, "funnel", lite_uri)
    assert plain.query(records[3].vector, k=1)[0].document_id == "d3"


BINARY = EmbeddingSignature(model="tiny", dimensions=DIMS, embedding_type="ubinary")


def test_binary_vectors_on_the_server(stores):
    if milvus_server_command() is None:
        pytest.skip("the `milvus` package (milvus-server) is not installed")
    store = _store(stores, "binary", shared_server().uri)
    store.ensure_collection(BINARY, recreate=True)
    fields = {f["name"]: f for f in store.client.describe_collection("binary")["fields"]}
    assert fields["vector"]["type"].name == "BINARY_VECTOR"
    floats = _records(12)
    packed = [
        Record(r.id, np.packbits(r.vector > 0), r.text, r.metadata, r.document_id) for r in floats
    ]
    store.upsert(packed)
    query = np.packbits(floats[4].vector > 0)
    hamming = {
        r.document_id: int(np.unpackbits(np.bitwise_xor(r.vector, query)).sum()) for r in packed
    }
    hits = store.query(query, k=12)
    assert [hamming[h.document_id] for h in hits] == sorted(hamming.values())
    assert hits[0].score == 1.0  # equal bits / all bits
    for hit in hits:
        assert hit.score == pytest.approx(1 - hamming[hit.document_id] / DIMS)
    # a float query is reduced to its sign bits
    assert store.query(floats[4].vector, k=1)[0].score == 1.0
    with pytest.raises(DimensionMismatchError):
        store.query(np.zeros(DIMS // 4, np.uint8), k=1)


def test_engine_limits_are_explained(lite_uri, stores):
    lite = _store(stores, "nobinary", lite_uri)
    with pytest.raises(StoreError, match="no BINARY_VECTOR"):
        lite.ensure_collection(BINARY)
    assert lite.count() == 0
    if milvus_server_command() is None:
        return
    server = _store(stores, "nofunnel", shared_server().uri, funnel_dimensions=4)
    with pytest.raises(StoreError, match="one vector field"):
        server.ensure_collection(SIGNATURE, recreate=True)


def test_arguments_are_checked_eagerly(tmp_path):
    with pytest.raises(ConfigurationError):
        MilvusStore("")
    with pytest.raises(ConfigurationError):
        MilvusStore("x", consistency_level="Sometimes")
    with pytest.raises(ConfigurationError):
        MilvusStore("x", batch_size=0)
    store = MilvusStore("x", uri=str(tmp_path / "lazy.db"), token="user:secret-pass")
    assert not (tmp_path / "lazy.db").exists()  # nothing opened yet
    assert "secret" not in repr(store)
