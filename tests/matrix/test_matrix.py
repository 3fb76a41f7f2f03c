"""The cross-feature matrix: every collection kind (``_kinds.KINDS``) on every store
(``_stores.STORES``) under every operation (``_operations.OPERATIONS``).

Each cell either works, with the same points, hits and scores as the oracle computed from
the corpus (and a moved collection as its source), or is refused before anything is written,
with one line naming what to do. Pairs that fail on a defect an open item of issue 22 covers
are listed in :data:`KNOWN` as strict xfails: when the fix lands they pass, the xfail turns
into a failure, and the entry goes.

A store's marks apply to its cells and to copies onto it (the Milvus server is
``integration``). Run a slice with ``-k``: ``-k "cli-hybrid:qdrant-edge"``.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from tests.matrix._kinds import KINDS
from tests.matrix._operations import OPERATIONS
from tests.matrix._stores import STORES, usable

pytest.importorskip("torch")

#: Pairs that fail on an open item of issue 22: ``(cell id pattern, reason)``, matched with
#: fnmatch against ``KIND:STORE:OPERATION``; the first match applies.
KNOWN: list[tuple[str, str]] = [
    # a hybrid collection is read back without its keyword weights (Qdrant local mode: not
    # at all, KeyError 'full'), so it cannot be moved, and the destination is left behind
    *(  # (onto a store without the channel it is refused before anything is made, as it should)
        (f"cli-hybrid:*:copy-to-{name}", "issue 22 item 2: a hybrid collection cannot be copied")
        for name, store in STORES.items()
        if store.keyword_channel
    ),
    ("cli-hybrid:*:export-import", "issue 22 item 2: a hybrid collection cannot be imported"),
    *(  # the oracle reads the points back through the same scroll
        (f"cli-hybrid:qdrant:{op}", "issue 22 item 2: Qdrant's hybrid points cannot be read back")
        for op in ("build", "delete-source", "prune", "llamaindex-delete")
    ),
    # search answers chunk points whose ids get_by_ids and delete do not take
    ("cli*:*:langchain-[gd]e*", "issue 22 item 8: LangChain ids on index-written collections"),
    ("vectorindex*:*:langchain-[gd]e*", "issue 22 item 8: LangChain ids on VectorIndex points"),
]


def _cells() -> list[pytest.param]:
    params = []
    for kind in KINDS.values():
        for store in STORES.values():
            if not kind.holds(store):
                continue
            for op in OPERATIONS:
                if not op.applies(kind, store):
                    continue
                if kind.refused_on(store) and op.name != "build":
                    continue  # the write is refused: there is nothing to operate on
                name = f"{kind.name}:{store.name}:{op.name}"
                marks = [*store.marks]
                for other in op.uses:
                    marks += STORES[other].marks
                    if not usable(other):
                        marks.append(pytest.mark.skip(reason=f"{other} is not installed"))
                if not usable(store.name):
                    marks.append(pytest.mark.skip(reason=f"{store.name} is not installed"))
                reason = next((why for pattern, why in KNOWN if fnmatchcase(name, pattern)), None)
                if reason is not None:
                    marks.append(pytest.mark.xfail(strict=True, reason=reason))
                params.append(pytest.param(kind.name, store.name, op, id=name, marks=marks))
    return params


@pytest.mark.parametrize(("kind", "store", "operation"), _cells())
def test_cell(matrix, kind, store, operation):
    operation.run(matrix, matrix.cell(kind, store))
