"""The operations of the matrix, each with its oracle: it works, with the same hits and
scores as the source (computed in :mod:`._oracles`), or it is refused before anything is
written, with one line (the CLI) or one typed error (the library, the frameworks).

An operation is ``run(matrix, cell)``; it reads the shared cell, or builds a private one of
the same kind when it writes. Adding an operation is one entry in :data:`OPERATIONS`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from jina_v3.errors import JinaV3Error
from tests.matrix import _oracles as oracle
from tests.matrix._kinds import Kind
from tests.matrix._stores import STORES, Location, Store
from tests.matrix.conftest import Cell, Matrix

MODES = ("dense", "keyword", "hybrid")
#: The file every deleting operation takes away (a text file: one document).
GONE = "notes/printer.txt"


@dataclass(frozen=True)
class Operation:
    name: str
    run: Callable[[Matrix, Cell], None]
    #: Whether the operation applies to (kind, store) at all.
    applies: Callable[[Kind, Store], bool] = lambda kind, store: True
    #: Stores the operation also uses (a copy's destination: its marks apply).
    uses: tuple[str, ...] = ()


# -- shared checks ---------------------------------------------------------------------------------


def refused(result: Any, command: str) -> str:
    """A CLI refusal: exit 2, one line naming the command and a typed error of the library."""
    import jina_v3.errors as errors

    line = result.error_line()
    assert result.rc == 2, line
    head = f"jina-v3 {command}: "
    assert line.startswith(head), line
    name = line[len(head) :].split(":", 1)[0]
    assert isinstance(getattr(errors, name, None), type), f"not a typed error: {line}"
    return line


def _hits(result: Any) -> list[tuple[str, float]]:
    return [(h["id"], h["score"]) for h in json.loads(result.ok().stdout)]


def cli_search(m: Matrix, store: Store, where: Location, mode: str) -> Any:
    return m.ctx.cli(
        "search", oracle.QUERY, "--store", where.uri, "--collection", where.collection,
        "--json", "-k", str(oracle.K), "--mode", mode, "--dtype", "float32", store=store,
    )  # fmt: skip


def searches_like(m: Matrix, cell: Cell, store: Store, where: Location) -> None:
    """Every search mode of the kind answers at `where` (on `store`) as the oracle says."""
    for mode in MODES if cell.kind.hybrid else ("dense",):
        hits = _hits(cli_search(m, store, where, mode))
        oracle.check_hits(m.ctx, cell.kind, cell.expected, mode, store.name, hits)


def snapshot(store: Store, where: Location) -> dict[str, Any]:
    with store.opened(where) as opened:
        return oracle.snapshot(opened)


def signature(store: Store, where: Location) -> Any:
    with store.opened(where) as opened:
        return opened.read_signature()


def no_collection(store: Store, where: Location) -> None:
    """Nothing was created at `where`."""
    with store.opened(where) as opened:
        assert opened.read_signature() is None and opened.count() == 0, f"{where} was created"


def check_signature(kind: Kind, found: Any) -> None:
    assert found is not None
    assert found.dimensions == kind.dimensions
    assert found.late_chunking == kind.late_chunking
    assert (found.keywords is not None) == kind.hybrid


def _gone(cell: Cell) -> set[str]:
    """The points of the file every deleting operation takes away."""
    from jina_v3.sources import identity

    source = identity(cell.corpus / GONE)
    points = {k for k, e in cell.expected.items() if e.metadata.get("source") == source}
    assert points
    return points


def _except(points: dict[str, Any], gone: set[str]) -> dict[str, Any]:
    return {k: v for k, v in points.items() if k not in gone}


def _by_text(cell: Cell) -> dict[str, str]:
    texts = {e.text: key for key, e in cell.expected.items()}
    assert len(texts) == len(cell.expected), "the oracle maps hits by their (unique) texts"
    return texts


# -- writing: the kind itself ----------------------------------------------------------------------


def build(m: Matrix, cell: Cell) -> None:
    kind, store = cell.kind, cell.store
    if kind.refused_on(store):
        assert cell.refused is not None, "the write was not refused"
        refused(cell.refused.result, "index")
        no_collection(store, cell.location)
        return
    assert cell.refused is None, cell.refused.result.stderr
    if kind.haystack:
        _haystack_unchanged(cell)
        return
    oracle.check_points(snapshot(store, cell.location), cell.expected)
    check_signature(kind, signature(store, cell.location))


# -- the command line ------------------------------------------------------------------------------


def search(mode: str) -> Callable[[Matrix, Cell], None]:
    def run(m: Matrix, cell: Cell) -> None:
        result = cli_search(m, cell.store, cell.location, mode)
        if cell.kind.haystack:
            line = refused(result, "search")
            assert "another tool" in line and "NEW_NAME" in line, line
        elif mode != "dense" and not cell.kind.hybrid:
            line = refused(result, "search")
            assert "--mode dense" in line, line
        else:
            hits = _hits(result)
            oracle.check_hits(m.ctx, cell.kind, cell.expected, mode, cell.store.name, hits)

    return run


def ls(m: Matrix, cell: Cell) -> None:
    where = cell.location
    result = m.ctx.cli(
        "ls", "--store", where.uri, "--collection", where.collection, "--json", store=cell.store
    )
    if cell.kind.haystack:
        line = refused(result, "ls")
        assert "another tool" in line and "NEW_NAME" in line, line
        return
    rows = [json.loads(line) for line in result.ok().stdout.splitlines()]
    want: dict[str, list[int]] = {}
    for e in cell.expected.values():
        chunks, characters = want.setdefault(e.document_id, [0, 0])
        want[e.document_id] = [chunks + 1, characters + len(e.text)]
    assert {r["document_id"]: [r["chunks"], r["characters"]] for r in rows} == want
    assert [r["source"] for r in rows] == sorted(r["source"] for r in rows)


def reopen(m: Matrix, cell: Cell) -> None:
    """A new VectorIndex on the stored collection searches it as the oracle says."""
    from jina_v3 import VectorIndex

    with cell.store.opened(cell.location) as store:
        if cell.kind.haystack:
            with pytest.raises(JinaV3Error):
                VectorIndex.open(m.ctx.embedder, store)
            return
        index = VectorIndex.open(m.ctx.embedder, store)
        check_signature(cell.kind, index.signature)
        for mode in MODES if cell.kind.hybrid else ("dense",):
            hits = [(h.id, h.score) for h in index.search(oracle.QUERY, k=oracle.K, mode=mode)]
            oracle.check_hits(m.ctx, cell.kind, cell.expected, mode, cell.store.name, hits)


def delete_source(m: Matrix, cell: Cell) -> None:
    own = m.build(cell.kind, cell.store, label="_del")
    where = own.location
    args = ["delete", "--source", f"corpus/{GONE}", "--store", where.uri]
    result = m.ctx.cli(*args, "--collection", where.collection, store=cell.store)
    if cell.kind.haystack:
        refused(result, "delete")
        _haystack_unchanged(own)
        return
    before = snapshot(cell.store, where)
    result.ok()
    oracle.same_points(snapshot(cell.store, where), _except(before, _gone(own)))


def prune(m: Matrix, cell: Cell) -> None:
    """`index --prune` after a file is gone removes its points and nothing else."""
    corpus = m.ctx.work / f"prune-{cell.kind.name}-{cell.store.name}"
    shutil.copytree(m.corpus, corpus)
    own = m.build(cell.kind, cell.store, corpus=corpus, label="_prune")
    where = own.location
    before = None if cell.kind.haystack else snapshot(cell.store, where)
    (corpus / GONE).unlink()
    result = m.ctx.cli(
        "index", str(corpus), "--store", where.uri, "--collection", where.collection,
        "--chunk-tokens", "32", "--dtype", "float32", "--prune", "--quiet", store=cell.store,
    )  # fmt: skip
    if cell.kind.haystack:
        refused(result, "index")
        _haystack_unchanged(own)
        return
    assert result.ok().stdout
    assert before is not None
    oracle.same_points(snapshot(cell.store, where), _except(before, _gone(own)))


def copy_to(target: str) -> Callable[[Matrix, Cell], None]:
    def run(m: Matrix, cell: Cell) -> None:
        destination = STORES[target]
        there = m.place(destination, f"{cell.kind.name}_from_{cell.store.name}")
        where = cell.location
        result = m.ctx.cli(
            "copy", where.uri, there.uri, "--collection", where.collection,
            "--to-collection", there.collection, "--quiet",
            store=_both(cell.store, destination),
        )  # fmt: skip
        if cell.kind.haystack or (cell.kind.hybrid and not destination.keyword_channel):
            refused(result, "copy")
            no_collection(destination, there)
            return
        result.ok()
        _moved(m, cell, destination, there)

    return run


def export_import(m: Matrix, cell: Cell) -> None:
    where, store = cell.location, cell.store
    file = m.ctx.work / f"export-{cell.kind.name}-{store.name}.jsonl"
    exported = m.ctx.cli(
        "export", str(file), "--store", where.uri, "--collection", where.collection, "--quiet",
        store=store,
    )  # fmt: skip
    if cell.kind.haystack:
        refused(exported, "export")
        assert not file.exists()
        return
    exported.ok()
    there = m.place(store, f"{cell.kind.name}_imported")
    imported = m.ctx.cli(
        "import", str(file), "--store", there.uri, "--collection", there.collection, "--quiet",
        store=store,
    )  # fmt: skip
    imported.ok()
    _moved(m, cell, store, there)


def _moved(m: Matrix, cell: Cell, store: Store, there: Location) -> None:
    """The collection at `there` is the cell's, moved intact: the same points, signature and
    layout, and every search answers as on the source's points."""
    oracle.same_points(snapshot(store, there), snapshot(cell.store, cell.location))
    with store.opened(there) as moved:
        assert moved.read_signature() == signature(cell.store, cell.location)
        if cell.kind.funnel and store.funnel:
            assert moved.funnel_dimensions is not None, "the funnel was not carried"
    searches_like(m, cell, store, there)


