"""The cross-feature matrix: every collection kind (``_kinds.KINDS``) on every store
(``_stores.STORES``) under every operation (:data:`OPERATIONS`: ``_operations`` for the
command line and the library, ``_frameworks`` for LangChain, LlamaIndex and Haystack).

Each cell either works, with the same points, hits and scores as the oracle computed from
the corpus (and a moved collection as its source), or is refused before anything is written,
with one line naming what to do. Pairs that fail on a known, open defect are listed in
:data:`KNOWN` as strict xfails: when the fix lands they pass, the xfail turns into a
failure, and the entry goes (issue 22's items 2 and 8 were there until their fixes landed).

A store's marks apply to its cells and to copies onto it (the Milvus server is
``integration``). Run a slice with ``-k``: ``-k "cli-hybrid:qdrant-edge"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase

import pytest

from tests.matrix import _frameworks as fw
from tests.matrix import _operations as op
from tests.matrix._cells import Cell, Matrix
from tests.matrix._kinds import KINDS, Kind
from tests.matrix._stores import STORES, Store, usable

pytest.importorskip("torch")


@dataclass(frozen=True)
class Operation:
    name: str
    run: Callable[[Matrix, Cell], None]
    #: Whether the operation applies to (kind, store) at all.
    applies: Callable[[Kind, Store], bool] = lambda kind, store: True
    #: Stores the operation also uses (a copy's destination: its marks apply).
    uses: tuple[str, ...] = ()


def _copies_onto(target: str) -> Callable[[Kind, Store], bool]:
    """Copies onto `target` from every other store (a store naming ``copy_partners``: with
    those only, either way)."""

    def applies(kind: Kind, store: Store) -> bool:
        partners = [(STORES[target], store.name), (store, target)]
        return store.name != target and all(
            s.copy_partners is None or other in s.copy_partners for s, other in partners
        )

    return applies


def _haystack(kind: Kind, store: Store) -> bool:
    return kind.haystack


#: Every operation, in the order they run on a cell; adding one is one entry.
OPERATIONS: list[Operation] = [
    Operation("build", op.build),
    *(Operation(f"search-{mode}", op.search(mode)) for mode in op.MODES),
    Operation("ls", op.ls),
    Operation("reopen", op.reopen),
    Operation("delete-source", op.delete_source),
    Operation("prune", op.prune, lambda kind, store: kind.indexed or kind.haystack),
    *(
        Operation(f"copy-to-{target}", op.copy_to(target), _copies_onto(target), uses=(target,))
        for target in STORES
    ),
    Operation("export-import", op.export_import),
    Operation("langchain-read", fw.langchain_read),
    Operation("langchain-get", fw.langchain_get),
    Operation("langchain-delete", fw.langchain_delete),
    Operation("llamaindex-read", fw.llama_index_read),
    Operation("llamaindex-get", fw.llama_index_get),
    Operation("llamaindex-delete", fw.llama_index_delete),
    Operation("haystack-read", fw.haystack_read, _haystack),
    Operation("haystack-list", fw.haystack_list, _haystack),
    Operation("haystack-delete", fw.haystack_delete, _haystack),
]

#: Pairs that fail on a known, open defect: ``(cell id pattern, reason)``, matched with
#: fnmatch against ``KIND:STORE:OPERATION``; the first match applies.
KNOWN: list[tuple[str, str]] = []


def _cells() -> list[pytest.param]:
    params = []
    for kind in KINDS.values():
        for store in STORES.values():
            if not kind.holds(store):
                continue
            for operation in OPERATIONS:
                if not operation.applies(kind, store):
                    continue
                if kind.refused_on(store) and operation.name != "build":
                    continue  # the write is refused: there is nothing to operate on
                name = f"{kind.name}:{store.name}:{operation.name}"
                marks = [*store.marks]
                for other in operation.uses:
                    marks += STORES[other].marks
                    if not usable(other):
                        marks.append(pytest.mark.skip(reason=f"{other} is not installed"))
                if not usable(store.name):
                    marks.append(pytest.mark.skip(reason=f"{store.name} is not installed"))
                reason = next((why for pattern, why in KNOWN if fnmatchcase(name, pattern)), None)
                if reason is not None:
                    marks.append(pytest.mark.xfail(strict=True, reason=reason))
                params.append(pytest.param(kind.name, store.name, operation, id=name, marks=marks))
    return params


@pytest.mark.parametrize(("kind", "store", "operation"), _cells())
def test_cell(matrix, kind, store, operation):
    operation.run(matrix, matrix.cell(kind, store))
