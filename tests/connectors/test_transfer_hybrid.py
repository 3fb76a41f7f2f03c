"""A hybrid collection moves intact (issue 22, item 2): every store with the keyword channel
(Qdrant local, Qdrant Edge, Milvus Lite, the Pinecone-API test server) gives its points back
with the keyword weights the index wrote, so a copy to any of them, and an export imported
into any of them, answers keyword and hybrid searches with the same hits and scores as the
same points written there directly. A store without the channel is refused before anything
is created, and a copy that fails before its first point leaves no collection behind."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jina_v3.errors import ConfigurationError
from jina_v3.index.keywords import KeywordEncoder, SparseVector
from jina_v3.index.transfer import copy_collection, export_points, import_points, pages
from jina_v3.store import EmbeddingSignature, Record, point_id
from tests.connectors.conftest import FACTORIES, load_corpus
from tests.connectors.test_hybrid import QUERIES, TEXTS

HYBRID = ["qdrant-memory", "qdrant-edge", "milvus-lite", "pinecone"]
DIMS = 16


@pytest.fixture(scope="module")
def encoder() -> KeywordEncoder:
    pytest.importorskip("tokenizers")
    from tests._tokenizer import realistic_tokenizer

    return KeywordEncoder(realistic_tokenizer())


@pytest.fixture(scope="module")
def records(encoder: KeywordEncoder) -> list[Record]:
    """Multilingual texts with repeated terms (counts above 1), chunked documents, and a
    point without any term (empty weights)."""
    texts = dict(TEXTS)
    texts["repeat"] = "error error error XJ-4471b printer error report"
    texts.update({d.id: d.text for d in load_corpus()[0][:10]})
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(len(texts) + 1, DIMS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    weights = encoder.documents(list(texts.values()))
    out = [
        Record(point_id(name, 0), vectors[i], text, {"n": i}, name, 0, keywords=weights[i])
        for i, (name, text) in enumerate(texts.items())
    ]
    empty = SparseVector((), (), ())
    out.append(Record(point_id("blank", 0), vectors[-1], "", {}, "blank", 0, keywords=empty))
    assert any(max(w.counts, default=0) > 1 for w in weights)
    return out


def _name() -> str:
    return f"h{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def collections(encoder, records, tmp_path_factory) -> Any:
    """The records written directly into a hybrid collection on each store: the sources of
    the copies, and each store's reference answers."""
    folder = tmp_path_factory.mktemp("hybrid-sources")
    signature = EmbeddingSignature("test-model", DIMS, keywords=encoder.identity)
    made = {}
    for name in HYBRID:
        store = FACTORIES[name](_name(), folder)
        store.ensure_collection(signature)
        store.upsert(records)
        made[name] = store
    yield made
    for store in made.values():
        store.close()


def _answers(store: Any, encoder: KeywordEncoder) -> list[list[tuple[str, float]]]:
    """Keyword and hybrid hits (ids and scores) of a few queries."""
    probe = np.random.default_rng(11).normal(size=DIMS).astype(np.float32)
    out = []
    for query in [*QUERIES.values(), "error report", "Hauptstadt Paris XJ-4471b"]:
        terms = encoder.query(query)
        out.append([(h.id, h.score) for h in store.query_keywords(terms, k=5)])
        out.append([(h.id, h.score) for h in store.query_hybrid(probe, terms, k=5)])
    return out


def _same_answers(got: list, want: list) -> None:
    assert any(want), "the queries find something"
    for one, other in zip(got, want, strict=True):
        assert [i for i, _ in one] == [i for i, _ in other]
        np.testing.assert_allclose([s for _, s in one], [s for _, s in other], rtol=1e-5)


@pytest.mark.parametrize("name", HYBRID)
def test_every_store_gives_back_the_keyword_weights_the_index_wrote(name, collections, records):
    stored = {r.id: r.keywords for page in pages(collections[name], page=7) for r in page}
    assert stored == {r.id: r.keywords for r in records}  # weights and counts, exactly


@pytest.mark.parametrize("src", HYBRID)
@pytest.mark.parametrize("dst", HYBRID)
def test_a_hybrid_copy_answers_like_the_points_written_there(
    src, dst, collections, encoder, fast_tmp
):
    destination = FACTORIES[dst](_name(), fast_tmp)
    try:
        summary = copy_collection(collections[src], destination, page=6)
        assert summary.points == len(pages_of(collections[src])) and summary.checked > 0
        assert destination.read_signature() == collections[src].read_signature()
        _same_answers(_answers(destination, encoder), _answers(collections[dst], encoder))
    finally:
        destination.close()


def pages_of(store: Any) -> list[Record]:
    return [r for page in pages(store) for r in page]


@pytest.mark.parametrize(
    ("src", "dst"), list(zip(HYBRID, HYBRID[1:] + HYBRID[:1], strict=True)), ids=str
)
def test_a_hybrid_export_imports_with_its_keyword_channel(
    src, dst, collections, encoder, records, fast_tmp
):
    out = io.StringIO()
    export_points(collections[src], out)
    lines = out.getvalue().splitlines()
    head = json.loads(lines[0])
    assert "keywords" in head["vectors"] and head["signature"]["keywords"] == encoder.identity
    written = {r.id: r.keywords for r in records}
    for line in lines[1:]:  # the weights as the index computed them, with their counts
        point = json.loads(line)
        weights = point["vectors"]["keywords"]
        want = written[point["id"]]
        assert weights["indices"] == list(want.indices) and weights["values"] == list(want.values)
        assert weights.get("counts", []) == list(want.counts)
    path = Path(fast_tmp) / "hybrid.jsonl"
    path.write_text(out.getvalue())
    destination = FACTORIES[dst](_name(), fast_tmp)
    try:
        assert import_points(path, destination, page=5).points == len(records)
        _same_answers(_answers(destination, encoder), _answers(collections[dst], encoder))
    finally:
        destination.close()


def test_a_store_without_the_channel_is_refused_before_anything_is_created(collections, fast_tmp):
    destination = FACTORIES["milvus-server"](_name(), fast_tmp)
    try:
        with pytest.raises(ConfigurationError, match=r"cannot hold the keyword channel.*Qdrant"):
            copy_collection(collections["qdrant-edge"], destination)
        assert destination.read_signature() is None
        assert destination.collection not in destination.collections()
    finally:
        destination.close()


def test_a_copy_that_fails_before_its_first_point_leaves_no_collection(fast_tmp):
    """A point Milvus cannot hold (a document id over 65,535 bytes) fails the copy at its
    first write: the collection the copy made is removed again."""
    source = FACTORIES["qdrant-memory"]("long", fast_tmp)
    source.ensure_collection(EmbeddingSignature("test-model", 8))
    long_id = "x" * 70_000
    vector = np.full(8, 8**-0.5, dtype=np.float32)
    source.upsert([Record(point_id(long_id), vector, "text", {}, long_id)])
    destination = FACTORIES["milvus-lite"]("copied", fast_tmp)
    try:
        with pytest.raises(ConfigurationError, match="65535"):
            copy_collection(source, destination)
        assert destination.read_signature() is None
        assert "copied" not in destination.collections()
        destination.ensure_collection(source.read_signature())  # one made before: kept
        with pytest.raises(ConfigurationError, match="65535"):
            copy_collection(source, destination)
        assert destination.exists() and "copied" in destination.collections()
    finally:
        source.close()
        destination.close()