def _both(a: Store, b: Store) -> Store:
    """A store whose environment is that of both (a copy between two engines)."""
    from dataclasses import replace

    return replace(a, env=lambda: {**a.env(), **b.env()})


# -- the frameworks on every collection ------------------------------------------------------------


def _refused_by_framework(m: Matrix, cell: Cell, make: Callable[[Any], Any]) -> None:
    """A framework store over a collection it cannot read: a typed error, nothing written."""
    with cell.store.opened(cell.location) as store:
        with pytest.raises(JinaV3Error):
            make(store)
    _haystack_unchanged(cell)


def _langchain(m: Matrix, kind: Kind, store: Any) -> Any:
    from jina_v3.connectors.langchain import JinaV3Embeddings, JinaV3VectorStore

    embeddings = JinaV3Embeddings(embedder=m.ctx.embedder, dimensions=kind.dimensions)
    return JinaV3VectorStore(
        store, embeddings, late_chunking=kind.late_chunking, hybrid=kind.hybrid
    )


def langchain_read(m: Matrix, cell: Cell) -> None:
    if cell.kind.haystack:
        _refused_by_framework(
            m, cell, lambda s: _langchain(m, cell.kind, s).similarity_search("x", k=1)
        )
        return
    texts = _by_text(cell)
    with cell.store.opened(cell.location) as store:
        found = _langchain(m, cell.kind, store).similarity_search_with_score(
            oracle.QUERY, k=oracle.K
        )
    hits = [(texts[doc.page_content], score) for doc, score in found]
    oracle.check_hits(m.ctx, cell.kind, cell.expected, "dense", cell.store.name, hits)


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


