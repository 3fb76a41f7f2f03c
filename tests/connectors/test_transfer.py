"""Moving stored points without the model: `scroll` on every engine, `copy_collection`
between every pair of embedded stores and onto the Milvus server and the Pinecone-API test
server (searches answer the same before and after), an interrupted copy resumed, the funnel
carried, a mismatched destination refused, and export / import round trips."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import numpy as np
import pytest

from jina_v3 import VectorIndex
from jina_v3.errors import ConfigurationError, SignatureMismatchError
from jina_v3.index.points_file import decode_vector as _decode
from jina_v3.index.points_file import encode_vector as _encode
from jina_v3.index.transfer import (
    copy_collection,
    export_points,
    import_points,
    pages,
)
from jina_v3.store import Document, EmbeddingSignature, Record, point_id
from tests.connectors.conftest import DIMS, FACTORIES

EMBEDDED = ["qdrant-memory", "qdrant-path", "qdrant-edge", "milvus-lite"]
QUERIES = ["capital of Germany", "how do plants make sugar", "night trains in Europe"]


def _records(n: int, dims: int = 8, seed: int = 0) -> list[Record]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        vector = rng.normal(size=dims).astype(np.float32)
        vector /= np.linalg.norm(vector)
        doc, chunk = f"doc-{i // 3}", i % 3
        metadata = {"source": f"s{i % 4}.md", "content_hash": f"h{i // 3}", "n": i, "t": ["a"]}
        out.append(Record(point_id(doc, chunk), vector, f"text {i}", metadata, doc, chunk))
    return out


def _all(store) -> dict[str, Record]:
    return {r.id: r for page in pages(store, page=7) for r in page}


def _same_points(a: dict[str, Record], b: dict[str, Record]) -> None:
    assert sorted(a) == sorted(b)
    for key, record in a.items():
        other = b[key]
        assert (other.text, other.document_id, other.chunk_index) == (
            record.text,
            record.document_id,
            record.chunk_index,
        )
        assert json.loads(json.dumps(dict(other.metadata)), parse_int=float) == json.loads(
            json.dumps(dict(record.metadata)), parse_int=float
        )
        np.testing.assert_allclose(other.vector, record.vector, atol=1e-6)


def test_scroll_pages_through_every_point_once(make_store):
    store = make_store()
    assert store.scroll() == ([], None)  # no collection yet
    store.ensure_collection(EmbeddingSignature(model="m", dimensions=8))
    records = _records(30)
    store.upsert(records)
    _same_points(_all(store), {r.id: r for r in records})
    bare, _ = store.scroll(limit=5, vectors=False)
    assert len(bare) == 5 and all(r.vector.size == 0 for r in bare)


async def test_an_empty_collection_is_dropped_and_one_with_points_kept(make_store):
    """What a failed copy or import does with the collection it made (every engine)."""
    store = make_store()
    assert not store.exists() and not await store.aexists()
    assert store.drop_if_empty() is False  # nothing to drop
    store.ensure_collection(EmbeddingSignature(model="m", dimensions=8))
    store.upsert(_records(2))
    assert store.exists() and store.drop_if_empty() is False and store.count() == 2
    store.delete(document_ids=["doc-0"])
    assert await store.adrop_if_empty() is True
    assert not store.exists() and store.read_signature() is None


@pytest.fixture(scope="module")
def sources(tiny_embedder, tmp_path_factory):
    """The fixture corpus indexed (tiny model, 32-d) into each embedded store, with the hits
    of a few queries: store name -> (store, hits)."""
    from tests.connectors.conftest import load_corpus

    docs = [*load_corpus()[0][:12], *load_corpus()[1][:4]]
    folder = tmp_path_factory.mktemp("sources")
    out = {}
    for name in EMBEDDED:
        store = FACTORIES[name](f"src_{name.replace('-', '_')}", folder)
        index = VectorIndex(tiny_embedder, store, dimensions=DIMS)
        index.add(docs)
        out[name] = (store, _search(tiny_embedder, store))
    yield out
    for store, _ in out.values():
        store.close()


def _search(embedder, store) -> list[list[tuple[str, float]]]:
    index = VectorIndex.open(embedder, store)
    return [[(h.id, h.score) for h in index.search(q, k=5)] for q in QUERIES]


def _same_hits(before, after) -> None:
    for one, other in zip(before, after, strict=True):
        assert [i for i, _ in one] == [i for i, _ in other]
        np.testing.assert_allclose([s for _, s in one], [s for _, s in other], atol=1e-6)


@pytest.mark.parametrize("src", EMBEDDED)
@pytest.mark.parametrize("dst", EMBEDDED)
def test_copy_between_every_pair_of_embedded_stores(src, dst, sources, tiny_embedder, fast_tmp):
    store, hits = sources[src]
    destination = FACTORIES[dst](f"dst_{uuid.uuid4().hex[:8]}", fast_tmp)
    try:
        summary = copy_collection(store, destination, page=16)
        assert summary.points == store.count() == destination.count()
        assert summary.checked > 0 and not summary.interrupted
        assert destination.read_signature() == store.read_signature()
        _same_hits(hits, _search(tiny_embedder, destination))
    finally:
        destination.close()


@pytest.mark.parametrize("server", ["pinecone", "milvus-server"])
def test_copy_onto_the_servers(server, sources, tiny_embedder, fast_tmp):
    store, hits = sources["qdrant-edge"]
    destination = FACTORIES[server](f"copy-{uuid.uuid4().hex[:8]}", fast_tmp)
    try:
        assert copy_collection(store, destination, page=16).points == store.count()
        _same_hits(hits, _search(tiny_embedder, destination))
        _same_points(_all(store), _all(destination))
    finally:
        destination.close()


def test_an_interrupted_copy_resumed_ends_identical(sources, fast_tmp):
    store, _ = sources["qdrant-memory"]
    destination = FACTORIES["qdrant-edge"]("resumed", fast_tmp)
    calls = []
    first = copy_collection(store, destination, page=8, stop=lambda: calls.append(1) or True)
    assert first.interrupted and first.points == 8 and first.checked == 0
    assert destination.count() == 8
    again = copy_collection(store, destination, page=8)
    assert not again.interrupted and again.checked > 0
    _same_points(_all(store), _all(destination))
    destination.close()


def test_a_destination_with_another_signature_is_refused_untouched(sources, fast_tmp):
    store, _ = sources["qdrant-edge"]
    other = FACTORIES["milvus-lite"]("other_sig", fast_tmp)
    other.ensure_collection(EmbeddingSignature(model="another", dimensions=DIMS))
    other.upsert(_records(3, dims=DIMS))
    with pytest.raises(SignatureMismatchError, match="another"):
        copy_collection(store, other)
    assert other.count() == 3
    other.close()


def test_the_funnel_vector_travels(tiny_embedder, fast_tmp):
    from jina_v3.connectors.qdrant import QdrantStore
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

    source = QdrantEdgeStore("funnel", path=fast_tmp / "edge", funnel_dimensions=8)
    VectorIndex(tiny_embedder, source, dimensions=DIMS).add(
        [Document(f"d{i}", f"Document number {i} about topic {i % 3}.") for i in range(20)]
    )
    destination = QdrantStore("funnel", location=":memory:")
    copy_collection(source, destination)
    assert destination.funnel_dimensions == 8
    info = destination.client.get_collection("funnel")
    assert info.config.params.vectors["funnel"].size == 8
    _same_hits(_search(tiny_embedder, source), _search(tiny_embedder, destination))
    source.close()
    destination.close()


def test_export_then_import_round_trips_exactly(fast_tmp):
    def exported(store) -> list[str]:
        out = io.StringIO()
        export_points(store, out)
        return out.getvalue().splitlines()

    signature = EmbeddingSignature(model="m", dimensions=16)
    first = FACTORIES["milvus-lite"]("exported", fast_tmp)
    first.ensure_collection(signature)
    first.upsert(_records(40, dims=16))
    lines = exported(first)
    head = json.loads(lines[0])
    assert head["format"] == "jina-v3-points" and head["version"] == 1 and head["points"] == 40
    assert head["signature"] == signature.to_dict()
    path = Path(fast_tmp) / "export.jsonl"
    path.write_text("\n".join(lines) + "\n")
    second = FACTORIES["milvus-lite"]("imported", fast_tmp)
    assert import_points(path, second, page=16).points == 40
    again = exported(second)
    assert sorted(again[1:]) == sorted(lines[1:])  # the same points, bit for bit
    assert {**json.loads(again[0]), "collection": "exported"} == head
    first.close()
    second.close()


def test_vectors_are_encoded_bit_exactly():
    rng = np.random.default_rng(3)
    vector = rng.normal(size=1024).astype(np.float32)
    signature = EmbeddingSignature(model="m", dimensions=1024)
    assert _decode(_encode(vector), signature).tobytes() == vector.tobytes()
    bits = np.packbits(vector > 0)
    packed = EmbeddingSignature(model="m", dimensions=1024, embedding_type="ubinary")
    assert _decode(_encode(bits), packed).tobytes() == bits.tobytes()


def test_a_bad_file_is_a_typed_error_and_keeps_what_was_imported(fast_tmp):
    path = Path(fast_tmp) / "bad.jsonl"
    path.write_text('{"not": "an export"}\n')
    store = FACTORIES["qdrant-edge"]("bad", fast_tmp)
    with pytest.raises(ConfigurationError, match="is not a jina-v3 export"):
        import_points(path, store)
    source = FACTORIES["qdrant-memory"]("good", fast_tmp)
    source.ensure_collection(EmbeddingSignature(model="m", dimensions=8))
    source.upsert(_records(5))
    out = io.StringIO()
    export_points(source, out)
    path.write_text(out.getvalue() + '{"id": "x", "vectors": {}}\n')
    with pytest.raises(ConfigurationError, match=r"5 points imported, but .*bad.jsonl:7"):
        import_points(path, store, page=2)
    assert store.count() == 5  # every good line
    source.close()
    store.close()
