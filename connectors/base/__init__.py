"""What every engine and every framework integration shares, written once.

- ``store.py``: :class:`BaseStore`, the store every engine subclasses (its engine hooks are
  listed there); ``collection.py``: a collection's life cycle against the embedding signature.
- ``keywords.py``: the keyword channel of a store (hybrid search): the public methods and the
  client-side fusion; engines implement its two search hooks.
- ``common.py``: optional imports that name their pip extra, argument checks, error wrapping.
- ``framework.py``: what the framework integrations share: the embedder's life cycle and late
  chunking.

May import: ``jina_v3`` (foundations, ``embedder``, ``index``); never an engine's package
(``qdrant``, ``milvus``, ``pinecone``) or a framework's.
"""
