"""LangChain integration for jina-embeddings-v3: embeddings, a vector store, a splitter.

    from jina_v3.connectors.langchain import (
        JinaV3Embeddings, JinaV3TextSplitter, JinaV3VectorStore,
    )
    from jina_v3.connectors.qdrant import QdrantStore

    embeddings = JinaV3Embeddings(dimensions=256)  # local; backend="api": the hosted API
    chunks = JinaV3TextSplitter.for_embeddings(embeddings).split_documents(documents)
    store = JinaV3VectorStore(QdrantStore("docs", location=":memory:"), embeddings)
    store.add_documents(chunks)
    retriever = store.as_retriever(search_kwargs={"k": 4, "filter": {"lang": "en"}})

- :class:`JinaV3Embeddings` (an ``Embeddings``, in :mod:`.embeddings`): ``embed_query`` uses
  ``retrieval.query``, ``embed_documents`` ``retrieval.passage``; real async methods; the key
  as a ``SecretStr`` (never in ``repr``, ``dumpd`` or a pickle).
- :class:`JinaV3VectorStore` (a ``VectorStore``, in :mod:`.vectorstores`) over any
  ``jina_v3`` store (Milvus, Pinecone, Qdrant Edge, Qdrant), with the embedding-signature
  checks, filters in the ``jina_v3`` dialect and late chunking per source document.
  LangChain's own ``langchain-qdrant`` ``QdrantVectorStore`` works with
  :class:`JinaV3Embeddings` unchanged, and with :class:`JinaV3SparseEmbeddings` (in
  :mod:`.sparse`, needs ``langchain-qdrant``) as its ``sparse_embedding`` for hybrid search.
  ``JinaV3VectorStore(..., hybrid=True)`` keeps the keyword channel itself.
- :class:`JinaV3TextSplitter` (a ``TextSplitter``, in :mod:`.text_splitter`): chunks counted in
  the model's tokens, Markdown-aware, each with its ``start_index``.

How a Document's id names a stored point, and back: :mod:`._documents`; the store's flows:
:mod:`._flows`. May import: ``langchain_core``, :mod:`jina_v3.connectors.base`,
:mod:`jina_v3.connectors.uris` (``from_texts`` on a store URI) and ``jina_v3``; never an
engine's package (stores come in as objects).
"""

from typing import Any

from jina_v3.connectors.base.common import require
from jina_v3.errors import MissingDependencyError

require("langchain_core", "langchain", "langchain-core")
require("langchain_text_splitters", "langchain", "langchain-text-splitters")

from jina_v3.connectors.langchain.embeddings import JinaV3Embeddings  # noqa: E402
from jina_v3.connectors.langchain.text_splitter import JinaV3TextSplitter  # noqa: E402
from jina_v3.connectors.langchain.vectorstores import JinaV3VectorStore  # noqa: E402

__all__ = ["JinaV3Embeddings", "JinaV3SparseEmbeddings", "JinaV3TextSplitter", "JinaV3VectorStore"]


def __getattr__(name: str) -> Any:
    # on first use: it implements langchain-qdrant's interface, an optional package
    if name == "JinaV3SparseEmbeddings":
        try:
            from jina_v3.connectors.langchain.sparse import JinaV3SparseEmbeddings
        except ImportError as exc:
            raise MissingDependencyError(
                "JinaV3SparseEmbeddings implements langchain-qdrant's SparseEmbeddings; run "
                "`pip install langchain-qdrant`."
            ) from exc
        return JinaV3SparseEmbeddings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
