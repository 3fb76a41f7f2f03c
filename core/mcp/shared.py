"""What concurrent tool calls share: the model, through the server's dynamic batcher, and the
store, one call at a time.

Tool calls run concurrently on the event loop. A local model is loaded once; its calls go
through :class:`~jina_v3.server.batcher.DynamicBatcher` as ``jina-v3 serve``'s requests do, so
concurrent searches and adds share forward passes. The store's calls run in worker threads,
one at a time (an embedded store's client is used by one thread at a time).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jina_v3._encoding import finish
from jina_v3.server.batcher import DynamicBatcher
from jina_v3.types import EmbedSpec

__all__ = ["BatchedBackend", "SerialStore", "shared_embedder"]


class BatchedBackend:
    """An async backend over the local model whose calls go through a :class:`DynamicBatcher`.

    The batcher returns pooled full-size floats; each call finishes its own (dimensions,
    normalisation, embedding type), exactly as the backend's ``embed`` does, so the vectors
    equal :class:`~jina_v3.Embedder`'s. Everything else (``kind``, ``model_name``, ``usage``,
    ``tokenizer`` ...) is the backend's.
    """

    def __init__(self, backend: Any, batcher: DynamicBatcher) -> None:
        self.backend = backend
        self.batcher = batcher

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("backend", "batcher"):
            raise AttributeError(name)
        return getattr(self.backend, name)

    async def aembed(self, texts: Sequence[str], spec: EmbedSpec) -> np.ndarray:
        texts = list(texts)
        counts = self.backend.count_tokens(texts, spec.task)
        limit = self.backend.max_tokens
        if not spec.truncate and any(n > limit for n in counts):
            # the backend's own refusal (InputTooLongError naming the input), nothing embedded
            return await asyncio.to_thread(self.backend.embed, texts, spec)
        tokens = sum(min(n, limit) for n in counts)
        pooled = await self.batcher.submit(
            texts, task=spec.task, late_chunking=False, tokens=tokens
        )
        return finish(pooled, spec.dimensions, spec.normalized, spec.embedding_type)

    async def aembed_documents(
        self, documents: Sequence[Sequence[str]], spec: EmbedSpec
    ) -> list[np.ndarray]:
        futures = [
            self.batcher.submit(
                list(chunks),
                task=spec.task,
                late_chunking=True,
                tokens=sum(self.backend.count_tokens(list(chunks), spec.task)),
            )
            for chunks in documents
        ]
        pooled = await asyncio.gather(*futures)
        return [finish(p, spec.dimensions, spec.normalized, spec.embedding_type) for p in pooled]

    async def aclose(self) -> None:
        """Nothing: the batcher and the model belong to the server, which stops them."""


def shared_embedder(embedder: Any, **batching: Any) -> tuple[Any, DynamicBatcher | None]:
    """An :class:`~jina_v3.AsyncEmbedder` over `embedder`'s backend (the model loaded once),
    and the batcher to start and stop around serving (None for the API backend, whose
    requests are already concurrent and bounded). `batching`: the batcher's options."""
    from jina_v3.embedder import AsyncEmbedder

    backend = embedder.backend
    if getattr(backend, "kind", None) != "local":
        return AsyncEmbedder(backend=backend), None
    batcher = DynamicBatcher(backend, **batching)
    return AsyncEmbedder(backend=BatchedBackend(backend, batcher)), batcher


#: The store methods the index and the tools call (the sync protocol; no async twins).
_SERVED = frozenset(
    {
        "check_record",
        "close",
        "count",
        "delete",
        "ensure_collection",
        "fetch",
        "query",
        "query_hybrid",
        "query_keywords",
        "read_signature",
        "scroll",
        "upsert",
    }
)


class SerialStore:
    """A store whose calls run one at a time, from any thread.

    It offers the sync methods only, so an :class:`~jina_v3.AsyncVectorIndex` over it runs each
    call in a worker thread (under the lock) rather than the engine's async twins, and the
    tools' own calls (``ls``'s scan, a delete by source) take the same lock.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "store":
            raise AttributeError(name)
        value = getattr(self.store, name)
        if name in _SERVED:
            return self._locked(value)
        if callable(value):  # the async twins and the rest: not offered
            raise AttributeError(name)
        return value  # collection, engine ...

    def _locked(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return call

    def __repr__(self) -> str:
        return f"SerialStore({self.store!r})"
