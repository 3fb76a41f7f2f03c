"""Qdrant: `QdrantStore` over qdrant-client (a server, `:memory:` or a local path) and
`QdrantEdgeStore` over Qdrant Edge (public path :mod:`jina_v3.connectors.qdrant_edge`).

- ``store.py``: :class:`QdrantStore`; ``edge.py``: :class:`QdrantEdgeStore` and its shard.
- ``common.py``: what the two share, written once (they differ only where their clients do):
  the collection's layout (named vectors, funnel, keyword channel), the searches on it, the
  points written and read back.
- ``filters.py``: the filter translator both engines use, payload keys and indexes.

May import: :mod:`jina_v3.connectors.base` and ``jina_v3``; never another engine or a
framework. ``qdrant_client`` and ``qdrant_edge`` are imported on first use.
"""

from jina_v3.connectors.qdrant.store import QdrantStore, to_qdrant_filter

__all__ = ["QdrantStore", "to_qdrant_filter"]
