"""The cells of the matrix: a kind written on a store, each built once per session on first
use (operations that write build a private one of their own)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.matrix._kinds import KINDS, Context, Expected, Kind, Refused
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
