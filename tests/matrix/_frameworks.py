"""The frameworks' operations of the matrix: LangChain's and LlamaIndex's vector stores read,
get by id and delete on every collection kind (their ids are the ones their searches answer),
and Haystack on its own document stores. Oracles as in :mod:`._operations`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jina_v3.errors import JinaV3Error
from tests.matrix import _oracles as oracle
from tests.matrix._cells import Cell, Matrix
from tests.matrix._kinds import Kind
from tests.matrix._operations import haystack_unchanged, modes, snapshot


def _by_text(cell: Cell) -> dict[str, str]:
    texts = {e.text: key for key, e in cell.expected.items()}
    assert len(texts) == len(cell.expected), "the oracle maps hits by their (unique) texts"
    return texts


def _refused_by_framework(m: Matrix, cell: Cell, make: Callable[[Any], Any]) -> None:
    """A framework store over a collection it cannot read: a typed error, nothing written."""
    with cell.store.opened(cell.location) as store:
        with pytest.raises(JinaV3Error):
            make(store)
    haystack_unchanged(cell)


def _langchain(m: Matrix, kind: Kind, store: Any) -> Any:
    from jina_v3.connectors.langchain import JinaV3Embeddings, JinaV3VectorStore

    embeddings = JinaV3Embeddings(embedder=m.ctx.embedder, dimensions=kind.dimensions)
    return JinaV3VectorStore(
        store, embeddings, late_chunking=kind.late_chunking, hybrid=kind.hybrid
    )


def langchain_read(m: Matrix, cell: Cell) -> None:
    """Every search mode of the kind answers through LangChain as the oracle says."""
    if cell.kind.haystack:
        _refused_by_framework(
            m, cell, lambda s: _langchain(m, cell.kind, s).similarity_search("x", k=1)
        )
        return
    texts = _by_text(cell)
    with cell.store.opened(cell.location) as store:
        vectors = _langchain(m, cell.kind, store)
        for mode in modes(cell):
            found = vectors.similarity_search_with_score(oracle.QUERY, k=oracle.K, mode=mode)
            hits = [(texts[doc.page_content], score) for doc, score in found]
            oracle.check_hits(m.ctx, cell.kind, cell.expected, mode, cell.store.name, hits)


def langchain_get(m: Matrix, cell: Cell) -> None:
    """The ids search answers fetch those documents."""
    if cell.kind.haystack:
        _refused_by_framework(m, cell, lambda s: _langchain(m, cell.kind, s).similarity_search("x"))
        return
    with cell.store.opened(cell.location) as store:
        vectors = _langchain(m, cell.kind, store)
        found = vectors.similarity_search(oracle.QUERY, k=oracle.K)
        got = vectors.get_by_ids([d.id for d in found])
    assert [(d.id, d.page_content) for d in got] == [(d.id, d.page_content) for d in found]


def langchain_delete(m: Matrix, cell: Cell) -> None:
    """Deleting the id search answers removes that hit and no other document."""
    own = m.build(cell.kind, cell.store, label="_lc_del")
    if cell.kind.haystack:
        _refused_by_framework(m, own, lambda s: _langchain(m, cell.kind, s).delete(["x"]))
        return
    before = snapshot(cell.store, own.location)
    with cell.store.opened(own.location) as store:
        vectors = _langchain(m, cell.kind, store)
        first = vectors.similarity_search(oracle.QUERY, k=1)[0]
        vectors.delete([first.id])
        assert vectors.get_by_ids([first.id]) == []
        left = vectors.similarity_search(oracle.QUERY, k=oracle.K)
    assert first.page_content not in {d.page_content for d in left}
    _others_intact(own, before, snapshot(cell.store, own.location), first.page_content)


def _others_intact(cell: Cell, before: dict[str, Any], after: dict[str, Any], text: str) -> None:
    """Only points of the document whose text (or chunk) `text` is were deleted."""
    document = next(e.document_id for e in cell.expected.values() if e.text == text)
    assert len(after) < len(before)
    kept = {k: v for k, v in before.items() if v.document_id != document}
    oracle.same_points({k: v for k, v in after.items() if v.document_id != document}, kept)


def _llama_index(m: Matrix, kind: Kind, store: Any) -> Any:
    from jina_v3.connectors.llama_index import JinaV3Embedding, JinaV3VectorStore

    embed_model = JinaV3Embedding(embedder=m.ctx.embedder, dimensions=kind.dimensions)
    return JinaV3VectorStore(
        store, embed_model=embed_model, late_chunking=kind.late_chunking, hybrid=kind.hybrid
    ), embed_model


def _llama_query(m: Matrix, kind: Kind, store: Any, mode: str = "dense") -> Any:
    from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

    vectors, embed_model = _llama_index(m, kind, store)
    modes = {
        "dense": VectorStoreQueryMode.DEFAULT,
        "keyword": VectorStoreQueryMode.SPARSE,
        "hybrid": VectorStoreQueryMode.HYBRID,
    }
    query = VectorStoreQuery(
        query_str=oracle.QUERY,
        query_embedding=embed_model.get_query_embedding(oracle.QUERY),
        similarity_top_k=oracle.K,
        mode=modes[mode],
    )
    return vectors, vectors.query(query)


def llama_index_read(m: Matrix, cell: Cell) -> None:
    """Every search mode of the kind answers through LlamaIndex as the oracle says."""
    if cell.kind.haystack:
        _refused_by_framework(m, cell, lambda s: _llama_query(m, cell.kind, s))
        return
    texts = _by_text(cell)
    with cell.store.opened(cell.location) as store:
        for mode in modes(cell):
            _, result = _llama_query(m, cell.kind, store, mode)
            hits = [
                (texts[n.get_content()], s)
                for n, s in zip(result.nodes, result.similarities, strict=True)
            ]
            oracle.check_hits(m.ctx, cell.kind, cell.expected, mode, cell.store.name, hits)


def llama_index_get(m: Matrix, cell: Cell) -> None:
    """The node ids a query answers fetch those nodes."""
    if cell.kind.haystack:
        _refused_by_framework(m, cell, lambda s: _llama_query(m, cell.kind, s))
        return
    with cell.store.opened(cell.location) as store:
        vectors, result = _llama_query(m, cell.kind, store)
        got = vectors.get_nodes(node_ids=result.ids)
    want = sorted((n.node_id, n.get_content()) for n in result.nodes)
    assert sorted((n.node_id, n.get_content()) for n in got) == want


def llama_index_delete(m: Matrix, cell: Cell) -> None:
    """A node id a query answers deletes that node; `delete(ref_doc_id)` its document."""
    own = m.build(cell.kind, cell.store, label="_li_del")
    if cell.kind.haystack:
        _refused_by_framework(m, own, lambda s: _llama_index(m, cell.kind, s)[0].delete("x"))
        return
    before = snapshot(cell.store, own.location)
    with cell.store.opened(own.location) as store:
        vectors, result = _llama_query(m, cell.kind, store)
        first = result.nodes[0]
        vectors.delete_nodes([first.node_id])
        assert vectors.get_nodes(node_ids=[first.node_id]) == []
    _others_intact(own, before, snapshot(cell.store, own.location), first.get_content())
    after = snapshot(cell.store, own.location)
    document = next(iter(after.values())).document_id
    with cell.store.opened(own.location) as store:
        _llama_index(m, cell.kind, store)[0].delete(document)
    left = snapshot(cell.store, own.location)
    assert all(r.document_id != document for r in left.values())
    oracle.same_points(left, {k: v for k, v in after.items() if v.document_id != document})


# -- Haystack on its own document stores -----------------------------------------------------------


def haystack_read(m: Matrix, cell: Cell) -> None:
    from jina_v3.connectors.haystack import JinaV3TextEmbedder

    embedding = JinaV3TextEmbedder(embedder=m.ctx.embedder, dimensions=cell.kind.dimensions)
    query = embedding.run(oracle.QUERY)["embedding"]
    with cell.store.haystack_opened(cell.location, cell.kind.dimensions) as haystack:
        retriever = haystack.retriever(document_store=haystack.document_store, top_k=oracle.K)
        found = retriever.run(query_embedding=query)["documents"]
    ids = {e.document_id: key for key, e in cell.expected.items()}
    hits = [(ids[d.id], haystack.to_cosine(d.score)) for d in found]
    oracle.check_hits(m.ctx, cell.kind, cell.expected, "dense", cell.store.name, hits)


def haystack_list(m: Matrix, cell: Cell) -> None:
    """Every document back with its id and text (Haystack has no get-by-id; pinecone-haystack
    cannot filter on ids)."""
    with cell.store.haystack_opened(cell.location, cell.kind.dimensions) as haystack:
        got = haystack.document_store.filter_documents()
    want = sorted((e.document_id, e.text) for e in cell.expected.values())
    assert sorted((d.id, d.content) for d in got) == want


def haystack_delete(m: Matrix, cell: Cell) -> None:
    own = m.build(cell.kind, cell.store, label="_hs_del")
    gone = sorted(e.document_id for e in own.expected.values())[0]
    with cell.store.haystack_opened(own.location, cell.kind.dimensions) as haystack:
        haystack.document_store.delete_documents([gone])
        left = {d.id for d in haystack.document_store.filter_documents()}
    assert left == {e.document_id for e in own.expected.values()} - {gone}
