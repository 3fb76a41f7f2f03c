"""The API backend: the hosted Jina embeddings API (or a compatible server) over httpx.

This module holds configuration (a validated :class:`~jina_v3.options.RemoteOptions`) and two
thin drivers of the pure flows of :mod:`jina_v3.remote.exchange`, which plans the requests and
decides every retry: a sync one (``httpx.Client``, ``time.sleep``, a thread pool for
concurrent requests) and an async one (``httpx.AsyncClient``, ``asyncio.sleep``, a
semaphore). Each driver only moves bytes and bounds each request as a whole by ``timeout``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np

from jina_v3._flow import arun, run
from jina_v3.errors import ConfigurationError, unknown_arguments
from jina_v3.options import RemoteOptions
from jina_v3.remote import exchange as ex
from jina_v3.remote.wire import V3_DIMENSIONS, known_dimensions, model_identity
from jina_v3.types import EmbedSpec, Usage

logger = logging.getLogger("jina_v3")

DEFAULT_MODEL = "jina-embeddings-v3"
_USER_AGENT = "jina-v3-connectors/0.1"


def _timeouts(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(10.0, seconds))


def _failure(exc: httpx.HTTPError) -> ex.TransportFailure:
    kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection"
    return ex.TransportFailure(kind, f"{type(exc).__name__}: {exc}")


class _SyncHTTP:
    """POST with ``httpx.Client``, bounded as a whole: the caller stops waiting at the deadline.

    The exchange runs in a helper thread, streaming, and stops at the first chunk after the
    deadline, so a server that drips bytes cannot hold it either.
    """

    def __init__(self, client: httpx.Client, pool: ThreadPoolExecutor) -> None:
        self.client, self.pool = client, pool

    def post(self, url: str, body: bytes, headers: Any, timeout: float) -> ex.Answer:
        deadline = time.monotonic() + timeout
        future = self.pool.submit(self._exchange, url, body, headers, timeout, deadline)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise ex.TransportFailure("timeout", "deadline") from None

    def _exchange(
        self, url: str, body: bytes, headers: Any, timeout: float, deadline: float
    ) -> ex.Answer:
        try:
            with self.client.stream(
                "POST", url, content=body, headers=headers, timeout=_timeouts(timeout)
            ) as resp:
                chunks = []
                for chunk in resp.iter_bytes():
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise ex.TransportFailure("timeout", "deadline")
                return ex.Answer(resp.status_code, resp.headers, b"".join(chunks))
        except httpx.HTTPError as exc:
            raise _failure(exc) from None


class _AsyncHTTP:
    """POST with ``httpx.AsyncClient``, cancelled at the deadline."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, url: str, body: bytes, headers: Any, timeout: float) -> ex.Answer:
        try:
            async with asyncio.timeout(timeout):
                resp = await self.client.post(
                    url, content=body, headers=headers, timeout=_timeouts(timeout)
                )
        except TimeoutError:
            raise ex.TransportFailure("timeout", "deadline") from None
        except httpx.HTTPError as exc:
            raise _failure(exc) from None
        return ex.Answer(resp.status_code, resp.headers, resp.content)


