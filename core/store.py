"""Vector-store side of the core: documents, records, hits, the embedding signature and the
small `VectorStore` protocol that every connector in `jina_v3.connectors` implements.

No database is imported here; connectors translate these types to their client's API.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: Namespace of the deterministic point ids (uuid5 of "document id#chunk index").
ID_NAMESPACE = uuid.UUID("5f0c6f0e-4b7e-5a39-9d7e-6a8f3c9b1e21")
#: Metadata keys reserved by the library in every stored point's payload.
TEXT_KEY, DOCUMENT_ID_KEY, CHUNK_INDEX_KEY = "text", "document_id", "chunk_index"


@dataclass(frozen=True)
class Document:
    """A document to index: plain text, or the list of its chunks (late chunking)."""

    id: str
    text: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    chunks: Sequence[str] | None = None


@dataclass(frozen=True)
class Record:
    """One point to write: a document, or one chunk of one."""

    id: str  # deterministic: point_id(document_id, chunk_index)
    vector: np.ndarray  # float32 (dimensions,), or uint8 packed bits for embedding_type ubinary
    text: str
    metadata: Mapping[str, Any]
    document_id: str
    chunk_index: int | None = None


@dataclass(frozen=True)
class Hit:
    """A search result."""

    id: str
    score: float
    text: str
    metadata: Mapping[str, Any]
    document_id: str
    chunk_index: int | None = None


def point_id(document_id: str, chunk_index: int | None = None) -> str:
    """The stable id of a document or chunk: re-ingesting the same input overwrites it."""
    key = document_id if chunk_index is None else f"{document_id}#{chunk_index}"
    return str(uuid.uuid5(ID_NAMESPACE, key))


@dataclass(frozen=True)
class EmbeddingSignature:
    """How a collection's vectors were made; stored with the collection and checked on use."""

    model: str
    dimensions: int
    query_task: str | None = "retrieval.query"
    passage_task: str | None = "retrieval.passage"
    normalized: bool = True
    embedding_type: str = "float"
    late_chunking: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> EmbeddingSignature:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})  # type: ignore[arg-type]

    def differences(self, stored: EmbeddingSignature) -> list[str]:
        """Human-readable `field: stored X, this index Y` for every field that differs."""
        mine, theirs = self.to_dict(), stored.to_dict()
        return [
            f"{key}: collection has {theirs[key]!r}, this index uses {mine[key]!r}"
            for key in mine
            if mine[key] != theirs[key]
        ]


@runtime_checkable
class VectorStore(Protocol):
    """What a database connector provides. Async twins carry an `a` prefix."""

    def ensure_collection(self, signature: EmbeddingSignature, *, recreate: bool = False) -> None:
        """Create the collection for `signature`, or check an existing one against it."""
        ...

    def read_signature(self) -> EmbeddingSignature | None:
        """The signature stored with the collection (None if there is no collection)."""
        ...

    def upsert(self, records: Sequence[Record]) -> None: ...

    def query(
        self, vector: np.ndarray, *, k: int, filter: Any | None = None
    ) -> list[Hit]: ...

    def delete(
        self, *, ids: Sequence[str] | None = None, document_ids: Sequence[str] | None = None
    ) -> None: ...

    def count(self) -> int: ...

    def close(self) -> None: ...