def _llama_query(m: Matrix, kind: Kind, store: Any) -> Any:
    from llama_index.core.vector_stores.types import VectorStoreQuery

    vectors, embed_model = _llama_index(m, kind, store)
    query = VectorStoreQuery(
        query_embedding=embed_model.get_query_embedding(oracle.QUERY),
        similarity_top_k=oracle.K,
    )
    return vectors, vectors.query(query)


def llama_index_read(m: Matrix, cell: Cell) -> None:
    if cell.kind.haystack:
        _refused_by_framework(m, cell, lambda s: _llama_query(m, cell.kind, s))
        return
    texts = _by_text(cell)
    with cell.store.opened(cell.location) as store:
        _, result = _llama_query(m, cell.kind, store)
    hits = [
        (texts[n.get_content()], s) for n, s in zip(result.nodes, result.similarities, strict=True)
    ]
    oracle.check_hits(m.ctx, cell.kind, cell.expected, "dense", cell.store.name, hits)


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


def _haystack_unchanged(cell: Cell) -> None:
    if not cell.kind.haystack:
        return
    with cell.store.haystack_opened(cell.location, cell.kind.dimensions) as haystack:
        assert haystack.document_store.count_documents() == len(cell.expected)


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


# -- the registry ----------------------------------------------------------------------------------


def _indexed(kind: Kind, store: Store) -> bool:
    return kind.indexed or kind.haystack


OPERATIONS: list[Operation] = [
    Operation("build", build),
    *(Operation(f"search-{mode}", search(mode)) for mode in MODES),
    Operation("ls", ls),
    Operation("reopen", reopen),
    Operation("delete-source", delete_source),
    Operation("prune", prune, _indexed),
    *(
        Operation(
            f"copy-to-{target}",
            copy_to(target),
            lambda kind, store, target=target: (
                store.name != target
                and (STORES[target].copied_from is None or store.name in STORES[target].copied_from)
            ),
            uses=(target,),
        )
        for target in STORES
    ),
    Operation("export-import", export_import),
    Operation("langchain-read", langchain_read),
    Operation("langchain-get", langchain_get),
    Operation("langchain-delete", langchain_delete),
    Operation("llamaindex-read", llama_index_read),
    Operation("llamaindex-get", llama_index_get),
    Operation("llamaindex-delete", llama_index_delete),
    Operation("haystack-read", haystack_read, lambda kind, store: kind.haystack),
    Operation("haystack-list", haystack_list, lambda kind, store: kind.haystack),
    Operation("haystack-delete", haystack_delete, lambda kind, store: kind.haystack),
]
