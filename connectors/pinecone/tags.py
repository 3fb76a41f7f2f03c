"""The embedding signature as Pinecone index tags: one tag per field (tag values are short
printable ASCII, so a long or non-ASCII model name is kept as its digest)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from jina_v3.index.store import EmbeddingSignature

_TAG_PREFIX = "jina_v3_"
_TAG_VALUE_MAX = 120
_FIELDS = (
    "model",
    "dimensions",
    "query_task",
    "passage_task",
    "normalized",
    "embedding_type",
    "late_chunking",
)


def signature_tags(signature: EmbeddingSignature) -> dict[str, str]:
    """The signature as Pinecone index tags (one per field, printable ASCII <= 120 chars)."""
    return {_TAG_PREFIX + key: _tag_value(value) for key, value in signature.to_dict().items()}


def signature_from_tags(tags: Mapping[str, str] | None) -> EmbeddingSignature | None:
    """The signature read back from index tags (None when the index carries none)."""
    tags = dict(tags or {})
    if not all(_TAG_PREFIX + key in tags for key in _FIELDS):
        return None
    raw = {key: tags[_TAG_PREFIX + key] for key in _FIELDS}
    try:
        return EmbeddingSignature(
            model=raw["model"],
            dimensions=int(raw["dimensions"]),
            query_task=None if raw["query_task"] == "none" else raw["query_task"],
            passage_task=None if raw["passage_task"] == "none" else raw["passage_task"],
            normalized=raw["normalized"] == "true",
            embedding_type=raw["embedding_type"],
            late_chunking=raw["late_chunking"] == "true",
            keywords=tags.get(_TAG_PREFIX + "keywords"),
        )
    except ValueError:
        return None


def _tag_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if len(text) <= _TAG_VALUE_MAX and text.isascii() and text.isprintable():
        return text
    # a long or non-ASCII model name (a local path): keep a digest, compared the same way
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:48]


def comparable(signature: EmbeddingSignature) -> EmbeddingSignature:
    """`signature` as it reads back from tags (a long model name becomes its digest)."""
    return signature_from_tags(signature_tags(signature)) or signature
