"""LlamaIndex integration for jina-embeddings-v3: embedding, late chunking and vector stores.

    from llama_index.core import VectorStoreIndex
    from jina_v3.connectors.llama_index import JinaV3Embedding, JinaV3VectorStore
    from jina_v3.connectors.milvus import MilvusStore

    embed_model = JinaV3Embedding(dimensions=256)  # local model; backend="api": the API
    vector_store = JinaV3VectorStore(MilvusStore("docs", uri="./docs.db"), embed_model=embed_model)
    index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed_model)

- :class:`JinaV3Embedding` (a ``BaseEmbedding``, in :mod:`.embedding`): query methods use
  ``retrieval.query``, text methods ``retrieval.passage``; real batched async methods with
  bounded concurrency. The API key is never a field: ``to_dict()`` / ``to_json()`` never
  contain it.
- :class:`JinaV3LateChunking` (a ``TransformComponent``, in :mod:`.transform`): the nodes of
  one source document (``NodeRelationship.SOURCE``) embedded together in order, one document
  per pass; put it in an ``IngestionPipeline`` before the vector store.
- :class:`JinaV3VectorStore` (a ``BasePydanticVectorStore``, in :mod:`.vector_store`) over any
  ``jina_v3`` store (Milvus, Pinecone, Qdrant Edge, Qdrant), with the embedding-signature
  checks; LlamaIndex's own Milvus and Pinecone stores do not install beside pymilvus 3 and the
  pinecone v10 SDK. LlamaIndex's ``QdrantVectorStore`` works with :class:`JinaV3Embedding`
  unchanged; :func:`check_vector_store` compares either store's size with the embedding's.
- :func:`sparse_encoders` (in :mod:`.sparse`): ``sparse_doc_fn`` / ``sparse_query_fn`` for
  ``QdrantVectorStore(enable_hybrid=True)``: BM25 over the model's own tokens, every language.
- :func:`to_filter` (in :mod:`.filters`) translates ``MetadataFilters`` into the ``jina_v3``
  filter dialect.

May import: ``llama_index.core``, :mod:`jina_v3.connectors.base` and ``jina_v3``; never an
engine's package (stores come in as objects).
"""

from jina_v3.connectors.base.common import require

require("llama_index.core", "llama-index", "llama-index-core")

from jina_v3.connectors.base.framework import DEFAULT_API_MODEL, DEFAULT_LOCAL_MODEL  # noqa: E402, F401
from jina_v3.connectors.llama_index.embedding import JinaV3Embedding  # noqa: E402
from jina_v3.connectors.llama_index.filters import to_filter  # noqa: E402
from jina_v3.connectors.llama_index.sparse import sparse_encoders  # noqa: E402
from jina_v3.connectors.llama_index.transform import JinaV3LateChunking  # noqa: E402
from jina_v3.connectors.llama_index.vector_store import (  # noqa: E402
    JinaV3VectorStore,
    check_vector_store,
)

__all__ = [
    "JinaV3Embedding",
    "JinaV3LateChunking",
    "JinaV3VectorStore",
    "check_vector_store",
    "sparse_encoders",
    "to_filter",
]
