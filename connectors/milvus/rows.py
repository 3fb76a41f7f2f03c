"""Milvus rows to and from the library's types: a record's text cut to VARCHAR's size, search
results and query rows as Hits, stored vectors (float or packed binary) as arrays."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from jina_v3.connectors.milvus.schema import (
    MAX_VARCHAR_BYTES,
)
from jina_v3.index.store import (
    CHUNK_INDEX_KEY,
    CONTENT_HASH_KEY,
    DOCUMENT_ID_KEY,
    TEXT_KEY,
    Hit,
)

logger = logging.getLogger("jina_v3.connectors.milvus")  # the connector's own


def hit_payload(hit: Hit) -> dict[str, Any]:
    """A hit as the payload the reference evaluator reads (as the other stores keep it)."""
    payload = {**hit.metadata, TEXT_KEY: hit.text, DOCUMENT_ID_KEY: hit.document_id}
    if hit.chunk_index is not None:
        payload[CHUNK_INDEX_KEY] = hit.chunk_index
    return payload


def stored_vector_of(vector: Any) -> np.ndarray:
    """A vector as Milvus returns it: floats, or the packed bits of a BINARY_VECTOR."""
    if isinstance(vector, list) and len(vector) == 1 and isinstance(vector[0], bytes):
        vector = vector[0]
    if isinstance(vector, bytes):
        return np.frombuffer(vector, dtype=np.uint8).copy()
    return np.asarray(vector, dtype=np.float32)


def first_result(result: Any) -> list[dict]:
    """The hits of the one query a search sent."""
    return list(result[0]) if result else []


def cut_text(text: str, point: str) -> str:
    """A text within VARCHAR's limit (cut at a character boundary, with a warning)."""
    data = text.encode("utf-8")
    if len(data) <= MAX_VARCHAR_BYTES:
        return text
    logger.warning(
        "text of point %s is %d bytes; cut to Milvus' VARCHAR limit of %d bytes",
        point,
        len(data),
        MAX_VARCHAR_BYTES,
    )
    return data[:MAX_VARCHAR_BYTES].decode("utf-8", errors="ignore")


def row_hit(raw: Mapping[str, Any], score: float) -> Hit:
    """A search result or query row (``id`` and ``entity``) as a Hit with this score."""
    entity = raw.get("entity") or {}
    chunk = entity.get("chunk_index")
    metadata = dict(entity.get("metadata") or {})
    digest = metadata.pop(CONTENT_HASH_KEY, None)
    return Hit(
        id=str(raw.get("id", entity.get("id"))),
        score=score,
        text=str(entity.get("text", "")),
        metadata=metadata,
        document_id=str(entity.get("document_id", "")),
        chunk_index=None if chunk is None or int(chunk) < 0 else int(chunk),
        content_hash=digest,
    )
