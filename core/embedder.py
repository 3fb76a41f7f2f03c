"""`Embedder` and `AsyncEmbedder`: one API over the local model and the hosted Jina API.

Parameter names and meanings follow the Jina API (`task`, `dimensions`, `late_chunking`,
`normalized`, `embedding_type`, `truncate`), so switching backend changes nothing else.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any, Literal, Protocol, overload, runtime_checkable

import numpy as np

from jina_v3._encoding import check_dimensions, check_embedding_type, check_texts, finish
from jina_v3.errors import ConfigurationError
from jina_v3.tasks import Task, check_task
from jina_v3.types import Usage

__all__ = ["AsyncEmbedder", "Backend", "Embedder"]

DEFAULT_LOCAL_MODEL = "jinaai/jina-embeddings-v3"
DEFAULT_API_MODEL = "jina-embeddings-v3"

_LOCAL_ONLY = (
    "device", "dtype", "threads", "revision", "cache_dir", "max_batch_tokens",
)  # fmt: skip
_API_ONLY = (
    "api_key", "base_url", "timeout", "max_retries", "max_concurrency", "http_client",
    "tokenizer",
)  # fmt: skip


@runtime_checkable
class Backend(Protocol):
    """What a backend provides; `Embedder(backend=...)` accepts any object like this."""

    kind: str
    model_name: str
    usage: Usage

    @property
    def max_dimensions(self) -> int: ...

    def embed(
        self,
        texts: Sequence[str],
        *,
        task: str | None,
        dimensions: int | None,
        late_chunking: bool,
        normalized: bool,
        embedding_type: str,
        truncate: bool,
    ) -> np.ndarray: ...

    def embed_documents(
        self,
        documents: Sequence[Sequence[str]],
        *,
        task: str | None,
        dimensions: int | None,
        normalized: bool,
        embedding_type: str,
    ) -> list[np.ndarray]: ...

    def close(self) -> None: ...


class _BaseEmbedder:
    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        backend: Literal["local", "api"] | Backend | None = None,
        window_tokens: int | None = None,
        window_overlap: int | None = None,
        **options: Any,
    ) -> None:
        unknown = set(options) - set(_LOCAL_ONLY) - set(_API_ONLY)
        if unknown:
            raise ConfigurationError(
                f"Unknown argument(s) {sorted(unknown)}; valid ones: model, backend, "
                f"window_tokens, window_overlap, {', '.join(_LOCAL_ONLY + _API_ONLY)}."
            )
        given = {k for k, v in options.items() if v is not None}
        if backend is None:
            backend = "api" if "api_key" in given or "base_url" in given else "local"
        if backend == "local":
            _refuse(given & set(_API_ONLY), "local")
            from jina_v3._local import DEFAULT_WINDOW_OVERLAP, DEFAULT_WINDOW_TOKENS, LocalBackend

            self._backend: Backend = LocalBackend(
                model if model is not None else DEFAULT_LOCAL_MODEL,
                window_tokens=window_tokens or DEFAULT_WINDOW_TOKENS,
                window_overlap=DEFAULT_WINDOW_OVERLAP if window_overlap is None else window_overlap,
                **{k: options[k] for k in given},
            )
        elif backend == "api":
            _refuse(given & set(_LOCAL_ONLY), "api")
            from jina_v3._remote import RemoteBackend

            self._backend = RemoteBackend(
                str(model) if model is not None else DEFAULT_API_MODEL,
                **{k: options[k] for k in given},
            )
        elif isinstance(backend, Backend):
            self._backend = backend
        else:
            raise ConfigurationError(
                f"backend must be 'local', 'api' or a Backend object, got {backend!r}"
            )

    @property
    def backend(self) -> Backend:
        """The backend doing the work (local torch or the remote API)."""
        return self._backend

    @property
    def model_name(self) -> str:
        """The model's name, as recorded in vector-store signatures."""
        return self._backend.model_name

    @property
    def max_dimensions(self) -> int:
        """The model's full embedding size (1024 for jina-embeddings-v3)."""
        return self._backend.max_dimensions

    @property
    def usage(self) -> Usage:
        """Tokens and requests used so far."""
        return self._backend.usage

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model_name!r}, backend={self._backend.kind!r})"

    def _check(
        self,
        texts: Sequence[str],
        task: str | None,
        dimensions: int | None,
        embedding_type: str,
    ) -> dict[str, Any]:
        check_texts(texts)
        return {
            "task": check_task(task),
            "dimensions": check_dimensions(dimensions, self.max_dimensions),
            "embedding_type": check_embedding_type(embedding_type),
        }

    def _check_documents(self, documents: Sequence[Sequence[str]]) -> list[list[str]]:
        if isinstance(documents, str):
            raise ConfigurationError("documents must be a list of documents, each a list of chunks")
        return [check_texts(doc, f"documents[{i}]") for i, doc in enumerate(documents)]


