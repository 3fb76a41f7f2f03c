"""The Milvus collection schema: what a new collection is made of (vector fields, the
payload's fields, index parameters, the keyword channel) and how an existing one is read back
(signature, vector size, layout) from its properties."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jina_v3.connectors.base.collection import Described
from jina_v3.connectors.base.common import LAYOUT_KEY, SIGNATURE_KEY, require
from jina_v3.connectors.milvus.keywords import add_channel
from jina_v3.errors import StoreError
from jina_v3.index.store import REBUILD_FIX, EmbeddingSignature

#: VARCHAR's largest size in Milvus (bytes): the text, document id and keyword fields.
MAX_VARCHAR_BYTES = 65_535


def collection_schema(
    client: Any,
    signature: EmbeddingSignature,
    funnel_dimensions: int | None,
    index_extra: Mapping[str, Any],
) -> tuple[Any, Any, dict[str, str]]:
    """The schema, index parameters and properties (signature, layout) of a new collection."""
    pymilvus = require("pymilvus", "milvus", "pymilvus")
    DataType = pymilvus.DataType
    binary = signature.embedding_type == "ubinary"
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field(
        "vector",
        DataType.BINARY_VECTOR if binary else DataType.FLOAT_VECTOR,
        dim=signature.dimensions,
    )
    if funnel_dimensions is not None:
        schema.add_field("funnel", DataType.FLOAT_VECTOR, dim=funnel_dimensions)
    schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES)
    schema.add_field("document_id", DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES)
    schema.add_field("chunk_index", DataType.INT64)
    schema.add_field("metadata", DataType.JSON)

    index_params = client.prepare_index_params()
    main = {"index_type": "BIN_FLAT" if binary else "AUTOINDEX", **index_extra}
    main["metric_type"] = "HAMMING" if binary else "COSINE"
    index_params.add_index(field_name="vector", **main)
    if funnel_dimensions is not None:
        index_params.add_index(field_name="funnel", index_type="AUTOINDEX", metric_type="COSINE")
    if signature.keywords is not None:
        add_channel(schema, index_params, pymilvus, MAX_VARCHAR_BYTES)
    layout = {"funnel_dimensions": funnel_dimensions}
    properties = {
        SIGNATURE_KEY: json.dumps(signature.to_dict(), sort_keys=True),
        LAYOUT_KEY: json.dumps(layout, sort_keys=True),
    }
    return schema, index_params, properties


def described(info: Mapping[str, Any], collection: str) -> Described:
    """A collection as ``describe_collection`` reports it: its signature, vector size, layout."""
    props = info.get("properties") or {}
    raw = props.get(SIGNATURE_KEY)
    dims = next(
        (
            int(f["params"]["dim"])
            for f in info.get("fields", [])
            if f.get("name") == "vector" and "dim" in (f.get("params") or {})
        ),
        None,
    )
    if not raw:
        return Described(None, dims)
    try:
        stored = EmbeddingSignature.from_dict(json.loads(raw))
        layout = json.loads(props.get(LAYOUT_KEY) or "{}")
    except (ValueError, TypeError) as exc:
        raise StoreError(
            f"Collection {collection!r} has an unreadable {SIGNATURE_KEY!r} property. "
            f"Fix: {REBUILD_FIX}."
        ) from exc
    if stored.embedding_type == "ubinary" and dims is not None:
        dims = stored.dimensions  # a binary field's dim counts bits: the same number
    return Described(stored, dims, layout)


def create_hint(message: str, binary: bool, funnel: int | None) -> str:
    """What to do when the server refused a schema (Milvus Lite or an old server)."""
    if binary and "BinaryVector" in message:
        return (
            " Milvus Lite has no BINARY_VECTOR type: use a Milvus server "
            "(uri='http://host:19530') or embedding_type='float'."
        )
    if funnel is not None and "multiple vector fields" in message:
        return (
            " This Milvus server allows one vector field per collection (Milvus < 2.4): "
            "drop funnel_dimensions, or use Milvus >= 2.4 or Milvus Lite."
        )
    return ""
