"""Connectors: the vector databases and RAG frameworks, each imported explicitly.

- ``base/``: what every engine and framework shares (the store base, the collection's life
  cycle, the keyword channel's plumbing, optional imports, the frameworks' embedder glue).
- One folder per engine: ``qdrant/`` (Qdrant and Qdrant Edge), ``milvus/``, ``pinecone/``;
  one per framework: ``haystack/``, ``llama_index/``, ``langchain/``.
- ``uris.py``: store URIs (the CLI's ``--store``); ``qdrant_edge.py``: the public path of
  ``QdrantEdgeStore``.

Imports run one way: ``base`` imports only ``jina_v3``; an engine imports ``base``, never another
engine; a framework imports ``base`` and takes stores as objects (or opens one by URI through
``uris``). In ``jina_v3`` only the CLI and Ray import a connector, through ``uris``.
"""
