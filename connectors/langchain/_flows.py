"""The flows of :class:`~jina_v3.connectors.langchain.JinaV3VectorStore`, written once and run
by its sync methods and their async twins (:mod:`jina_v3._flow`): adding (late chunking and
keyword weights included), searching (dense, keyword, hybrid, MMR), getting and deleting."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from jina_v3._flow import Call, Flow, InThread, arun, run
from jina_v3.connectors.base.framework import embed_flow, pack_groups, source_groups
from jina_v3.connectors.langchain._documents import (
    AsyncEmbeddings,
    by_id,
    candidate_points,
    document,
    payload,
)
from jina_v3.connectors.langchain.embeddings import JinaV3Embeddings
from jina_v3.errors import ConfigurationError, check_positive
from jina_v3.index.drivers import AsyncStoreView
from jina_v3.index.hybrid import with_keywords
from jina_v3.index.keywords import check_search_mode
from jina_v3.index.store import (
    AsyncVectorStore,
    EmbeddingSignature,
    Hit,
    Record,
    check_signature,
    check_text,
    point_id,
)

#: Documents embedded per late-chunking call (a source document larger than this goes alone).
LATE_CHUNKING_BATCH = 256


class StoreFlows:
    """The store's flows and their two drivers (a base of JinaV3VectorStore, whose state they
    read: the store, the embeddings, the settings)."""

    # -- the drivers -----------------------------------------------------------------------------

    def _run(self, flow: Flow[Any]) -> Any:
        embedder = self._embedding.embedder if self.late_chunking else None  # type: ignore[attr-defined]
        with self._first_use.turn():
            return run(
                flow, owner=self, store=self._store, embedding=self._embedding, embedder=embedder
            )

    async def _arun(self, flow: Flow[Any]) -> Any:
        embedder = None
        if self.late_chunking:
            embedder = await self._embedding._async_embedder()  # type: ignore[attr-defined]
        store = self._store
        astore = AsyncStoreView(store) if isinstance(store, AsyncVectorStore) else InThread(store)
        async with self._first_use.aturn():
            return await arun(
                flow,
                owner=InThread(self),
                store=astore,
                embedding=AsyncEmbeddings(self._embedding),
                embedder=embedder,
            )

    def _ensure_flow(self) -> Flow[EmbeddingSignature]:
        """Create the collection on first use, else check its stored signature."""
        signature = self._signature
        if signature is None:  # from the embeddings, which may have to load: I/O
            signature = yield Call("owner", "_signature_now")
            self._signature = signature
        if not self._first_use.done:  # concurrent first calls: this one, the others wait
            yield Call("store", "ensure_collection", (signature,), {"recreate": self._recreate})
            self._recreate = False
            self._first_use.finish()
        else:
            stored = yield Call("store", "read_signature")
            check_signature(signature, stored, collection=self._collection())
        return signature

    # -- the flows -------------------------------------------------------------------------------

    def _add_flow(
        self,
        texts: Iterable[str],
        metadatas: Sequence[dict[str, Any]] | None,
        ids: Sequence[str | None] | None,
    ) -> Flow[list[str]]:
        texts = [check_text(t, "a text") for t in texts]
        metadatas = list(metadatas) if metadatas is not None else [{} for _ in texts]
        ids = list(ids) if ids is not None else [None] * len(texts)
        if not len(texts) == len(metadatas) == len(ids):
            raise ConfigurationError(
                f"{len(texts)} texts, {len(metadatas)} metadatas and {len(ids)} ids: pass one "
                "of each per text."
            )
        ids = [i if i is not None else str(uuid.uuid4()) for i in ids]
        for i in ids:
            if not isinstance(i, str) or not i:
                raise ConfigurationError(f"ids must be non-empty strings, got {i!r}")
        payloads = [payload(m, i) for m, i in zip(metadatas, ids, strict=True)]
        if not texts:
            return []
        yield from self._ensure_flow()
        if self.late_chunking:
            sources = [m.get(self.source_key) for m in payloads]
            orders = [m.get("start_index") for m in payloads]

            def describe(i: int) -> str:
                source = sources[i]
                return f"text {ids[i]!r}" + (f" (source {source!r})" if source is not None else "")

            field = f"metadata[{self.source_key!r}] (source_key)"
            groups = source_groups(sources, orders, describe=describe, field=field)
            embedding: JinaV3Embeddings = self._embedding  # type: ignore[assignment]
            encode = {"dimensions": embedding.dimensions}
            batches = pack_groups(groups, LATE_CHUNKING_BATCH)
            vectors = yield from embed_flow(
                texts, batches, late_chunking=True, encode=encode, describe=describe
            )
        else:
            vectors = yield Call("embedding", "embed_documents", (texts,))
        records = [
            Record(
                id=point_id(i),
                vector=np.asarray(v, dtype=np.float32),
                text=t,
                metadata=m,
                document_id=i,
            )
            for i, t, m, v in zip(ids, texts, payloads, vectors, strict=True)
        ]
        if self.hybrid:
            records = with_keywords(records, (yield Call("owner", "keyword_encoder")))
        yield Call("store", "upsert", (records,))
        return ids

    def _search_flow(
        self,
        query: str | None,
        vector: Any,
        k: int,
        filter: Any,
        mode: str = "dense",
        weights: Sequence[float] | None = None,
    ) -> Flow[list[Hit]]:
        check_positive("k", k)
        check_search_mode(mode, "rrf", weights)
        if mode != "dense" and not self.hybrid:
            raise ConfigurationError(
                f"mode={mode!r} needs the keyword channel, and this store has none. Fix: "
                "JinaV3VectorStore(..., hybrid=True) over a collection indexed with it (a "
                "collection indexed without it must be re-indexed into a new one), or "
                "mode='dense'."
            )
        yield from self._ensure_flow()
        args = {"k": k, "filter": filter}
        if mode != "dense":
            encoder = yield Call("owner", "keyword_encoder")
            terms = encoder.query(check_text(query, "the query"))
            if mode == "keyword":
                return (yield Call("store", "query_keywords", (terms,), args))
        if vector is None:
            vector = yield Call("embedding", "embed_query", (check_text(query, "the query"),))
        vector = np.asarray(vector, dtype=np.float32)
        if mode == "hybrid":
            args["weights"] = weights
            return (yield Call("store", "query_hybrid", (vector, terms), args))
        return (yield Call("store", "query", (vector,), args))

    def _mmr_flow(
        self, query: str | None, vector: Any, k: int, fetch_k: int, lambda_mult: float, filter: Any
    ) -> Flow[list[Document]]:
        check_positive("fetch_k", fetch_k)
        if vector is None:
            vector = yield Call("embedding", "embed_query", (check_text(query, "the query"),))
        hits = yield from self._search_flow(None, vector, fetch_k, filter)
        if not hits:
            return []
        # the stores return no vectors: the candidates' texts are embedded again
        candidates = yield Call("embedding", "embed_documents", ([h.text for h in hits],))
        chosen = maximal_marginal_relevance(
            np.asarray(vector, dtype=np.float32), candidates, lambda_mult=lambda_mult, k=k
        )
        return [document(hits[i]) for i in chosen]

    def _delete_flow(self, ids: Sequence[str] | None, delete_all: bool) -> Flow[None]:
        if delete_all:
            if ids is not None:
                raise ConfigurationError("delete: pass ids=[...] or delete_all=True, not both")
            yield from self._ensure_flow()
            yield Call("store", "clear")
            return
        if ids is None:
            raise ConfigurationError(
                "delete() without ids would delete every document in the collection; pass "
                "ids=[...], or delete_all=True to empty it"
            )
        yield from self._ensure_flow()
        # exactly what get_by_ids returns under these ids
        found = yield from self._stored_flow(ids)
        points = [hit.id for _, hit in found.values()]
        if points:
            yield Call("store", "delete", (), {"ids": points})

    def _get_flow(self, ids: Sequence[str]) -> Flow[list[Document]]:
        found = yield from self._stored_flow(ids)
        return [found[i][0] for i in ids if i in found]

    def _stored_flow(self, ids: Sequence[str]) -> Flow[dict[str, tuple[Document, Hit]]]:
        """The stored Documents that `ids` name (see ``document``), with their points."""
        if isinstance(ids, str):
            raise ConfigurationError(f"ids must be a list of ids, not one string ({ids!r})")
        candidates = candidate_points(ids)  # checks that they are strings
        if not candidates:
            return {}
        hits = yield Call("store", "fetch", (candidates,))
        wanted = set(ids)
        return {i: found for i, found in by_id(hits).items() if i in wanted}