def _refuse(conflicting: set[str], backend: str) -> None:
    if conflicting:
        other = "api" if backend == "local" else "local"
        raise ConfigurationError(
            f"{', '.join(sorted(conflicting))} only apply to backend={other!r}, but this embedder "
            f"uses backend={backend!r}; drop them or pass backend={other!r}."
        )


def _empty(n_dims: int, embedding_type: str) -> np.ndarray:
    return finish(np.zeros((0, n_dims), np.float32), None, False, embedding_type)


class Embedder(_BaseEmbedder):
    """Embeds texts with jina-embeddings-v3, locally (torch) or through the Jina API.

    Example:
        >>> embedder = Embedder("path/to/jina-embeddings-v3")          # local weights
        >>> embedder = Embedder(backend="api", api_key="jina_...")      # hosted API
        >>> passages = embedder.encode_passages(["Berlin is a city."], dimensions=256)
        >>> query = embedder.encode_queries(["Which city?"], dimensions=256)

    Args:
        model: Local checkpoint directory or hub id (local), or API model name (api).
        backend: ``"local"`` (default), ``"api"`` (default when ``api_key`` is given), or an
            object implementing :class:`Backend`.
        window_tokens, window_overlap: Late chunking windows for documents longer than the
            context (local backend; defaults 8192 and 512 tokens).
        device, dtype, threads, revision, cache_dir, max_batch_tokens: Local backend options
            (dtype ``"float32"`` or ``"bfloat16"``; bf16 by default where the hardware has it).
        api_key, base_url, timeout, max_retries, max_concurrency, http_client: API options.
        tokenizer: API backend: path of a v3 ``tokenizer.json`` for exact token counts when
            packing requests (else the hub cache's copy, else a conservative estimate).

    Raises:
        ConfigurationError: Conflicting or invalid options.
        ModelLoadError: The checkpoint cannot be found or does not match the architecture.
        MissingDependencyError: The backend's extra is not installed.
    """

    @overload
    def encode(self, texts: str, **kwargs: Any) -> np.ndarray: ...
    @overload
    def encode(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray: ...

    def encode(
        self,
        texts: str | Sequence[str],
        *,
        task: Task | None = None,
        dimensions: int | None = None,
        late_chunking: bool = False,
        normalized: bool = True,
        embedding_type: str = "float",
        truncate: bool = False,
    ) -> np.ndarray:
        """Embed `texts`; one row per input, in input order (a str gives one 1-D vector).

        Args:
            texts: The inputs. With ``late_chunking=True``: the consecutive chunks of ONE
                document, embedded in one pass and pooled per chunk.
            task: ``retrieval.query``, ``retrieval.passage``, ``separation``,
                ``classification``, ``text-matching``, or None (no adapter, no instruction).
            dimensions: Matryoshka size, 1 to :attr:`max_dimensions` (None: full size).
            late_chunking: Treat ``texts`` as chunks of one document.
            normalized: L2-normalise after truncation to ``dimensions``.
            embedding_type: ``float`` (float32), ``binary`` (int8), ``ubinary`` (uint8 packed
                sign bits) or ``base64`` (float32 here; base64 on the wire, which keeps
                API responses small).
            truncate: Cut inputs over the context instead of raising InputTooLongError.

        Returns:
            A numpy array with one row per input.

        Raises:
            UnknownTaskError, ConfigurationError: Invalid arguments.
            InputTooLongError: An input exceeds the context and ``truncate`` is False.
        """
        single = isinstance(texts, str)
        batch = [texts] if single else texts
        kwargs = self._check(batch, task, dimensions, embedding_type)  # type: ignore[arg-type]
        if not batch:
            return _empty(dimensions or self.max_dimensions, embedding_type)
        out = self._backend.embed(
            list(batch),
            late_chunking=late_chunking,
            normalized=normalized,
            truncate=truncate,
            **kwargs,
        )
        return out[0] if single else out

    def encode_queries(self, texts: str | Sequence[str], **kwargs: Any) -> np.ndarray:
        """:meth:`encode` with ``task="retrieval.query"``."""
        return self.encode(texts, task="retrieval.query", **kwargs)

    def encode_passages(self, texts: str | Sequence[str], **kwargs: Any) -> np.ndarray:
        """:meth:`encode` with ``task="retrieval.passage"``."""
        return self.encode(texts, task="retrieval.passage", **kwargs)

    def encode_late_chunked(
        self,
        documents: Sequence[Sequence[str]],
        *,
        task: Task | None = "retrieval.passage",
        dimensions: int | None = None,
        normalized: bool = True,
        embedding_type: str = "float",
    ) -> list[np.ndarray]:
        """Late chunking over many documents, never mixing two documents in one pass.

        Args:
            documents: Each document as the list of its consecutive chunks.

        Returns:
            One array per document, one row per chunk.
        """
        docs = self._check_documents(documents)
        kwargs = self._check([], task, dimensions, embedding_type)
        if not docs:
            return []
        return self._backend.embed_documents(docs, normalized=normalized, **kwargs)

    def close(self) -> None:
        """Release the backend (model memory or HTTP connections)."""
        self._backend.close()

    def __enter__(self) -> Embedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncEmbedder(_BaseEmbedder):
    """The async twin of :class:`Embedder`: same constructor, same method names, awaitable.

    The API backend uses a pooled ``httpx.AsyncClient`` with bounded concurrency; the local
    backend runs the model in a worker thread so the event loop never blocks.
    """

    async def encode(
        self,
        texts: str | Sequence[str],
        *,
        task: Task | None = None,
        dimensions: int | None = None,
        late_chunking: bool = False,
        normalized: bool = True,
        embedding_type: str = "float",
        truncate: bool = False,
    ) -> np.ndarray:
        """See :meth:`Embedder.encode`."""
        single = isinstance(texts, str)
        batch = [texts] if single else texts
        kwargs = self._check(batch, task, dimensions, embedding_type)  # type: ignore[arg-type]
        if not batch:
            return _empty(dimensions or self.max_dimensions, embedding_type)
        kwargs.update(late_chunking=late_chunking, normalized=normalized, truncate=truncate)
        aembed = getattr(self._backend, "aembed", None)
        if aembed is not None:
            out = await aembed(list(batch), **kwargs)
        else:
            out = await asyncio.to_thread(self._backend.embed, list(batch), **kwargs)
        return out[0] if single else out

    async def encode_queries(self, texts: str | Sequence[str], **kwargs: Any) -> np.ndarray:
        """:meth:`encode` with ``task="retrieval.query"``."""
        return await self.encode(texts, task="retrieval.query", **kwargs)

    async def encode_passages(self, texts: str | Sequence[str], **kwargs: Any) -> np.ndarray:
        """:meth:`encode` with ``task="retrieval.passage"``."""
        return await self.encode(texts, task="retrieval.passage", **kwargs)

    async def encode_late_chunked(
        self,
        documents: Sequence[Sequence[str]],
        *,
        task: Task | None = "retrieval.passage",
        dimensions: int | None = None,
        normalized: bool = True,
        embedding_type: str = "float",
    ) -> list[np.ndarray]:
        """See :meth:`Embedder.encode_late_chunked`."""
        docs = self._check_documents(documents)
        kwargs = self._check([], task, dimensions, embedding_type)
        if not docs:
            return []
        kwargs["normalized"] = normalized
        aembed_documents = getattr(self._backend, "aembed_documents", None)
        if aembed_documents is not None:
            return await aembed_documents(docs, **kwargs)
        return await asyncio.to_thread(self._backend.embed_documents, docs, **kwargs)

    async def aclose(self) -> None:
        """Release the backend."""
        aclose = getattr(self._backend, "aclose", None)
        if aclose is not None:
            await aclose()
        else:
            self._backend.close()

    async def __aenter__(self) -> AsyncEmbedder:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
