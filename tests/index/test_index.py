"""VectorIndex / AsyncVectorIndex, the chunker and the Qdrant connectors' own options, on real
embedded engines (Qdrant local mode and Qdrant Edge) with the tiny local checkpoint."""

from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pytest

from jina_v3.chunking import TextChunker, estimate_tokens
from jina_v3.errors import (
    ConfigurationError,
    DimensionMismatchError,
    InputTooLongError,
    MissingDependencyError,
    SignatureMismatchError,
    StoreError,
    UnsupportedFilterError,
)
from jina_v3.index import AsyncVectorIndex, VectorIndex
from jina_v3.index.plan import Planned, plan_ingest
from jina_v3.index.store import prefix_vectors
from jina_v3.store import (
    AsyncVectorStore,
    Document,
    EmbeddingSignature,
    VectorStore,
    check_signature,
    point_id,
)

pytest.importorskip("qdrant_client")
from qdrant_client import AsyncQdrantClient, QdrantClient, models

from jina_v3.connectors.qdrant import QdrantStore

DIMS = 32
DOCS = [
    Document(
        f"d{i}", f"Short passage number {i} about topic {i % 4}.", {"i": i, "even": i % 2 == 0}
    )
    for i in range(12)
]


@pytest.fixture
def shm() -> Path:
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="jv3-", dir=base) as path:
        yield Path(path)


@pytest.fixture
def store():
    s = QdrantStore(f"c{uuid.uuid4().hex[:8]}", location=":memory:")
    yield s
    s.close()


