"""`Embedder` and `AsyncEmbedder`: one API over the local model and the hosted Jina API.

Parameter names and meanings follow the Jina API (`task`, `dimensions`, `late_chunking`,
`normalized`, `embedding_type`, `truncate`), so switching backend changes nothing else. The
twins share :class:`_BaseEmbedder`: options are validated once, into one options object per
backend, and each method is written once as a flow (:mod:`jina_v3._flow`) that the sync
class runs on a :class:`Backend` and the async one on an :class:`AsyncBackend`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any, Literal, Protocol, TypedDict, Unpack, overload, runtime_checkable

import numpy as np

from jina_v3._encoding import check_dimensions, check_embedding_type, check_texts, finish
from jina_v3._flow import Call, Flow, arun, run
from jina_v3.errors import ConfigurationError, unknown_arguments
from jina_v3.options import API_OPTIONS, LOCAL_OPTIONS, LocalOptions, RemoteOptions, Secret
from jina_v3.progress import Progress
from jina_v3.tasks import Task, check_task
from jina_v3.types import AsyncClosing, Closing, EmbedSpec, Usage

__all__ = [
    "AsyncBackend",
    "AsyncEmbedder",
    "Backend",
    "Embedder",
    "EncodeOptions",
    "LateChunkedOptions",
    "ThreadedBackend",
]


class EncodeOptions(TypedDict, total=False):
    """The keyword arguments of ``encode`` (see :meth:`Embedder.encode` for their defaults)."""

    task: Task | None
    dimensions: int | None
    late_chunking: bool
    normalized: bool
    embedding_type: str
    truncate: bool
    progress: bool | Progress


class LateChunkedOptions(TypedDict, total=False):
    """The keyword arguments of ``encode_late_chunked``."""

    task: Task | None
    dimensions: int | None
    normalized: bool
    embedding_type: str


#: Texts per backend call when ``encode(..., progress=True)`` reports as it goes.
PROGRESS_SLICE = 256

DEFAULT_LOCAL_MODEL = "jinaai/jina-embeddings-v3"
DEFAULT_API_MODEL = "jina-embeddings-v3"


@runtime_checkable
class Backend(Protocol):
    """What a sync backend provides; `Embedder(backend=...)` accepts any object like this."""

    kind: str
    model_name: str
    usage: Usage

    @property
    def max_dimensions(self) -> int: ...

    def embed(self, texts: Sequence[str], spec: EmbedSpec) -> np.ndarray: ...

    def embed_documents(
        self, documents: Sequence[Sequence[str]], spec: EmbedSpec
    ) -> list[np.ndarray]: ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncBackend(Protocol):
    """What an async backend provides (the API backend is both; see :class:`ThreadedBackend`)."""

    kind: str
    model_name: str
    usage: Usage

    @property
    def max_dimensions(self) -> int: ...

    async def aembed(self, texts: Sequence[str], spec: EmbedSpec) -> np.ndarray: ...

    async def aembed_documents(
        self, documents: Sequence[Sequence[str]], spec: EmbedSpec
    ) -> list[np.ndarray]: ...

    async def aclose(self) -> None: ...


class ThreadedBackend:
    """An :class:`AsyncBackend` over a sync one: each call runs in a worker thread.

    This is how `AsyncEmbedder` runs the local model without blocking the event loop.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def __getattr__(self, name: str) -> Any:  # kind, model_name, usage, max_dimensions
        if name.startswith("_") or name == "backend":  # (unpickling: no recursion)
            raise AttributeError(name)
        return getattr(self.backend, name)

    async def aembed(self, texts: Sequence[str], spec: EmbedSpec) -> np.ndarray:
        return await asyncio.to_thread(self.backend.embed, texts, spec)

    async def aembed_documents(
        self, documents: Sequence[Sequence[str]], spec: EmbedSpec
    ) -> list[np.ndarray]:
        return await asyncio.to_thread(self.backend.embed_documents, documents, spec)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.backend.close)


