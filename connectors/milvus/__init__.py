"""Milvus: `MilvusStore` over pymilvus' `MilvusClient` (a Milvus Lite file or a server).

- ``store.py``: :class:`MilvusStore`; ``schema.py``: the collection's schema and what a
  collection says about itself; ``rows.py``: rows <-> hits.
- ``filters.py``: the filter dialect as a Milvus boolean expression.
- ``keywords.py``: the keyword channel (Milvus' BM25 function); ``lite.py``: opening Milvus Lite.

May import: :mod:`jina_v3.connectors.base` and ``jina_v3``; never another engine or a
framework. ``pymilvus`` is imported on first use.
"""

from jina_v3.connectors.milvus.filters import to_expression
from jina_v3.connectors.milvus.schema import MAX_VARCHAR_BYTES
from jina_v3.connectors.milvus.store import DEFAULT_BATCH_SIZE, MilvusStore

__all__ = ["DEFAULT_BATCH_SIZE", "MAX_VARCHAR_BYTES", "MilvusStore", "to_expression"]
