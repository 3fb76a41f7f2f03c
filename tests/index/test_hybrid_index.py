"""VectorIndex(..., hybrid=True) and search(mode=...) end to end: the tiny checkpoint (random
dense vectors: the keyword channel is what finds the literal terms) on Qdrant Edge and Qdrant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jina_v3 import AsyncVectorIndex, Document, VectorIndex
from jina_v3.errors import ConfigurationError, SignatureMismatchError
from jina_v3.index.keywords import encoder_for, fuse

DOCS = [
    Document("code", "The printer reports error XJ-4471b after the paper jam.", {"lang": "en"}),
    Document("de", "Die Hauptstadt von Frankreich ist Paris.", {"lang": "de"}),
    Document("winter", "The weather in winter is cold and the trains are late.", {"lang": "en"}),
    Document("museum", "The city museum opens on Sundays at ten.", {"lang": "en"}),
    Document("river", "Der Fluss fließt durch die Stadt.", {"lang": "de"}),
    Document("garden", "The garden is green in summer.", {"lang": "en"}),
    Document("bridge", "Die Brücke ist alt und lang.", {"lang": "de"}),
    Document("market", "The market sells bread and cheese.", {"lang": "en"}),
]


def _edge(tmp_path: Path) -> Any:
    pytest.importorskip("qdrant_edge")
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

    return QdrantEdgeStore("docs", path=tmp_path / "edge")


def _qdrant(tmp_path: Path) -> Any:
    pytest.importorskip("qdrant_client")
    from jina_v3.connectors.qdrant import QdrantStore

    return QdrantStore("docs", path=str(tmp_path / "qdrant"))


@pytest.fixture(params=["edge", "qdrant"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    store = {"edge": _edge, "qdrant": _qdrant}[request.param](tmp_path)
    yield store
    store.close()


def test_keyword_and_hybrid_find_what_dense_misses(tiny_embedder, store) -> None:
    index = VectorIndex(tiny_embedder, store, dimensions=32, hybrid=True)
    index.add(DOCS)
    for query, target in (("XJ-4471b", "code"), ("Hauptstadt", "de")):
        dense = index.search(query, k=3)
        assert dense[0].document_id != target  # random vectors: dense alone misses it
        keyword = index.search(query, k=3, mode="keyword")
        assert keyword[0].document_id == target
        # the channels' own results, fused here: the reference for the engine's fusion
        channels = [
            [h.id for h in index.search(query, k=20)],
            [h.id for h in index.search(query, k=20, mode="keyword")],
        ]
        for weights in (None, (1.0, 4.0)):
            hybrid = index.search(query, k=3, mode="hybrid", weights=weights)
            assert target in [h.document_id for h in hybrid[:2]]
            assert all(0 < h.score <= 1 for h in hybrid)
            reference = fuse(channels, weights=weights)[:3]
            assert [h.score for h in hybrid] == pytest.approx([s for _, s in reference], rel=1e-5)
            assert {h.id for h in hybrid} <= {i for i, _ in fuse(channels, weights=weights)[:4]}
    filtered = index.search("XJ-4471b", k=3, mode="hybrid", filter={"lang": "de"})
    assert filtered and {h.metadata["lang"] for h in filtered} == {"de"}


def test_the_signature_records_the_channel_and_open_restores_it(tiny_embedder, store) -> None:
    index = VectorIndex(tiny_embedder, store, dimensions=32, hybrid=True)
    index.add(DOCS[:2])
    stored = store.read_signature()
    assert stored.keywords == encoder_for(tiny_embedder).identity
    assert "tokenizer=" in stored.keywords
    reopened = VectorIndex.open(tiny_embedder, store)
    assert reopened.signature == stored
    assert reopened.search("XJ-4471b", k=1, mode="keyword")[0].document_id == "code"
    with pytest.raises(SignatureMismatchError, match="keywords"):
        VectorIndex(tiny_embedder, store, dimensions=32).add(DOCS[2:3])
    assert store.count() == 2  # nothing written


def test_keyword_search_on_an_index_without_the_channel_names_the_fix(tiny_embedder, store):
    index = VectorIndex(tiny_embedder, store, dimensions=32)
    index.add(DOCS[:2])
    assert store.read_signature().keywords is None
    for mode in ("keyword", "hybrid"):
        with pytest.raises(ConfigurationError, match=r"hybrid=True.*jina-v3 index --hybrid"):
            index.search("XJ-4471b", mode=mode)
    with pytest.raises(ConfigurationError, match="mode='bm25'"):
        index.search("XJ-4471b", mode="bm25")
    # and the store itself refuses a keyword query on it
    terms = encoder_for(tiny_embedder).query("XJ-4471b")
    with pytest.raises(ConfigurationError, match="hybrid=True"):
        store.query_keywords(terms, k=1)


def test_milvus_lite_keeps_the_channel_too(tiny_embedder, tmp_path) -> None:
    pytest.importorskip("milvus_lite")
    from jina_v3.connectors.milvus import MilvusStore

    with MilvusStore("docs", uri=str(tmp_path / "m.db")) as store:
        index = VectorIndex(tiny_embedder, store, dimensions=32, hybrid=True)
        index.add(DOCS)
        assert index.search("XJ-4471b", k=1, mode="keyword")[0].document_id == "code"
        hybrid = index.search("XJ-4471b", k=3, mode="hybrid")
        channels = [
            [h.id for h in index.search("XJ-4471b", k=20)],
            [h.id for h in index.search("XJ-4471b", k=20, mode="keyword")],
        ]
        reference = [s for _, s in fuse(channels)[:3]]
        assert [h.score for h in hybrid] == pytest.approx(reference, rel=1e-5)
        index.delete(["code"])
        assert all(h.document_id != "code" for h in index.search("XJ-4471b", mode="keyword"))


async def test_async_index_searches_all_modes(tiny_embedder, store) -> None:
    index = AsyncVectorIndex(tiny_embedder, store, dimensions=32, hybrid=True)
    await index.add(DOCS)
    assert (await index.search("XJ-4471b", k=1, mode="keyword"))[0].document_id == "code"
    hybrid = await index.search("XJ-4471b", k=2, mode="hybrid")
    assert "code" in [h.document_id for h in hybrid]
    assert len(await index.search("XJ-4471b", k=2)) == 2