class _Recorder:
    """A real store, with the calls made to it recorded."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []
        self.collection = getattr(inner, "collection", None)

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return attr(*args, **kwargs)

        return call


# -- construction and validation ---------------------------------------------------------------


def test_signature_comes_from_the_embedder(tiny_embedder, store):
    index = VectorIndex(tiny_embedder, store)
    assert index.dimensions == tiny_embedder.max_dimensions == 64
    assert index.signature == EmbeddingSignature(
        model=tiny_embedder.model_name,
        dimensions=64,
        query_task="retrieval.query",
        passage_task="retrieval.passage",
        normalized=True,
        embedding_type="float",
        late_chunking=False,
    )
    assert VectorIndex(tiny_embedder, store, dimensions=16, late_chunking=True).signature == (
        EmbeddingSignature(tiny_embedder.model_name, 16, late_chunking=True)
    )
    assert "dimensions=64" in repr(index)
    assert isinstance(store, VectorStore) and isinstance(store, AsyncVectorStore)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dimensions": 0},
        {"dimensions": 65},
        {"dimensions": "32"},
        {"embedding_type": "binary"},
        {"embedding_type": "base64"},
        {"embedding_type": "ubinary", "dimensions": 12},
        {"batch_size": 0},
        {"batch_size": True},
        {"chunker": "sentences"},
    ],
)
def test_bad_arguments_are_configuration_errors(tiny_embedder, store, kwargs):
    with pytest.raises(ConfigurationError):
        VectorIndex(tiny_embedder, store, **kwargs)


def test_bad_documents_and_queries(tiny_embedder, store):
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS)
    with pytest.raises(ConfigurationError, match="reserved"):
        index.add([Document("a", "x", {"text": "clash"})])
    with pytest.raises(ConfigurationError, match="Document"):
        index.add(["just a string"])
    with pytest.raises(ConfigurationError):
        index.add(Document("a", "x"))
    with pytest.raises(ConfigurationError, match="id"):
        index.add([Document("", "x")])
    with pytest.raises(ConfigurationError, match="chunks"):
        index.add([Document("a", chunks=[])])
    with pytest.raises(ConfigurationError, match="k must"):
        index.search("q", k=0)
    with pytest.raises(ConfigurationError, match="query"):
        index.search(["q"])
    assert index.count() == 0


# -- add / search behaviour --------------------------------------------------------------------


def test_add_streams_in_batches(tiny_embedder, store):
    recorder = _Recorder(store)
    index = VectorIndex(tiny_embedder, recorder, dimensions=DIMS, batch_size=5)
    consumed = []

    def documents():
        for doc in DOCS:
            consumed.append(doc.id)
            yield doc

    upserts_seen_at = []
    original = recorder.inner.upsert

    def upsert(records):
        upserts_seen_at.append(len(consumed))
        original(records)

    recorder.inner.upsert = upsert
    assert index.add(documents()) == len(DOCS)
    # written while the input streams: batch n is written while batch n+1 is read and
    # embedded (one write in flight), so a write is seen at most one batch late
    assert len(upserts_seen_at) == 3 and upserts_seen_at[0] < len(DOCS)
    assert all(seen <= min(5 * (i + 2), len(DOCS)) for i, seen in enumerate(upserts_seen_at))
    names = [c[0] for c in recorder.calls]
    assert names.count("ensure_collection") == 1
    assert names.count("read_signature") == 0  # first use: ensure_collection checked it
    index.add(DOCS[:1])
    index.search("topic")
    assert [c[0] for c in recorder.calls].count("read_signature") == 2  # once per call


def test_search_uses_query_task_and_dimensions(tiny_embedder, store):
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS)
    index.add(DOCS)
    passages = tiny_embedder.encode_passages([d.text for d in DOCS], dimensions=DIMS)
    query = tiny_embedder.encode_queries("topic 2", dimensions=DIMS)
    wrong_task = tiny_embedder.encode_passages("topic 2", dimensions=DIMS)
    hits = index.search("topic 2", k=len(DOCS))
    got = {h.document_id: h.score for h in hits}
    for doc, vector in zip(DOCS, passages, strict=True):
        assert got[doc.id] == pytest.approx(float(vector @ query), abs=1e-5)
    assert any(
        abs(got[d.id] - float(v @ wrong_task)) > 1e-3 for d, v in zip(DOCS, passages, strict=True)
    )


def test_signature_is_checked_on_every_call(tiny_embedder, store):
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS)
    index.add(DOCS[:3])
    VectorIndex(tiny_embedder, store, dimensions=16, recreate=True).add(DOCS[:2])
    with pytest.raises(DimensionMismatchError, match="dimensions=16"):
        index.add(DOCS)
    with pytest.raises(DimensionMismatchError):
        index.search("x")
    assert store.count() == 2
    store.client.delete_collection(store.collection)
    with pytest.raises(StoreError, match="no longer exists"):
        index.search("x")


def test_check_signature_messages():
    stored = EmbeddingSignature("m", 32)
    check_signature(stored, stored, collection="c")
    check_signature(stored, None, collection="c")
    with pytest.raises(DimensionMismatchError, match=r"dimensions=32.*recreate=True"):
        check_signature(EmbeddingSignature("m", 64), stored, collection="c")
    with pytest.raises(SignatureMismatchError, match="normalized") as err:
        check_signature(EmbeddingSignature("m", 32, normalized=False), stored, collection="c")
    assert not isinstance(err.value, DimensionMismatchError)
    assert "new collection" in str(err.value)


def test_chunks_without_late_chunking_are_embedded_one_by_one(tiny_embedder, store):
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS, chunker=None)
    doc = Document("doc", metadata={"k": "v"}, chunks=["First chunk here.", "And the second."])
    assert index.add([doc, DOCS[0]]) == 3
    q = tiny_embedder.encode_queries("chunk", dimensions=DIMS)
    single = tiny_embedder.encode_passages(list(doc.chunks), dimensions=DIMS)
    hits = {h.id: h for h in index.search("chunk", k=5)}
    for j, chunk in enumerate(doc.chunks):
        hit = hits[point_id("doc", j)]
        assert (hit.text, hit.chunk_index, dict(hit.metadata)) == (chunk, j, {"k": "v"})
        assert hit.score == pytest.approx(float(single[j] @ q), abs=1e-5)
    assert hits[point_id(DOCS[0].id)].chunk_index is None


def test_late_chunking_splits_plain_documents_with_the_default_chunker(tiny_embedder, store):
    text = " ".join(f"Sentence number {i} says something about item {i}." for i in range(40))
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS, late_chunking=True)
    written = index.add([Document("long", text, {"kind": "essay"})])
    expected_chunks = TextChunker.for_embedder(tiny_embedder)(text)
    assert written == len(expected_chunks) > 1
    late = tiny_embedder.encode_late_chunked([expected_chunks], dimensions=DIMS)[0]
    q = tiny_embedder.encode_queries("item 7", dimensions=DIMS)
    for hit in index.search("item 7", k=written):
        assert hit.text == expected_chunks[hit.chunk_index]
        assert hit.score == pytest.approx(float(late[hit.chunk_index] @ q), abs=1e-5)


def _essay(sentences: int) -> str:
    return " ".join(f"Sentence number {i} says something about item {i}." for i in range(sentences))


def test_documents_are_chunked_by_default_as_the_cli_chunks_them(tiny_embedder, store):
    text = _essay(100)  # about 1,200 tokens
    assert tiny_embedder.backend.count_tokens([text])[0] > 1000
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS)
    cli_chunks = TextChunker.for_embedder(tiny_embedder)(text)  # what `jina-v3 index` cuts
    assert index.add([Document("essay", text)]) == len(cli_chunks) > 1
    single = tiny_embedder.encode_passages(cli_chunks, dimensions=DIMS)
    q = tiny_embedder.encode_queries("item 42", dimensions=DIMS)
    for hit in index.search("item 42", k=len(cli_chunks)):
        assert hit.text == cli_chunks[hit.chunk_index]
        assert hit.score == pytest.approx(float(single[hit.chunk_index] @ q), abs=1e-5)
    # the opt-out: one point per document
    whole = VectorIndex(tiny_embedder, QdrantStore("whole", location=":memory:"), chunker=None)
    assert whole.add([Document("essay", text)]) == 1
    assert whole.search("item 42", k=1)[0].chunk_index is None


def test_an_over_long_input_is_named_by_its_document(tiny_embedder, store):
    huge = _essay(1000)  # about 12k tokens, over the 8192-token context
    limit = tiny_embedder.backend.max_tokens
    docs = [Document("small", "Fine."), Document("big", huge)]
    assert VectorIndex(tiny_embedder, store, dimensions=DIMS).add(docs) > 40  # chunked: fits
    unchunked = VectorIndex(tiny_embedder, store, dimensions=DIMS, chunker=None)
    with pytest.raises(InputTooLongError, match="Document 'big' has") as caught:
        unchunked.add(docs)
    assert "Input" not in str(caught.value) and "chunker='default'" in str(caught.value)
    assert (caught.value.index, caught.value.limit) == (1, limit)
    assert caught.value.tokens > limit
    one_chunk = VectorIndex(tiny_embedder, store, dimensions=DIMS, chunker=lambda t: ["Intro.", t])
    with pytest.raises(InputTooLongError, match="Document 'big', chunk 1, has"):
        one_chunk.add(docs)


def test_an_over_long_late_chunked_request_names_its_documents():
    # a server's refusal of a late-chunked request says no row (index -1)
    refused = InputTooLongError(
        "The request is over the model's context",
        index=-1,
        tokens=-1,
        limit=-1,
        status_code=400,
        body="sequence too long",
    )
    planned = [
        Planned(Document("a", "x y"), ["x", "y"], "h"),
        Planned(Document("b", "z"), ["z"], "h"),
    ]
    told = plan_ingest(planned[:1], late_chunking=True).too_long(refused, late=True)
    assert str(told).startswith("Document 'a' is over the model's context (HTTP 400)")
    assert (told.index, told.status_code, told.body) == (-1, 400, "sequence too long")
    both = plan_ingest(planned, late_chunking=True).too_long(refused, late=True)
    assert str(both).startswith("One of documents 'a', 'b' is over")


def test_custom_chunker(tiny_embedder, store):
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS, chunker=lambda t: t.split("|"))
    assert index.add([Document("a", "one|two|three")]) == 3
    assert sorted(h.text for h in index.search("x", k=5)) == ["one", "three", "two"]


async def test_async_index_with_async_embedder(tiny_model_path):
    from jina_v3 import AsyncEmbedder

    embedder = AsyncEmbedder(str(tiny_model_path), dtype="float32")
    store = QdrantStore("async", location=":memory:")
    async with AsyncVectorIndex(embedder, store, dimensions=DIMS) as index:
        assert await index.add(DOCS) == len(DOCS)
        hits = await index.search("topic 1", k=3, filter={"even": False})
        assert len(hits) == 3 and all(not h.metadata["even"] for h in hits)
        assert await index.count() == len(DOCS)


# -- Qdrant connector options ------------------------------------------------------------------


def test_qdrant_store_needs_exactly_one_source(shm):
    with pytest.raises(ConfigurationError, match="url, location, path, client"):
        QdrantStore("c")
    with pytest.raises(ConfigurationError, match="got location, path"):
        QdrantStore("c", location=":memory:", path=str(shm))
    with pytest.raises(ConfigurationError):
        QdrantStore("c", client=QdrantClient(":memory:"), timeout=3)
    with pytest.raises(ConfigurationError):
        QdrantStore("c", location=":memory:", funnel_dimensions=0)
    with pytest.raises(ConfigurationError):
        QdrantStore("", location=":memory:")
    with pytest.raises(ConfigurationError, match="keyword, integer, float, bool"):
        QdrantStore("c", location=":memory:", payload_indexes={"lang": "text"})


def test_qdrant_store_is_lazy_and_leaves_your_client_open(tiny_embedder):
    store = QdrantStore("c", url="http://127.0.0.1:9")  # nothing listens there: never dialled
    assert "url=" in repr(store)
    store.close()
    client = QdrantClient(":memory:")
    with QdrantStore("mine", client=client) as store:
        VectorIndex(tiny_embedder, store, dimensions=DIMS).add(DOCS[:2])
    assert client.count("mine").count == 2  # still usable: not closed by the store
    with pytest.raises(StoreError, match="closed"):
        store.count()


def test_qdrant_native_filter_passes_through(tiny_embedder, store):
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS)
    index.add(DOCS)
    native = models.Filter(must=[models.FieldCondition(key="i", range=models.Range(lt=3))])
    assert {h.document_id for h in index.search("x", k=20, filter=native)} == {"d0", "d1", "d2"}
    with pytest.raises(UnsupportedFilterError):
        index.search("x", filter="i < 3")


def test_qdrant_existing_collection_layouts(tiny_embedder):
    client = QdrantClient(":memory:")
    client.create_collection(
        "foreign", vectors_config=models.VectorParams(size=DIMS, distance=models.Distance.COSINE)
    )
    store = QdrantStore("foreign", client=client)
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS)
    index.add(DOCS[:2])  # adopted (empty): the signature is recorded
    assert store.read_signature() == index.signature
    client.create_collection(
        "foreign-full",
        vectors_config=models.VectorParams(size=DIMS, distance=models.Distance.COSINE),
    )
    client.upsert("foreign-full", [models.PointStruct(id=1, vector=[0.1] * DIMS, payload={})])
    with pytest.raises(SignatureMismatchError, match="recreate=True"):
        VectorIndex(tiny_embedder, QdrantStore("foreign-full", client=client), dimensions=DIMS).add(
            DOCS[:1]
        )
    assert client.count("foreign-full").count == 1  # nothing written
    with pytest.raises(SignatureMismatchError, match="funnel_dimensions=None"):
        VectorIndex(
            tiny_embedder,
            QdrantStore("foreign", client=client, funnel_dimensions=8),
            dimensions=DIMS,
        ).add(DOCS[:1])
    client.create_collection(
        "small", vectors_config=models.VectorParams(size=16, distance=models.Distance.COSINE)
    )
    with pytest.raises(DimensionMismatchError, match="dimensions=16"):
        VectorIndex(tiny_embedder, QdrantStore("small", client=client), dimensions=DIMS).add(DOCS)
    assert client.count("small").count == 0
    with pytest.raises(ConfigurationError, match="smaller"):
        VectorIndex(
            tiny_embedder, QdrantStore("x", client=client, funnel_dimensions=DIMS), dimensions=DIMS
        ).add(DOCS)
    with pytest.raises(ConfigurationError, match="binary_quantization"):
        VectorIndex(
            tiny_embedder,
            QdrantStore("x", client=client),
            dimensions=DIMS,
            embedding_type="ubinary",
        ).add(DOCS)


def test_qdrant_funnel_layout_and_binary_quantization(tiny_embedder):
    client = QdrantClient(":memory:")
    funnel = QdrantStore("f", client=client, funnel_dimensions=8, funnel_oversample=2)
    VectorIndex(tiny_embedder, funnel, dimensions=DIMS, chunker=None).add(DOCS)
    vectors = client.get_collection("f").config.params.vectors
    assert {name: v.size for name, v in vectors.items()} == {"full": DIMS, "funnel": 8}
    point = client.retrieve("f", [point_id("d3")], with_vectors=True)[0]
    full = np.asarray(point.vector["full"], dtype=np.float32)
    assert np.allclose(point.vector["funnel"], prefix_vectors(full, 8), atol=1e-6)

    recorder = _Recorder(client)  # local mode drops quantization: check the requests
    bq = QdrantStore("b", client=recorder, binary_quantization=True)
    index = VectorIndex(tiny_embedder, bq, dimensions=DIMS)
    index.add(DOCS)
    bq_hits = index.search("topic 3", k=4)
    calls = {name: kwargs for name, _, kwargs in recorder.calls}
    assert isinstance(calls["create_collection"]["quantization_config"], models.BinaryQuantization)
    assert calls["query_points"]["search_params"].quantization.rescore is True
    layout = client.get_collection("b").config.metadata["jina_v3_layout"]
    assert layout == {"funnel_dimensions": None, "binary_quantization": True, "payload_indexes": {}}
    plain = QdrantStore("p", client=client)
    VectorIndex(tiny_embedder, plain, dimensions=DIMS).add(DOCS)
    plain_hits = VectorIndex(tiny_embedder, plain, dimensions=DIMS).search("topic 3", k=4)
    assert [h.id for h in bq_hits] == [h.id for h in plain_hits]


def test_qdrant_path_persists_across_reopen(tiny_embedder, shm):
    with QdrantStore("p", path=str(shm / "q")) as store:
        VectorIndex(tiny_embedder, store, dimensions=DIMS).add(DOCS)
    with QdrantStore("p", path=str(shm / "q")) as store:
        assert store.count() == len(DOCS)
        assert store.read_signature().dimensions == DIMS
        with pytest.raises(DimensionMismatchError):
            VectorIndex(tiny_embedder, store, dimensions=16).search("x")


async def test_qdrant_native_async_client(tiny_embedder):
    # the async methods drive the AsyncQdrantClient (its own in-process engine here)
    store = QdrantStore("a", client=QdrantClient(":memory:"), aclient=AsyncQdrantClient(":memory:"))
    index = AsyncVectorIndex(tiny_embedder, store, dimensions=DIMS)
    assert await index.add(DOCS) == len(DOCS)
    assert await store.acount() == len(DOCS)
    assert store.count() == 0  # the sync client's engine was never written
    hits = await index.search("topic 0", k=3, filter={"i": {"$in": [0, 4, 8]}})
    assert {h.document_id for h in hits} == {"d0", "d4", "d8"}
    await index.delete(["d0"])
    assert await store.acount() == len(DOCS) - 1
    await store.aclose()


def test_missing_extra_names_the_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "qdrant_client", None)
    monkeypatch.setitem(sys.modules, "qdrant_client.models", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'jina-v3-connectors\[qdrant\]'"):
        QdrantStore("c", location=":memory:")
    monkeypatch.setitem(sys.modules, "qdrant_edge", None)
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

    with pytest.raises(MissingDependencyError, match=r"\[qdrant-edge\]"):
        QdrantEdgeStore("c", path="unused")


# -- Qdrant Edge -------------------------------------------------------------------------------


def test_edge_reopen_signature_file_and_native_filter(tiny_embedder, shm):
    qe = pytest.importorskip("qdrant_edge")
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

    with QdrantEdgeStore("e", path=shm, funnel_dimensions=8) as store:
        index = VectorIndex(tiny_embedder, store, dimensions=DIMS)
        index.add(DOCS)
        assert store.optimize() in (True, False)
        assert store.signature_path.is_file()
    with QdrantEdgeStore("e", path=shm, funnel_dimensions=8) as store:
        assert store.count() == len(DOCS)
        index = VectorIndex(tiny_embedder, store, dimensions=DIMS)
        native = qe.Filter(must=[qe.FieldCondition(key="even", match=qe.MatchValue(True))])
        # a Python bool reaches Edge as the integer 1 (its binding), so this matches nothing;
        # the dialect's {"even": True} is translated so that it does match
        assert index.search("x", k=20, filter=native) == []
        assert len(index.search("x", k=20, filter={"even": True})) == 6
    with pytest.raises(SignatureMismatchError, match="funnel_dimensions=8"):
        VectorIndex(
            tiny_embedder, QdrantEdgeStore("e", path=shm, funnel_dimensions=4), dimensions=DIMS
        ).add(DOCS)
    # opened without naming a funnel (as a store URI opens it): the collection's is taken
    with QdrantEdgeStore("e", path=shm) as store:
        VectorIndex(tiny_embedder, store, dimensions=DIMS).add(DOCS)
        assert store.funnel_dimensions == 8 and store.count() == len(DOCS)
    store = QdrantEdgeStore("e", path=shm)
    assert store.read_signature() is not None and store.funnel_dimensions == 8
    # ... and a collection made anew takes the store's own layout (none)
    VectorIndex(tiny_embedder, store, dimensions=16, recreate=True).add(DOCS[:2])
    assert store.count() == 2 and store.read_signature().dimensions == 16
    assert store.funnel_dimensions is None
    store.close()
    assert QdrantEdgeStore("none", path=shm).read_signature() is None
    with pytest.raises(StoreError, match="ensure_collection"):
        QdrantEdgeStore("none", path=shm).query(np.ones(DIMS), k=1)


# -- the chunker -------------------------------------------------------------------------------


def test_chunks_are_slices_of_the_text_with_line_breaks_kept(tiny_embedder):
    text = (
        "# Berlin\n\nBerlin is the capital of Germany.\nIt has many museums.\n\n"
        "## History\n\n" + "Supercalifragilisticexpialidocious " * 30 + "The end. 中文。第二句。"
    )
    tokenizer = tiny_embedder.backend.tokenizer
    for chunker in (TextChunker(max_tokens=12), TextChunker.for_embedder(tiny_embedder, 12)):
        spans = chunker.spans(text)
        assert [c for _, c in spans] == chunker(text)
        for offset, chunk in spans:
            assert text[offset : offset + len(chunk)] == chunk and chunk.strip() == chunk
        # Markdown structure first; a heading joins its section (over budget by the heading)
        assert chunker(text)[0].startswith("# Berlin\n\nBerlin is")
        bodies = [c.split("\n\n", 1)[-1] if c.startswith("#") else c for c in chunker(text)]
        if chunker.counts_tokens:
            counts = [len(tokenizer.encode(c, add_special_tokens=False).ids) for c in bodies]
        else:
            counts = [estimate_tokens(c) for c in bodies]
        assert max(counts) <= 12
    paragraph = "Berlin is the capital of Germany.\nIt has many museums."
    assert any(paragraph in c for c in TextChunker(max_tokens=40)(text))  # line breaks kept
    assert estimate_tokens("abcdef") == 3  # the one estimate: ceil(UTF-8 bytes / 2)
    assert TextChunker(max_tokens=100)("One. Two.") == ["One. Two."]
    assert TextChunker()("") == [] and TextChunker()("   ") == []
    with pytest.raises(ConfigurationError):
        TextChunker(max_tokens=0)
    with pytest.raises(ConfigurationError):
        TextChunker()(["not", "a", "string"])


def test_late_chunked_hits_keep_the_original_text(tiny_embedder, store):
    text = "# Berlin\n\nBerlin is big.\nIt is old.\n\n## Paris\n\nParis is on the Seine."
    index = VectorIndex(
        tiny_embedder, store, dimensions=DIMS, late_chunking=True, chunker=TextChunker(16)
    )
    index.add([Document("guide", text)])
    texts = {h.text for h in index.search("Berlin", k=10)}
    assert "# Berlin\n\nBerlin is big.\nIt is old." in texts and all(t in text for t in texts)


def test_a_document_repeated_in_one_batch_is_written_once_as_its_last_version(tiny_embedder, store):
    index = VectorIndex(tiny_embedder, store, dimensions=DIMS, batch_size=100)
    first, second = Document("same", "old text", {"v": 1}), Document("same", "new text", {"v": 2})
    assert index.add([first, DOCS[0], second]) == 2
    hits = {h.document_id: h for h in index.search("text", k=5)}
    assert (hits["same"].text, dict(hits["same"].metadata)) == ("new text", {"v": 2})


def test_qdrant_url_store_closes_its_own_async_client():
    store = QdrantStore("c", url="http://127.0.0.1:9", check_compatibility=False)
    aclient = store._async_client()  # created lazily for url mode, never dialled
    assert isinstance(aclient, AsyncQdrantClient)
    store.close()
    assert store._aclient is None


def test_payload_indexes_are_created_and_filters_stay_exact(tiny_embedder, shm):
    recorder = _Recorder(QdrantClient(":memory:"))
    store = QdrantStore("c", client=recorder, payload_indexes={"i": "integer", "even": "bool"})
    VectorIndex(tiny_embedder, store, dimensions=DIMS).add(DOCS[:2])
    indexed = {
        kw["field_name"]: kw["field_schema"]
        for name, _, kw in recorder.calls
        if name == "create_payload_index"
    }
    assert indexed == {
        "document_id": models.PayloadSchemaType.KEYWORD,
        "i": models.PayloadSchemaType.INTEGER,
        "even": models.PayloadSchemaType.BOOL,
    }
    pytest.importorskip("qdrant_edge")
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

    docs = [
        Document(f"e{i}", f"Edge passage {i}.", {"i": i, "even": i % 2 == 0}) for i in range(300)
    ]
    with QdrantEdgeStore(
        "idx", path=shm, payload_indexes={"i": "integer", "even": "bool"}
    ) as edge_store:
        index = VectorIndex(tiny_embedder, edge_store, dimensions=DIMS, batch_size=100)
        index.add(docs)
        edge_store.optimize()  # indexed, optimized segments: filters must stay exact
        hits = index.search("passage", k=300, filter={"i": {"$gte": 100, "$lt": 150}, "even": True})
        assert sorted(h.document_id for h in hits) == sorted(
            f"e{i}" for i in range(100, 150) if i % 2 == 0
        )


def test_client_errors_are_wrapped_with_operation_and_collection(tiny_embedder):
    client = QdrantClient(":memory:")
    store = QdrantStore("wrapped", client=client)
    VectorIndex(tiny_embedder, store, dimensions=DIMS).add(DOCS[:2])
    client.delete_collection("wrapped")  # behind the store's back
    with pytest.raises(StoreError, match=r"query on collection 'wrapped' failed") as err:
        store.query(np.ones(DIMS, np.float32), k=1)
    assert err.value.__cause__ is not None  # the client's own exception, chained
