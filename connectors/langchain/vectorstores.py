"""`JinaV3VectorStore`: a LangChain ``VectorStore`` over any ``jina_v3`` store.

``langchain-pinecone`` does not install beside the pinecone v10 SDK and LangChain has no
Qdrant Edge store; this one runs on ``MilvusStore``, ``PineconeStore``, ``QdrantEdgeStore`` and
``QdrantStore``, with their embedding-signature checks and the project's filter dialect. Every
operation is one flow (:mod:`jina_v3._flow`): the sync method drives it with the store and the
embeddings as they are, its async twin with their async twins, so the two cannot drift apart.

With ``hybrid=True`` each record also gets the keyword channel (BM25 over the model's tokens,
:mod:`jina_v3.index.keywords`), and ``similarity_search(..., mode="keyword" | "hybrid")`` runs
on the store's ``query_keywords`` / ``query_hybrid``, the calls ``VectorIndex.search`` makes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from jina_v3._flow import FirstUse
from jina_v3.connectors.langchain._documents import document
from jina_v3.connectors.langchain._flows import StoreFlows
from jina_v3.connectors.langchain.embeddings import JinaV3Embeddings
from jina_v3.connectors.uris import DEFAULT_COLLECTION, DEFAULT_STORE_URI, open_store
from jina_v3.errors import ConfigurationError
from jina_v3.index.keywords import KeywordEncoder, encoder_for
from jina_v3.index.store import (
    EmbeddingSignature,
)


class JinaV3VectorStore(StoreFlows, VectorStore):
    """A LangChain vector store over a ``jina_v3`` store, with the embedding-signature checks.

    The collection is created on first use with the signature of `embedding` (model,
    dimensions, query/passage tasks, late chunking) and checked before every write and query:
    a collection built with other settings raises ``SignatureMismatchError`` /
    ``DimensionMismatchError`` instead of returning wrong neighbours. Ids are the
    documents' own (``Document.id`` or ``ids=``; new UUIDs otherwise): adding again under the
    same id replaces the document. On a collection ``VectorIndex`` wrote, a chunk of a
    chunked document is named by its point id; :meth:`get_by_ids` and :meth:`delete` take
    the ids that search returns, on every collection.

    Example:
        >>> from jina_v3.connectors.langchain import JinaV3Embeddings, JinaV3VectorStore
        >>> from jina_v3.connectors.qdrant_edge import QdrantEdgeStore
        >>> embeddings = JinaV3Embeddings(dimensions=256)
        >>> store = JinaV3VectorStore(QdrantEdgeStore("docs", path="./edge"), embeddings)
        >>> store.add_documents(chunks)  # e.g. from JinaV3TextSplitter
        >>> retriever = store.as_retriever(search_kwargs={"k": 4, "filter": {"lang": "en"}})

    Args:
        store: A ``jina_v3`` store (``MilvusStore``, ``PineconeStore``, ``QdrantEdgeStore``,
            ``QdrantStore``); :meth:`close` closes it.
        embedding: :class:`JinaV3Embeddings` (queries and documents get their own task), or
            any LangChain ``Embeddings`` (recorded by class name and size, no tasks).
        late_chunking: Embed the chunks of one source document together, in one pass, and
            store one vector per chunk (needs :class:`JinaV3Embeddings`). Chunks belong to
            the document named by their ``source_key`` metadata, ordered by ``start_index``
            (which :class:`JinaV3TextSplitter` writes); a chunk without it stands alone.
        source_key: The metadata key naming a chunk's source document.
        recreate: Drop an existing collection on first use (this deletes its data).
        hybrid: Also store the keyword channel (needs :class:`JinaV3Embeddings`, whose
            tokenizer gives the terms, and a store that keeps it) and answer
            ``mode="keyword"`` (BM25 scores) and ``mode="hybrid"`` (fused, in (0, 1])
            searches; ``weights=(dense, keyword)`` weighs the fusion.

    Raises:
        ConfigurationError: A store that is not a ``jina_v3`` store, or late chunking or
            hybrid with embeddings other than :class:`JinaV3Embeddings`, or hybrid on a store
            without the keyword channel.
    """

    def __init__(
        self,
        store: Any,
        embedding: Embeddings,
        *,
        late_chunking: bool = False,
        source_key: str = "source",
        recreate: bool = False,
        hybrid: bool = False,
    ) -> None:
        if not all(hasattr(store, m) for m in ("ensure_collection", "upsert", "query", "fetch")):
            raise ConfigurationError(
                f"store must be a jina_v3 store (jina_v3.connectors.*), got {type(store).__name__}"
            )
        if not isinstance(embedding, Embeddings):
            raise ConfigurationError(
                f"embedding must be a LangChain Embeddings, got {type(embedding).__name__}"
            )
        if late_chunking and not isinstance(embedding, JinaV3Embeddings):
            raise ConfigurationError(
                "late_chunking=True needs JinaV3Embeddings (it embeds a document's chunks in "
                f"one pass), got {type(embedding).__name__}"
            )
        if hybrid and not isinstance(embedding, JinaV3Embeddings):
            raise ConfigurationError(
                "hybrid=True needs JinaV3Embeddings (its tokenizer gives the keyword channel's "
                f"terms), got {type(embedding).__name__}"
            )
        if hybrid and not getattr(store, "keyword_channel", False):
            raise ConfigurationError(
                f"hybrid=True: {type(store).__name__} keeps no keyword channel; use a store "
                "that does (MilvusStore, PineconeStore, QdrantEdgeStore, QdrantStore)"
            )
        self._store = store
        self._embedding = embedding
        self.hybrid = bool(hybrid)
        self._keywords: KeywordEncoder | None = None
        self.late_chunking = bool(late_chunking)
        self.source_key = source_key
        self._recreate = recreate
        self._signature: EmbeddingSignature | None = None
        self._first_use = FirstUse()  # the collection is created (or dropped) once

    @property
    def embeddings(self) -> Embeddings:
        """The embeddings this store embeds with."""
        return self._embedding

    @property
    def store(self) -> Any:
        """The underlying ``jina_v3`` store."""
        return self._store

    @property
    def signature(self) -> EmbeddingSignature:
        """The signature this store writes and checks (may load the model, or embed a probe)."""
        if self._signature is None:
            self._signature = self._signature_now()
        return self._signature

    def keyword_encoder(self) -> KeywordEncoder:
        """The keyword channel's encoder, over the embedding model's tokenizer (loads it)."""
        if self._keywords is None:
            self._keywords = encoder_for(self._embedding.embedder)  # type: ignore[attr-defined]
        return self._keywords

    def _signature_now(self) -> EmbeddingSignature:
        embedding = self._embedding
        if isinstance(embedding, JinaV3Embeddings):
            return EmbeddingSignature(
                model=embedding.embedder.model_name,
                dimensions=embedding.output_dimensions,
                late_chunking=self.late_chunking,
                keywords=self.keyword_encoder().identity if self.hybrid else None,
            )
        # a foreign model: its name and size (learned from one probe), tasks unknown
        name = getattr(embedding, "model", None) or getattr(embedding, "model_name", None)
        size = len(embedding.embed_query("dimension probe"))
        model = str(name or type(embedding).__name__)
        return EmbeddingSignature(model, size, query_task=None, passage_task=None)

    def _collection(self) -> str:
        return str(getattr(self._store, "collection", None) or type(self._store).__name__)

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        # the stores answer cosine similarity: already "higher is more relevant"
        return lambda score: score

    # -- VectorStore -----------------------------------------------------------------------------

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[Any, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and write `texts` (replacing any stored under the same ids); their ids."""
        return self._run(self._add_flow(texts, metadatas, ids))

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[Any, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """The async twin of :meth:`add_texts`."""
        return await self._arun(self._add_flow(texts, metadatas, ids))

    def similarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        filter: Any = None,
        *,
        mode: str = "dense",
        weights: Sequence[float] | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """The `k` documents best for `query` with their scores, best first; `filter` in the
        ``jina_v3`` dialect (``{"lang": "en", "year": {"$gte": 2020}}``).

        `mode`: ``"dense"`` (cosine similarity), or with ``hybrid=True`` ``"keyword"`` (BM25)
        or ``"hybrid"`` (both fused by RRF, ``weights=(dense, keyword)``; scores in (0, 1]).
        """
        hits = self._run(self._search_flow(query, None, k, filter, mode, weights))
        return [(document(h), h.score) for h in hits]

    async def asimilarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        filter: Any = None,
        *,
        mode: str = "dense",
        weights: Sequence[float] | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """The async twin of :meth:`similarity_search_with_score`."""
        hits = await self._arun(self._search_flow(query, None, k, filter, mode, weights))
        return [(document(h), h.score) for h in hits]

    def similarity_search(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        """The `k` documents best for `query`, best first; `kwargs` are
        :meth:`similarity_search_with_score`'s (``mode``, ``weights``)."""
        return [d for d, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        """The async twin of :meth:`similarity_search`."""
        hits = await self.asimilarity_search_with_score(query, k, filter, **kwargs)
        return [d for d, _ in hits]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        """The `k` documents nearest to a query vector made by :meth:`embeddings`."""
        return [document(h) for h in self._run(self._search_flow(None, embedding, k, filter))]

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        """The async twin of :meth:`similarity_search_by_vector`."""
        hits = await self._arun(self._search_flow(None, embedding, k, filter))
        return [document(h) for h in hits]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> list[Document]:
        """`k` documents relevant to `query` and diverse among themselves, picked from the
        `fetch_k` nearest (whose texts are embedded again: the stores return no vectors)."""
        return self._run(self._mmr_flow(query, None, k, fetch_k, lambda_mult, filter))

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> list[Document]:
        """The async twin of :meth:`max_marginal_relevance_search`."""
        return await self._arun(self._mmr_flow(query, None, k, fetch_k, lambda_mult, filter))

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> list[Document]:
        """:meth:`max_marginal_relevance_search` from a query vector."""
        return self._run(self._mmr_flow(None, embedding, k, fetch_k, lambda_mult, filter))

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> list[Document]:
        """The async twin of :meth:`max_marginal_relevance_search_by_vector`."""
        return await self._arun(self._mmr_flow(None, embedding, k, fetch_k, lambda_mult, filter))

    def delete(
        self, ids: list[str] | None = None, *, delete_all: bool = False, **kwargs: Any
    ) -> bool:
        """Delete the Documents with these ids, as :meth:`get_by_ids` finds them (missing ones
        are ignored); ``delete_all=True`` (and no ids) empties the collection.

        Raises:
            ConfigurationError: Neither ids nor ``delete_all=True``, or both.
        """
        self._run(self._delete_flow(ids, delete_all))
        return True

    async def adelete(
        self, ids: list[str] | None = None, *, delete_all: bool = False, **kwargs: Any
    ) -> bool:
        """The async twin of :meth:`delete`."""
        await self._arun(self._delete_flow(ids, delete_all))
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The stored Documents with these ids, in that order (missing ones left out). An id
        is one that search returns: a document's own, or on a collection ``VectorIndex`` or
        ``jina-v3 index`` wrote, a chunk's point id."""
        return self._run(self._get_flow(ids))

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The async twin of :meth:`get_by_ids`."""
        return await self._arun(self._get_flow(ids))

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[Any, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        store: Any = None,
        collection: str | None = None,
        **kwargs: Any,
    ) -> JinaV3VectorStore:
        """A store holding `texts`, on `store`: a store URI as the CLI's ``--store`` takes
        (``"qdrant-edge:./DIR"``, ``"milvus-lite:./FILE.db"``, ``"qdrant::memory:"``, ...),
        None for the CLI's default (``qdrant-edge:./.jina-v3``, where ``jina-v3 search``
        looks), or a ``jina_v3`` store object.

        `collection`: the collection under a URI (default ``"documents"``, the CLI's); a store
        object names its own. `kwargs` are the constructor's (``late_chunking``,
        ``source_key``, ``recreate``, ``hybrid``).

        Raises:
            ConfigurationError: `store` is not a store URI or a ``jina_v3`` store, or a store
                object comes with `collection`.
        """
        target, opened = _store_for(store, collection)
        try:
            vectorstore = cls(target, embedding, **kwargs)
            vectorstore.add_texts(texts, metadatas, ids=ids)
        except BaseException:
            if opened:  # a store opened here from a URI is closed here (its files unlocked)
                target.close()
            raise
        return vectorstore

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[Any, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        store: Any = None,
        collection: str | None = None,
        **kwargs: Any,
    ) -> JinaV3VectorStore:
        """The async twin of :meth:`from_texts`."""
        target, opened = _store_for(store, collection)
        try:
            vectorstore = cls(target, embedding, **kwargs)
            await vectorstore.aadd_texts(texts, metadatas, ids=ids)
        except BaseException:
            if opened:
                target.close()
            raise
        return vectorstore

    def close(self) -> None:
        """Close the underlying store."""
        self._store.close()


def _store_for(store: Any, collection: str | None) -> tuple[Any, bool]:
    """from_texts' store: the one a URI (None: the CLI's default) names, opened here, or the
    store object given; and whether it was opened here."""
    if store is None or isinstance(store, str):
        uri = DEFAULT_STORE_URI if store is None else store
        return open_store(uri, collection or DEFAULT_COLLECTION, named=f"store={uri!r}"), True
    if collection is not None:
        raise ConfigurationError(
            f"collection={collection!r} names a collection under a store URI; a store object "
            f"names its own ({type(store).__name__}('docs', ...)). Drop collection=, or pass "
            "store= as a URI."
        )
    return store, False