class _BaseEmbedder:
    """Builds and validates the backend once; holds each method once, as a flow."""

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        backend: Literal["local", "api"] | Backend | AsyncBackend | None = None,
        device: str | None = None,
        dtype: str | None = None,
        threads: int | None = None,
        revision: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        max_batch_tokens: int | None = None,
        window_tokens: int | None = None,
        window_overlap: int | None = None,
        merge_adapters: bool | None = None,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        backoff_base: float | None = None,
        backoff_max: float | None = None,
        max_concurrency: int | None = None,
        max_request_tokens: int | None = None,
        http_client: Any = None,
        tokenizer: str | os.PathLike[str] | None = None,
        max_dimensions: int | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            valid = ("model", "backend", *LOCAL_OPTIONS, *API_OPTIONS)
            raise unknown_arguments(type(self).__name__, unknown, valid)
        given = {k: v for k, v in locals().items() if k in _OPTIONS and v is not None}
        self._backend = _build_backend(model, backend, given)
        self._adopt()

    def _adopt(self) -> None:
        """Check or adapt the backend for this facade (sync or async)."""

    def __getstate__(self) -> dict[str, Any]:
        # the backend pickles as its settings; what _adopt derives from it is made again
        return {"_backend": self._backend}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._backend = state["_backend"]
        self._adopt()

    @property
    def backend(self) -> Any:
        """The backend doing the work (local torch or the remote API)."""
        return self._backend

    @property
    def model_name(self) -> str:
        """The model's identity, as recorded in vector-store signatures (``jina-embeddings-v3``
        for the official weights on either backend)."""
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

    def _spec(
        self,
        task: str | None,
        dimensions: int | None,
        normalized: bool,
        embedding_type: str,
        truncate: bool = False,
    ) -> EmbedSpec:
        return EmbedSpec(
            check_task(task),
            check_dimensions(dimensions, self.max_dimensions),
            bool(normalized),
            check_embedding_type(embedding_type),
            bool(truncate),
        )

    def _encode(
        self,
        texts: str | Iterable[str],
        task: str | None = None,
        dimensions: int | None = None,
        late_chunking: bool = False,
        normalized: bool = True,
        embedding_type: str = "float",
        truncate: bool = False,
        progress: bool | Progress = False,
    ) -> Flow[np.ndarray]:
        single = isinstance(texts, str)
        batch = check_texts([texts] if isinstance(texts, str) else texts)
        spec = self._spec(task, dimensions, normalized, embedding_type, truncate)
        if not batch:
            return _empty(dimensions or self.max_dimensions, embedding_type)
        if late_chunking:
            out = (yield Call("backend", "embed_documents", ([batch], spec)))[0]
        elif not progress:
            out = yield Call("backend", "embed", (batch, spec))
        else:  # in slices, to report as it goes (results do not depend on the slicing)
            bar = progress if isinstance(progress, Progress) else Progress(len(batch), unit="text")
            parts = []
            try:
                for start in range(0, len(batch), PROGRESS_SLICE):
                    tokens = self.usage.total_tokens
                    part = batch[start : start + PROGRESS_SLICE]
                    parts.append((yield Call("backend", "embed", (part, spec))))
                    bar.update(len(part), points=len(part), tokens=self.usage.total_tokens - tokens)
            finally:
                bar.close()
            out = np.concatenate(parts)
        return out[0] if single else out

    def _encode_late_chunked(
        self,
        documents: Iterable[Iterable[str]],
        task: str | None = "retrieval.passage",
        dimensions: int | None = None,
        normalized: bool = True,
        embedding_type: str = "float",
    ) -> Flow[list[np.ndarray]]:
        if isinstance(documents, str) or not isinstance(documents, Iterable):
            raise ConfigurationError(
                "documents must be a list of documents, each a list of chunks (strings); "
                f"got {type(documents).__name__}"
            )
        docs = [check_texts(doc, f"documents[{i}]") for i, doc in enumerate(documents)]
        spec = self._spec(task, dimensions, normalized, embedding_type)
        if not docs:
            return []
        return (yield Call("backend", "embed_documents", (docs, spec)))


_OPTIONS = frozenset(LOCAL_OPTIONS + API_OPTIONS)


