"""The operations of the matrix on the command line and the library, each with its oracle:
it works, with the same hits and scores as the source (computed in :mod:`._oracles`), or it
is refused before anything is written, with one line (the CLI) or one typed error (the
library, the frameworks).

An operation is ``run(matrix, cell)``; it reads the shared cell, or builds a private one of
the same kind when it writes. The registry is ``test_matrix.OPERATIONS``; the frameworks'
operations are in :mod:`._frameworks`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from typing import Any

import pytest

from jina_v3.errors import JinaV3Error
from tests.matrix import _oracles as oracle
from tests.matrix._cells import Cell, Matrix
from tests.matrix._kinds import Kind
from tests.matrix._stores import STORES, Location, Store

MODES = ("dense", "keyword", "hybrid")
#: The file every deleting operation takes away (a text file: one document).
GONE = "notes/printer.txt"


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


def searches_answer(m: Matrix, cell: Cell, store: Any, engine: str) -> None:
    """A VectorIndex opened on `store` (a store object on `engine`) has the kind's settings,
    and every search mode of the kind answers as the oracle says."""
    from jina_v3 import VectorIndex

    index = VectorIndex.open(m.ctx.embedder, store)
    check_signature(cell.kind, index.signature)
    for mode in modes(cell):
        hits = [(h.id, h.score) for h in index.search(oracle.QUERY, k=oracle.K, mode=mode)]
        oracle.check_hits(m.ctx, cell.kind, cell.expected, mode, engine, hits)


def snapshot(store: Store, where: Location) -> dict[str, Any]:
    with store.opened(where) as opened:
        return oracle.snapshot(opened)


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


def modes(cell: Cell) -> tuple[str, ...]:
    return MODES if cell.kind.hybrid else ("dense",)


def haystack_unchanged(cell: Cell) -> None:
    if not cell.kind.haystack:
        return
    with cell.store.haystack_opened(cell.location, cell.kind.dimensions) as haystack:
        assert haystack.document_store.count_documents() == len(cell.expected)


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
        haystack_unchanged(cell)
        return
    with store.opened(cell.location) as opened:
        oracle.check_points(oracle.snapshot(opened), cell.expected)
        check_signature(kind, opened.read_signature())


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
        searches_answer(m, cell, store, cell.store.name)


def delete_source(m: Matrix, cell: Cell) -> None:
    own = m.build(cell.kind, cell.store, label="_del")
    where = own.location
    args = ["delete", "--source", f"corpus/{GONE}", "--store", where.uri]
    result = m.ctx.cli(*args, "--collection", where.collection, store=cell.store)
    if cell.kind.haystack:
        refused(result, "delete")
        haystack_unchanged(own)
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
        haystack_unchanged(own)
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
    with store.opened(there) as moved:
        with cell.store.opened(cell.location) as source:
            oracle.same_points(oracle.snapshot(moved), oracle.snapshot(source))
            assert moved.read_signature() == source.read_signature()
        if cell.kind.funnel and store.funnel:
            assert moved.funnel_dimensions is not None, "the funnel was not carried"
        searches_answer(m, cell, moved, store.name)


def _both(a: Store, b: Store) -> Store:
    """A store whose environment is that of both (a copy between two engines)."""
    from dataclasses import replace

    return replace(a, env=lambda: {**a.env(), **b.env()})