class RemoteBackend:
    """jina-embeddings-v3 through the Jina embeddings API or a compatible server.

    Example:
        >>> backend = RemoteBackend("jina-embeddings-v3", api_key="jina_...")
        >>> embedder = Embedder(backend=backend)   # or Embedder(backend="api", api_key=...)

    Args:
        model: API model name (``jina-embeddings-v3``).
        options: Validated settings; or pass them as keywords (the names of
            :class:`~jina_v3.options.RemoteOptions`: ``api_key`` (else ``JINA_API_KEY`` /
            ``JINAAI_API_KEY``), ``base_url`` (else ``JINA_API_BASE_URL``), ``timeout``
            (seconds for each whole request, default 60), ``max_retries``, ``backoff_base``,
            ``backoff_max``, ``max_concurrency``, ``max_request_tokens``, ``http_client`` (an
            ``httpx.Client`` or ``AsyncClient``, left open by :meth:`close`), ``tokenizer``
            (a v3 ``tokenizer.json`` for exact counts) and ``max_dimensions``).

    Pickling keeps the key only if it was passed as ``api_key=``; a key from the environment
    travels as the variable's name and is read again where the pickle is loaded.

    Raises:
        ConfigurationError: No key, or an invalid option.
    """

    kind = "api"

    def __init__(
        self, model: str = DEFAULT_MODEL, *, options: RemoteOptions | None = None, **settings: Any
    ) -> None:
        if options is None:
            valid = {"model", "options", *RemoteOptions.__dataclass_fields__}
            unknown = set(settings) - valid
            if unknown:
                raise unknown_arguments("RemoteBackend", unknown, valid)
            options = RemoteOptions.create(**settings)
        elif settings:
            raise ConfigurationError(f"Pass options= or settings, not both: {sorted(settings)}")
        self.options = options
        self.model = str(model)
        self.model_name = model_identity(self.model)
        self.url = ex.endpoint_url(options.base_url)
        self.base_url = options.base_url
        client = options.http_client
        self._client = client if isinstance(client, httpx.Client) else None
        self._aclient = client if isinstance(client, httpx.AsyncClient) else None
        self._full = options.max_dimensions or known_dimensions(self.model)
        self._setup()

    def _setup(self) -> None:
        """The parts that never travel in a pickle."""
        key = self.options.api_key.get()
        self._endpoint = ex.Endpoint(
            self.url,
            {
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            float(self.options.timeout),
            ex.RetryPolicy(
                self.options.max_retries, self.options.backoff_base, self.options.backoff_max
            ),
            key,
        )
        self._counter: ex.TokenCounter | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None
        self._asem: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.usage = Usage()

    def __reduce__(self) -> Any:
        # settings only: connections, locks and loop-bound objects are made anew
        if self.options.http_client is not None:
            raise TypeError("a RemoteBackend with a given http_client cannot be pickled")
        return (_restore, (self.model, self.options, self._full))

    def __repr__(self) -> str:
        return f"RemoteBackend(model={self.model!r}, base_url={self.base_url!r})"

    @property
    def max_dimensions(self) -> int:
        """Full size: known by name (1024 for v3), ``max_dimensions=``, else learned from the
        first full-size answer (1024 until then). Never a request of its own."""
        return self._full or V3_DIMENSIONS

    # -- planning and bookkeeping, shared by both drivers --------------------------------

    def _plan(
        self, documents: Sequence[Sequence[str]] | None, texts: Sequence[str], spec: EmbedSpec
    ) -> list[list[ex.Request]]:
        if self._closed:
            raise ConfigurationError("This embedder is closed; create a new one.")
        if self._counter is None:
            self._counter = ex.TokenCounter.load(self.options.tokenizer, self.model)
        if documents is None:
            max_tokens = self.options.max_request_tokens
            return [
                ex.plan_texts(self.model, texts, spec, self._counter, max_request_tokens=max_tokens)
            ]
        return [ex.plan_document(self.model, doc, spec, self._counter) for doc in documents]

    def _record(self, parsed: ex.Parsed) -> np.ndarray:
        self.usage.add(tokens=parsed.tokens)
        if parsed.full_dimensions and self._full is None:
            self._full = parsed.full_dimensions
        return parsed.embeddings

    def _flows(self, plans: list[list[ex.Request]], spec: EmbedSpec) -> list[Any]:
        width = ex.row_width(spec)
        return [ex.exchange(self._endpoint, r, width) for plan in plans for r in plan]

    @staticmethod
    def _assemble(plans: list[list[ex.Request]], flat: list[np.ndarray]) -> list[np.ndarray]:
        out, k = [], 0
        for plan in plans:
            out.append(ex.concat(flat[k : k + len(plan)]))
            k += len(plan)
        return out

    # -- the sync driver -------------------------------------------------------------------

    def embed(self, texts: Sequence[str], spec: EmbedSpec) -> np.ndarray:
        """Embed `texts` (as many requests as the API's limits need)."""
        plans = self._plan(None, texts, spec)
        return self._assemble(plans, self._run_sync(self._flows(plans, spec)))[0]

    def embed_documents(
        self, documents: Sequence[Sequence[str]], spec: EmbedSpec
    ) -> list[np.ndarray]:
        """Late chunking: one or more requests per document, never two documents in one."""
        plans = self._plan(documents, (), spec)
        return self._assemble(plans, self._run_sync(self._flows(plans, spec)))

    def _run_sync(self, flows: list[Any]) -> list[np.ndarray]:
        with self._lock:
            if self._client is None:
                self._client = self._new_client(httpx.Client)
            if self._pool is None:
                conc = self.options.max_concurrency
                self._pool = ThreadPoolExecutor(conc + 2, thread_name_prefix="jina-v3-http")
        http = _SyncHTTP(self._client, self._pool)

        def one(flow: Any) -> np.ndarray:
            return self._record(run(flow, http=http, clock=time))

        if len(flows) == 1 or self.options.max_concurrency == 1:
            return [one(f) for f in flows]
        with ThreadPoolExecutor(min(self.options.max_concurrency, len(flows))) as fan_out:
            futures = [fan_out.submit(one, f) for f in flows]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    def _new_client(self, kind: Any) -> Any:
        conc = self.options.max_concurrency
        limits = httpx.Limits(max_connections=conc + 2, max_keepalive_connections=conc)
        return kind(limits=limits, headers={"User-Agent": _USER_AGENT})

    def close(self) -> None:
        """Close the HTTP connections this backend opened (a given client stays open)."""
        self._closed = True
        if self._client is not None and self.options.http_client is None:
            self._client.close()
        self._client = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._aclient is not None and self.options.http_client is None:
            # an AsyncClient can only be closed on its own loop: use aclose() for async use
            logger.debug("jina_v3: close() leaves the async client to the garbage collector")
            self._aclient = None

    # -- the async driver ------------------------------------------------------------------

    async def aembed(self, texts: Sequence[str], spec: EmbedSpec) -> np.ndarray:
        """Async :meth:`embed`."""
        plans = self._plan(None, texts, spec)
        return self._assemble(plans, await self._run_async(self._flows(plans, spec)))[0]

    async def aembed_documents(
        self, documents: Sequence[Sequence[str]], spec: EmbedSpec
    ) -> list[np.ndarray]:
        """Async :meth:`embed_documents`."""
        plans = self._plan(documents, (), spec)
        return self._assemble(plans, await self._run_async(self._flows(plans, spec)))

    async def _run_async(self, flows: list[Any]) -> list[np.ndarray]:
        loop = asyncio.get_running_loop()
        if self.options.http_client is None and (
            self._aclient is None or self._aclient_loop is not loop
        ):  # an AsyncClient's pool belongs to one event loop: a new loop gets a new client
            self._aclient, self._aclient_loop = self._new_client(httpx.AsyncClient), loop
        if self._asem is None or self._asem[0] is not loop:
            self._asem = (loop, asyncio.Semaphore(self.options.max_concurrency))
        assert self._aclient is not None
        http, sem = _AsyncHTTP(self._aclient), self._asem[1]

        async def one(flow: Any) -> np.ndarray:
            async with sem:
                return self._record(await arun(flow, http=http, clock=asyncio))

        if len(flows) == 1:
            return [await one(flows[0])]
        tasks = [asyncio.ensure_future(one(f)) for f in flows]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def aclose(self) -> None:
        """Close the async and sync connections this backend opened."""
        aclient, self._aclient = self._aclient, None
        if aclient is not None and self.options.http_client is None:
            try:
                await aclient.aclose()
            except RuntimeError:  # created on a loop that is gone
                logger.debug("jina_v3: async client belonged to a closed event loop")
        self.close()

    async def __aenter__(self) -> RemoteBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _restore(model: str, options: RemoteOptions, full: int | None) -> RemoteBackend:
    backend = RemoteBackend(model, options=options)
    backend._full = full
    return backend