def _build_backend(
    model: str | os.PathLike[str] | None, backend: Any, given: dict[str, Any]
) -> Any:
    """The backend for the facade's arguments; every option is used or refused, never dropped."""
    if backend is None:
        backend = "api" if {"api_key", "base_url"} & given.keys() else "local"
    if isinstance(backend, str) and backend in ("local", "api"):
        valid = LOCAL_OPTIONS if backend == "local" else API_OPTIONS
        wrong = sorted(given.keys() - set(valid))
        if wrong:
            other = "api" if backend == "local" else "local"
            what = "is one of the settings" if len(wrong) == 1 else "are settings"
            raise ConfigurationError(
                f"{', '.join(wrong)} {what} that only apply to backend={other!r}, but this "
                f"embedder uses backend={backend!r}; drop {'it' if len(wrong) == 1 else 'them'} "
                f"or pass backend={other!r}."
            )
        if backend == "local":
            from jina_v3.local.backend import LocalBackend

            return LocalBackend(model or DEFAULT_LOCAL_MODEL, LocalOptions(**given))
        from jina_v3.remote.backend import RemoteBackend

        return RemoteBackend(str(model or DEFAULT_API_MODEL), options=RemoteOptions.create(**given))
    if not isinstance(backend, (Backend, AsyncBackend)):
        raise ConfigurationError(
            f"backend must be 'local', 'api' or a Backend object, got {backend!r}"
        )
    extra = sorted(given) + (["model"] if model is not None else [])
    if extra:
        raise ConfigurationError(
            f"{', '.join(extra)} cannot be applied to a backend object, which is configured "
            "already: set them where the backend is made, or pass backend='local' or 'api'."
        )
    return backend


def _empty(n_dims: int, embedding_type: str) -> np.ndarray:
    return finish(np.zeros((0, n_dims), np.float32), None, False, embedding_type)


class Embedder(_BaseEmbedder, Closing):
    """Embeds texts with jina-embeddings-v3, locally (torch) or through the Jina API.

    Example:
        >>> embedder = Embedder("path/to/jina-embeddings-v3")          # local weights
        >>> embedder = Embedder(backend="api", api_key="jina_...")      # hosted API
        >>> passages = embedder.encode_passages(["Berlin is a city."], dimensions=256)
        >>> query = embedder.encode_queries(["Which city?"], dimensions=256)

    Args:
        model: Local checkpoint directory or hub id (local), or API model name (api).
        backend: ``"local"`` (default), ``"api"`` (default when ``api_key`` or ``base_url``
            is given), or a :class:`Backend` / :class:`AsyncBackend` object, which is used as
            it is (any other option is then refused).
        device, dtype, threads, revision, cache_dir, max_batch_tokens: Local backend options
            (dtype ``"float32"`` or ``"bfloat16"``; bf16 by default where the hardware has it).
        window_tokens, window_overlap: Local late-chunking windows for documents longer than
            the context (defaults 8192 and 512 tokens).
        merge_adapters: Local: keep a merged copy of the linear weights per task used
            (faster by a few percent, about 0.6 GB more per task in bf16) instead of the one
            shared copy with the adapters as a side path (the default).
        api_key, base_url, timeout, max_retries, backoff_base, backoff_max, max_concurrency,
            max_request_tokens, http_client, tokenizer, max_dimensions: API options (see
            :class:`~jina_v3.options.RemoteOptions`); ``timeout`` bounds each whole request.
            A key passed as ``api_key=`` travels in pickles; one read from ``JINA_API_KEY``
            (or given as ``api_key=Secret.from_env("NAME")``) travels as the variable's name
            and is read again in the worker.

    An embedder pickles as its settings (for worker processes): a local one loads the
    model again when it is unpickled; an API one opens its own connections.

    Any option of the other backend is a ConfigurationError naming it.

    Raises:
        ConfigurationError: Conflicting or invalid options.
        ModelLoadError: The checkpoint cannot be found or does not match the architecture.
        MissingDependencyError: The backend's extra is not installed.
    """

    def _adopt(self) -> None:
        if not isinstance(self._backend, Backend):
            raise ConfigurationError(
                "This backend object is async only (no embed()): use AsyncEmbedder with it."
            )

    @overload
    def encode(self, texts: str, **options: Unpack[EncodeOptions]) -> np.ndarray: ...
    @overload
    def encode(self, texts: Iterable[str], **options: Unpack[EncodeOptions]) -> np.ndarray: ...

    def encode(self, texts: str | Iterable[str], **options: Unpack[EncodeOptions]) -> np.ndarray:
        """Embed `texts`; one row per input, in input order (a str gives one 1-D vector).

        Args:
            texts: The inputs (any iterable of strings, read once). With
                ``late_chunking=True``: the consecutive chunks of ONE document, embedded in
                one pass and pooled per chunk.
            task: ``retrieval.query``, ``retrieval.passage``, ``separation``,
                ``classification``, ``text-matching``, or None (default: no adapter, no
                instruction).
            dimensions: Matryoshka size, 1 to :attr:`max_dimensions` (default None: full).
            late_chunking: Treat ``texts`` as chunks of one document (default False).
            normalized: L2-normalise after truncation to ``dimensions`` (default True).
            embedding_type: ``float`` (float32), ``binary`` (int8), ``ubinary`` (uint8 packed
                sign bits) or ``base64`` (float32 here; base64 on the wire, which keeps
                API responses small); default ``float``.
            truncate: Cut inputs over the context instead of raising InputTooLongError
                (default False).
            progress: Show a progress bar (True) or report to this
                :class:`~jina_v3.progress.Progress` (default False).

        Returns:
            A numpy array with one row per input.

        Raises:
            UnknownTaskError, ConfigurationError: Invalid arguments or inputs (naming the
                input's index).
            InputTooLongError: An input exceeds the context and ``truncate`` is False.
        """
        return run(self._encode(texts, **options), backend=self._backend)

    def encode_queries(self, texts: str | Iterable[str], **kwargs: Any) -> np.ndarray:
        """:meth:`encode` with ``task="retrieval.query"``."""
        return self.encode(texts, task="retrieval.query", **kwargs)

    def encode_passages(self, texts: str | Iterable[str], **kwargs: Any) -> np.ndarray:
        """:meth:`encode` with ``task="retrieval.passage"``."""
        return self.encode(texts, task="retrieval.passage", **kwargs)

    def encode_late_chunked(
        self, documents: Iterable[Iterable[str]], **options: Unpack[LateChunkedOptions]
    ) -> list[np.ndarray]:
        """Late chunking over many documents, never mixing two documents in one pass.

        Args:
            documents: Each document as the list of its consecutive chunks.
            options: ``task`` (default ``retrieval.passage``), ``dimensions``,
                ``normalized`` and ``embedding_type``, as in :meth:`encode`.

        Returns:
            One array per document, one row per chunk.
        """
        return run(self._encode_late_chunked(documents, **options), backend=self._backend)

    def close(self) -> None:
        """Release the backend (model memory or HTTP connections)."""
        self._backend.close()


