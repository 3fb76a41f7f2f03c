"""Fixtures of the cross-feature matrix: the working folder with the corpus, the store
folders on tmpfs, and the cells (a kind written on a store), each built once per session on
first use."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.connectors import _milvus_pinecone as servers
from tests.matrix._kinds import KINDS, Context, Expected, Kind, Refused, write_corpus
from tests.matrix._stores import STORES, Location, Store


@dataclass
class Cell:
    """A kind written on a store: where it is, what it must hold, and (for a refused
    write) the refusal."""

    kind: Kind
    store: Store
    location: Location
    corpus: Path
    expected: dict[str, Expected]
    refused: Refused | None = None


@dataclass
class Matrix:
    ctx: Context
    corpus: Path
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    _names: dict[str, int] = field(default_factory=dict)

    def place(self, store: Store, name: str) -> Location:
        """A location of its own on `store` (a fresh collection each call)."""
        n = self._names[name] = self._names.get(name, 0) + 1
        return store.location(f"{name}{n}" if n > 1 else name, self.ctx.root)

    def build(self, kind: Kind, store: Store, corpus: Path | None = None, label: str = "") -> Cell:
        """`kind` written on `store` in a new location (from `corpus`, default the shared one)."""
        corpus = corpus or self.corpus
        location = self.place(store, f"{kind.name}{label}")
        cell = Cell(kind, store, location, corpus, {})
        try:
            kind.build(self.ctx, store, location, corpus)
        except Refused as refused:
            cell.refused = refused
            return cell
        cell.expected = kind.expected(self.ctx, corpus)
        return cell

    def cell(self, kind: str, store: str) -> Cell:
        """The shared cell of (kind, store), built on first use; read-only for tests."""
        key = (kind, store)
        if key not in self.cells:
            self.cells[key] = self.build(KINDS[kind], STORES[store])
        return self.cells[key]


@pytest.fixture(scope="session")
def matrix(tiny_embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    import torch

    # the tiny model is too small for threads to help; on a busy machine they spin
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    work = tmp_path_factory.mktemp("matrix")
    corpus = write_corpus(work / "corpus")
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):  # Qdrant local mode is slow on disk
        root = Path(tempfile.mkdtemp(prefix=f"jv3-matrix-{uuid.uuid4().hex[:8]}-", dir=shm))
    else:
        root = work / "stores"
        root.mkdir()
    yield Matrix(Context(tiny_embedder, work, root), corpus)
    shutil.rmtree(root, ignore_errors=True)
    servers.cleanup()
    torch.set_num_threads(threads)
