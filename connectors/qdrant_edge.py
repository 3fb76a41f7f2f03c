"""Public path of the Qdrant Edge store: :class:`QdrantEdgeStore` and :func:`to_edge_filter`.

The code lives in :mod:`jina_v3.connectors.qdrant.edge`, beside the Qdrant store it shares
its layout, filters and keyword channel with.
"""

from jina_v3.connectors.qdrant.edge import QdrantEdgeStore, to_edge_filter

__all__ = ["QdrantEdgeStore", "to_edge_filter"]