class AsyncEmbedder(_BaseEmbedder, AsyncClosing):
    """The async twin of :class:`Embedder`: same constructor, same method names, awaitable.

    The API backend uses a pooled ``httpx.AsyncClient`` with bounded concurrency; the local
    backend runs the model in a worker thread (:class:`ThreadedBackend`), so the event loop
    never blocks. Close with ``await aclose()`` or ``async with``.
    """

    def _adopt(self) -> None:
        ab = self._backend if isinstance(self._backend, AsyncBackend) else None
        self._async = ab or ThreadedBackend(self._backend)
        # the flows ask for `embed`/`embed_documents`; here those are the awaitable ones
        self._target = SimpleNamespace(
            embed=self._async.aembed, embed_documents=self._async.aembed_documents
        )

    async def encode(
        self, texts: str | Iterable[str], **options: Unpack[EncodeOptions]
    ) -> np.ndarray:
        """See :meth:`Embedder.encode`."""
        return await arun(self._encode(texts, **options), backend=self._target)

    async def encode_queries(self, texts: str | Iterable[str], **kwargs: Any) -> np.ndarray:
        """:meth:`encode` with ``task="retrieval.query"``."""
        return await self.encode(texts, task="retrieval.query", **kwargs)

    async def encode_passages(self, texts: str | Iterable[str], **kwargs: Any) -> np.ndarray:
        """:meth:`encode` with ``task="retrieval.passage"``."""
        return await self.encode(texts, task="retrieval.passage", **kwargs)

    async def encode_late_chunked(
        self, documents: Iterable[Iterable[str]], **options: Unpack[LateChunkedOptions]
    ) -> list[np.ndarray]:
        """See :meth:`Embedder.encode_late_chunked`."""
        return await arun(self._encode_late_chunked(documents, **options), backend=self._target)

    async def aclose(self) -> None:
        """Release the backend."""
        await self._async.aclose()
