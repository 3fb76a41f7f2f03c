"""The vector-store vocabulary: documents, records, hits, the embedding signature, and the
small `VectorStore` protocol (with its async twin) that every connector implements.

No database is imported here. Connectors (``jina_v3.connectors.*``) build on
``jina_v3.connectors.base.store.BaseStore``; :mod:`jina_v3.index` writes and searches through them.

Metadata follows one rule on every store, checked where data enters (``Document``, and
``upsert`` for direct store users): string keys; values that are strings, booleans, integers
within int64, finite floats, or lists and objects of those (at most 16 levels deep).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypedDict, Unpack, runtime_checkable

import numpy as np

from jina_v3.errors import ConfigurationError, DimensionMismatchError, SignatureMismatchError
from jina_v3.index.keywords import SparseVector

__all__ = [
    "AsyncVectorStore",
    "Document",
    "EmbeddingSignature",
    "Hit",
    "Record",
    "VectorStore",
    "check_metadata",
    "check_signature",
    "point_id",
]

#: Namespace of the deterministic point ids.
ID_NAMESPACE = uuid.UUID("5f0c6f0e-4b7e-5a39-9d7e-6a8f3c9b1e21")
#: Metadata keys reserved by the library in every stored point's payload.
TEXT_KEY, DOCUMENT_ID_KEY, CHUNK_INDEX_KEY = "text", "document_id", "chunk_index"
#: The hash of a document's content, kept on each of its points (incremental indexing).
CONTENT_HASH_KEY = "content_hash"
RESERVED_KEYS = frozenset((TEXT_KEY, DOCUMENT_ID_KEY, CHUNK_INDEX_KEY, CONTENT_HASH_KEY))

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_METADATA_DEPTH = 16


def point_id(document_id: str, chunk_index: int | None = None) -> str:
    """The stable id of a document or one of its chunks: re-ingesting overwrites it.

    The key is the JSON of ``[document_id]`` or ``[document_id, chunk_index]``, so no two
    (document, chunk) pairs share an id, whatever characters the document id holds.
    """
    key = [document_id] if chunk_index is None else [document_id, int(chunk_index)]
    return str(uuid.uuid5(ID_NAMESPACE, json.dumps(key, ensure_ascii=False)))


def check_text(value: Any, name: str) -> str:
    """A string that every engine and the model can take (no lone surrogates)."""
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigurationError(
            f"{name} holds a lone surrogate (invalid Unicode); decode your input with "
            "errors='replace' or fix its encoding"
        ) from None
    return value


def check_metadata(metadata: Any, where: str) -> dict[str, Any]:
    """Validate metadata for every store (see the module docstring); returns a plain dict."""
    if not isinstance(metadata, Mapping):
        raise ConfigurationError(
            f"{where}: metadata must be a dict (or omitted), got {type(metadata).__name__}"
        )
    return _check_object(metadata, f"{where}: metadata", 1)


def _check_object(mapping: Mapping[Any, Any], name: str, depth: int) -> dict[str, Any]:
    out = {}
    for key, value in mapping.items():
        if not isinstance(key, str) or not key:
            raise ConfigurationError(f"{name} has key {key!r}: metadata keys are non-empty strings")
        out[check_text(key, f"{name} key {key!r}")] = _check_value(value, f"{name}[{key!r}]", depth)
    return out


def _check_value(value: Any, name: str, depth: int) -> Any:
    if depth > MAX_METADATA_DEPTH:
        raise ConfigurationError(f"{name} is nested over {MAX_METADATA_DEPTH} levels deep")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return check_text(value, name)
    if isinstance(value, (int, np.integer)):
        if not INT64_MIN <= int(value) <= INT64_MAX:
            raise ConfigurationError(
                f"{name} = {int(value)} is outside int64, which no database stores exactly; "
                "store it as a string"
            )
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise ConfigurationError(f"{name} = {value!r}: metadata numbers must be finite")
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_check_value(v, f"{name}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return _check_object(value, name, depth + 1)
    raise ConfigurationError(
        f"{name} is a {type(value).__name__}: metadata values are strings, numbers, booleans, "
        "None, or lists and dicts of those"
    )


@dataclass(frozen=True)
class Document:
    """A document to index: its text, or the list of its chunks (exactly one of the two).

    Example:
        >>> Document("berlin", "Berlin is the capital of Germany.", {"lang": "en"})
        >>> Document("guide", chunks=["# Berlin", "Berlin is big."], metadata={"lang": "en"})

    Raises:
        ConfigurationError: An empty id or text, both or neither of ``text`` and ``chunks``,
            a chunk that is not a non-blank string, metadata that no store can hold, or a
            reserved metadata key (``text``, ``document_id``, ``chunk_index``).
    """

    id: str
    text: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    chunks: Sequence[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ConfigurationError(f"Document id must be a non-empty string, got {self.id!r}")
        check_text(self.id, "Document id")
        name = f"Document {self.id!r}"
        metadata = check_metadata({} if self.metadata is None else self.metadata, name)
        reserved = RESERVED_KEYS & set(metadata)
        if reserved:
            raise ConfigurationError(
                f"{name}: metadata keys {sorted(reserved)} are reserved by the index (it "
                "stores the text, document id, chunk index and content hash under them); "
                "rename them."
            )
        object.__setattr__(self, "metadata", metadata)
        check_text(self.text, f"{name}: text")
        if self.chunks is None:
            if not self.text:
                raise ConfigurationError(f"{name}: text is empty; pass text=... or chunks=[...]")
            return
        if self.text:
            raise ConfigurationError(
                f"{name} has both text and chunks; pass one: text (the index chunks it if "
                "asked) or chunks (its own chunking)"
            )
        if isinstance(self.chunks, str) or not isinstance(self.chunks, Sequence):
            raise ConfigurationError(f"{name}: chunks must be a list of strings")
        if not self.chunks:
            raise ConfigurationError(f"{name}: chunks must be a non-empty list of strings")
        for j, chunk in enumerate(self.chunks):
            if not check_text(chunk, f"{name}: chunks[{j}]").strip():
                raise ConfigurationError(f"{name}: chunks[{j}] is empty or only whitespace")
        object.__setattr__(self, "chunks", tuple(self.chunks))


@dataclass(frozen=True)
class Record:
    """One point to write: a document, or one chunk of one."""

    id: str  # deterministic: point_id(document_id, chunk_index)
    vector: np.ndarray  # float32 (dimensions,), or uint8 packed bits for embedding_type ubinary
    text: str
    metadata: Mapping[str, Any]
    document_id: str
    chunk_index: int | None = None
    #: BM25 term weights of `text` (:mod:`jina_v3.index.keywords`), for collections with the
    #: keyword channel (``EmbeddingSignature.keywords``).
    keywords: SparseVector | None = None


@dataclass(frozen=True)
class Hit:
    """A search result (or a fetched point, with ``score`` 1.0)."""

    id: str
    score: float
    text: str
    metadata: Mapping[str, Any]
    document_id: str
    chunk_index: int | None = None
    content_hash: str | None = None  # of the document, when an index wrote it


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
    #: The keyword channel (hybrid search): its term weighting and tokenizer; None: no channel.
    keywords: str | None = None

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        if raw["keywords"] is None:  # no channel: stored as before the channel existed
            del raw["keywords"]
        return raw

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> EmbeddingSignature:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})  # type: ignore[arg-type]

    def differences(self, stored: EmbeddingSignature) -> dict[str, tuple[Any, Any]]:
        """``field -> (stored value, this signature's value)`` for every field that differs."""
        mine, theirs = asdict(self), asdict(stored)
        return {key: (theirs[key], mine[key]) for key in mine if mine[key] != theirs[key]}


#: The fix offered by every mismatch message.
REBUILD_FIX = (
    "use a new collection name, or pass recreate=True to drop it and rebuild it "
    "(this deletes its data)"
)
#: The signature fields an index takes as parameters (the others follow from the model).
_PARAMETERS = ("dimensions", "late_chunking", "embedding_type")


def describe_differences(differences: Mapping[str, tuple[Any, Any]], user: str) -> str:
    """``field: collection has X, <user> uses Y`` for each difference, `;`-separated (a
    setting one side lacks, such as the keyword channel, is said as "none")."""

    def shown(value: Any) -> str:
        return "none" if value is None else repr(value)

    return "; ".join(
        f"{key}: collection has {shown(stored)}, {user} uses {shown(mine)}"
        for key, (stored, mine) in differences.items()
    )


def _match_fix(differences: Mapping[str, tuple[Any, Any]]) -> str:
    """How to match the collection from Python, every differing setting at once ('' when
    only a rebuild can: normalisation and tasks follow from the model)."""
    parts = [
        f"pass {key}={stored!r}" for key, (stored, _) in differences.items() if key in _PARAMETERS
    ]
    if "model" in differences:
        parts.append(f"embed with its model {differences['model'][0]!r}")
    return " and ".join(parts) + " to use the collection as it is, or " if parts else ""


def dimension_mismatch(
    collection: str,
    stored: int,
    expected: int,
    differences: Mapping[str, tuple[Any, Any]] | None = None,
) -> DimensionMismatchError:
    """The one message for a collection whose vectors have another size (`differences`:
    every setting that differs, when the collection's signature is known)."""
    differences = dict(differences or {"dimensions": (stored, expected)})
    others = {k: v for k, v in differences.items() if k != "dimensions"}
    detail = f" (and {describe_differences(others, 'this index')})" if others else ""
    return DimensionMismatchError(
        f"Collection {collection!r} holds {stored}-d vectors but this index makes "
        f"{expected}-d ones{detail}. Fix: {_match_fix(differences)}{REBUILD_FIX}.",
        collection=collection,
        differences=differences,
    )


def check_signature(
    expected: EmbeddingSignature, stored: EmbeddingSignature | None, *, collection: str
) -> None:
    """Raise if `stored` (a collection's signature) differs from `expected` (this index's),
    naming every setting that differs at once (in the message and in ``differences``).

    Raises:
        DimensionMismatchError: The vector sizes differ (the message gives the right
            ``dimensions``).
        SignatureMismatchError: Another model, task pair, normalisation, embedding type or
            late-chunking setting.
    """
    if stored is None or stored == expected:
        return
    differences = expected.differences(stored)
    if stored.dimensions != expected.dimensions:
        raise dimension_mismatch(collection, stored.dimensions, expected.dimensions, differences)
    raise SignatureMismatchError(
        f"Collection {collection!r} was built with other embedding settings: "
        f"{describe_differences(differences, 'this index')}. "
        f"Fix: {_match_fix(differences)}{REBUILD_FIX}.",
        collection=collection,
        differences=differences,
    )


def stored_vector(vector: Any, signature: EmbeddingSignature, where: str) -> np.ndarray:
    """The stored form of one vector (float32, or packed uint8 bits for 'ubinary'), checked
    against the collection's `signature`; `where` names the collection in errors."""
    vector = np.asarray(vector)
    dims = signature.dimensions
    if signature.embedding_type == "ubinary":
        if vector.dtype == np.uint8 and vector.shape == (dims // 8,):
            return vector
        if vector.shape == (dims,) and vector.dtype != np.uint8:  # floats: the sign bits
            return np.packbits(vector > 0)
    elif vector.shape == (dims,) and vector.dtype.kind == "f":
        vector = vector.astype(np.float32, copy=False)
        if not np.isfinite(vector).all():
            raise ConfigurationError(f"A vector for {where} holds NaN or infinity; re-embed it.")
        return vector
    raise DimensionMismatchError(
        f"{where} holds {dims}-d {signature.embedding_type} vectors; got a {vector.dtype} "
        f"vector of shape {vector.shape}. Fix: embed with dimensions={dims} and "
        f"embedding_type={signature.embedding_type!r}, or {REBUILD_FIX}."
    )


def prefix_vectors(vectors: np.ndarray, dimensions: int) -> np.ndarray:
    """The Matryoshka prefix of each row (first `dimensions` values), re-normalised."""
    prefix = np.asarray(vectors, dtype=np.float32)[..., :dimensions]
    norms = np.linalg.norm(prefix, axis=-1, keepdims=True)
    return np.ascontiguousarray(prefix / np.maximum(norms, 1e-12), dtype=np.float32)


def record_payload(record: Record) -> dict[str, Any]:
    """The flat payload a store writes: user metadata plus the reserved keys (no nulls)."""
    payload = dict(record.metadata)
    payload[TEXT_KEY] = record.text
    payload[DOCUMENT_ID_KEY] = record.document_id
    if record.chunk_index is not None:
        payload[CHUNK_INDEX_KEY] = record.chunk_index
    return payload


def hit_from_payload(id: str, score: float, payload: Mapping[str, Any]) -> Hit:
    """Split a stored payload back into a :class:`Hit` (reserved keys out of `metadata`)."""
    metadata = {k: v for k, v in payload.items() if k not in RESERVED_KEYS}
    chunk = payload.get(CHUNK_INDEX_KEY)
    digest = payload.get(CONTENT_HASH_KEY)
    return Hit(
        id=str(id),
        score=float(score),
        text=str(payload.get(TEXT_KEY, "")),
        metadata=metadata,
        document_id=str(payload.get(DOCUMENT_ID_KEY, "")),
        chunk_index=None if chunk is None or int(chunk) < 0 else int(chunk),
        content_hash=None if digest is None else str(digest),
    )


#: The vector of a point read without its vectors (``scroll(vectors=False)``).
NO_VECTOR = np.empty(0, dtype=np.float32)


def record_from_payload(
    id: Any,
    vector: np.ndarray,
    payload: Mapping[str, Any],
    *,
    keywords: SparseVector | None = None,
) -> Record:
    """A stored point back as the :class:`Record` that wrote it: the metadata keeps the
    content hash, so writing the record elsewhere stores the same payload (`keywords`: its
    keyword channel's weights, as the engine gives them back)."""
    metadata = {
        k: v for k, v in payload.items() if k not in (TEXT_KEY, DOCUMENT_ID_KEY, CHUNK_INDEX_KEY)
    }
    chunk = payload.get(CHUNK_INDEX_KEY)
    return Record(
        id=str(id),
        vector=vector,
        text=str(payload.get(TEXT_KEY, "")),
        metadata=metadata,
        document_id=str(payload.get(DOCUMENT_ID_KEY, "")),
        chunk_index=None if chunk is None or int(chunk) < 0 else int(chunk),
        keywords=keywords,
    )


class PointSelector(TypedDict, total=False):
    """Which points ``delete`` removes: by point id, by document, by filter (any of them)."""

    ids: Sequence[str]
    document_ids: Sequence[str]
    filter: Any


@runtime_checkable
class VectorStore(Protocol):
    """What a database connector provides. Async twins carry an `a` prefix (AsyncVectorStore).

    A store holds one collection. ``filter`` is a Mongo-style dict (see :mod:`jina_v3.filters`)
    or the database's native filter object, passed through untouched. Scores are similarities:
    higher is better. Client exceptions are wrapped in :class:`~jina_v3.StoreError`.
    """

    collection: str

    def ensure_collection(self, signature: EmbeddingSignature, *, recreate: bool = False) -> None:
        """Create the collection for `signature`, or check an existing one against it
        (SignatureMismatchError / DimensionMismatchError, nothing written); `recreate` drops
        an existing collection first."""
        ...

    def read_signature(self) -> EmbeddingSignature | None:
        """The signature stored with the collection (None if there is no collection)."""
        ...

    def upsert(self, records: Sequence[Record]) -> None:
        """Write records (insert or overwrite by id), batched to the database's limits."""
        ...

    def query(self, vector: np.ndarray, *, k: int, filter: Any | None = None) -> list[Hit]:
        """The `k` nearest points to `vector` (best first) that match `filter`."""
        ...

    def fetch(self, ids: Sequence[str]) -> list[Hit]:
        """The stored points with these ids (missing ones are left out), score 1.0."""
        ...

    def delete(self, **selector: Unpack[PointSelector]) -> None:
        """Delete points by point id, every point (chunk) of the given documents, and/or every
        point matching a filter."""
        ...

    def collections(self) -> list[str]:
        """Names of the jina_v3 collections in the same database."""
        ...

    def clear(self) -> None:
        """Delete every point, keeping the collection and its signature."""
        ...

    def count(self) -> int:
        """Number of points in the collection (0 if there is none)."""
        ...

    def close(self) -> None:
        """Release the client (only if the store created it)."""
        ...


@runtime_checkable
class AsyncVectorStore(Protocol):
    """The async twins of :class:`VectorStore` (same arguments, awaitable)."""

    async def aensure_collection(
        self, signature: EmbeddingSignature, *, recreate: bool = False
    ) -> None: ...

    async def aread_signature(self) -> EmbeddingSignature | None: ...

    async def aupsert(self, records: Sequence[Record]) -> None: ...

    async def aquery(
        self, vector: np.ndarray, *, k: int, filter: Any | None = None
    ) -> list[Hit]: ...

    async def afetch(self, ids: Sequence[str]) -> list[Hit]: ...

    async def adelete(self, **selector: Unpack[PointSelector]) -> None: ...

    async def acollections(self) -> list[str]: ...

    async def aclear(self) -> None: ...

    async def acount(self) -> int: ...

    async def aclose(self) -> None: ...
