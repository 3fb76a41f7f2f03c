"""Pinecone: `PineconeStore`, one namespace of a Pinecone index (the `pinecone` SDK, v10).

- ``store.py``: :class:`PineconeStore`; ``client.py``: the data-plane client.
- ``tags.py``: the embedding signature as index tags.
- ``keywords.py``: the keyword channel (sparse vectors and the BM25 statistics it keeps).

May import: :mod:`jina_v3.connectors.base` and ``jina_v3``; never another engine or a
framework. ``pinecone`` (the SDK) is imported on first use.
"""

from jina_v3.connectors.pinecone.store import MAX_METADATA_BYTES, PineconeStore
from jina_v3.connectors.pinecone.tags import signature_from_tags, signature_tags

__all__ = ["MAX_METADATA_BYTES", "PineconeStore", "signature_from_tags", "signature_tags"]
