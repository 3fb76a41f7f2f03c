"""The index pipeline's I/O targets: a store's async twins under the names the flows call,
and the writers that write batch n while batch n+1 is embedded."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from jina_v3.index.store import AsyncVectorStore, EmbeddingSignature, Hit, Record


class AsyncStoreView:
    """A store's async twins under the sync names the flows call."""

    def __init__(self, store: AsyncVectorStore) -> None:
        self._store = store

    async def ensure_collection(self, signature: EmbeddingSignature, *, recreate: bool) -> None:
        await self._store.aensure_collection(signature, recreate=recreate)

    async def read_signature(self) -> EmbeddingSignature | None:
        return await self._store.aread_signature()

    async def upsert(self, records: Sequence[Record]) -> None:
        await self._store.aupsert(records)

    async def query(self, vector: np.ndarray, *, k: int, filter: Any | None) -> list[Hit]:
        return await self._store.aquery(vector, k=k, filter=filter)

    async def query_keywords(self, keywords: Any, *, k: int, filter: Any | None) -> list[Hit]:
        return await self._store.aquery_keywords(keywords, k=k, filter=filter)

    async def query_hybrid(self, vector: np.ndarray, keywords: Any, **options: Any) -> list[Hit]:
        return await self._store.aquery_hybrid(vector, keywords, **options)

    async def delete(self, **kwargs: Any) -> None:
        await self._store.adelete(**kwargs)

    async def fetch(self, ids: Sequence[str]) -> list[Hit]:
        return await self._store.afetch(ids)

    async def count(self) -> int:
        return await self._store.acount()

    async def clear(self) -> None:
        await self._store.aclear()

    async def close(self) -> None:
        await self._store.aclose()


class Writer:
    """Writes batch n in a worker thread while the caller embeds batch n+1 (one write in
    flight: embedding never outruns the database by more than a batch)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def write(self, records: list[Record], stale: Any | None) -> None:
        """Write `records`, then delete the points matching `stale` (the documents' old
        versions): never before, so a failed write leaves every stored version whole."""
        self.wait()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="jina-v3-writer")
        self._pending = self._pool.submit(self._replace, records, stale)

    def _replace(self, records: list[Record], stale: Any | None) -> None:
        self._store.upsert(records)
        if stale is not None:
            self._store.delete(filter=stale)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class AsyncWriter:
    """The async twin of :class:`Writer`: the write runs as a task while embedding goes on."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._pending: asyncio.Task[None] | None = None

    async def write(self, records: list[Record], stale: Any | None) -> None:
        await self.wait()
        self._pending = asyncio.ensure_future(self._replace(records, stale))

    async def _replace(self, records: list[Record], stale: Any | None) -> None:
        await self._store.upsert(records)
        if stale is not None:
            await self._store.delete(filter=stale)

    async def wait(self, raise_errors: bool = True) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            try:
                await pending
            except Exception:
                if raise_errors:
                    raise
