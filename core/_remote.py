"""The remote backend: the hosted Jina embeddings API (or a compatible server) over httpx.

All decisions (payloads, batching, parsing, which errors to retry and for how long) live in
:mod:`jina_v3._wire`; this module only moves bytes, once with ``httpx.Client`` and once with
``httpx.AsyncClient``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from jina_v3 import _wire
from jina_v3.errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    InputTooLongError,
    JinaV3Error,
)
from jina_v3.types import Usage

logger = logging.getLogger("jina_v3")

API_KEY_ENV = ("JINA_API_KEY", "JINAAI_API_KEY")
BASE_URL_ENV = "JINA_API_BASE_URL"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 4
DEFAULT_MAX_CONCURRENCY = 4
_USER_AGENT = "jina-v3-connectors/0.1"


class _Secret:
    """Holds the key; prints as ``'***'`` so no repr, log or traceback can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # pickling is how Ray and multiprocessing hand an embedder to workers, which need it
        return (_Secret, (self._value,))


@dataclass
class _Call:
    """One HTTP request of a plan: its body and how to read the answer."""

    body: bytes
    n_inputs: int
    embedding_type: str
    dimensions: int | None
    first_index: int  # of its first input in the caller's list (for error messages)


class RemoteBackend:
    """jina-embeddings-v3 through the Jina embeddings API or a compatible server.

    Example:
        >>> backend = RemoteBackend("jina-embeddings-v3", api_key="jina_...")
        >>> embedder = Embedder(backend=backend)   # or Embedder(backend="api", api_key=...)

    Args:
        model: API model name (``jina-embeddings-v3``).
        api_key: The key; else ``JINA_API_KEY`` or ``JINAAI_API_KEY``. Never logged or shown.
        base_url: Server base URL (with or without ``/v1`` or ``/v1/embeddings``); else
            ``JINA_API_BASE_URL``; else ``https://api.jina.ai``.
        timeout: Seconds to wait for an answer (default 60; connecting: at most 10).
        max_retries: Retries of 429, 5xx, timeouts and dropped connections (default 4).
        max_concurrency: Requests in flight at once, async calls and large sync calls
            alike (default 4).
        http_client: An ``httpx.Client`` or ``httpx.AsyncClient`` to use, with its own
            timeout and pool limits (it is not closed by :meth:`close`); the other kind is
            created when needed.
        tokenizer: Path of v3's ``tokenizer.json`` (or its folder) for exact token counts;
            by default the one in the Hugging Face cache if present, else an estimate
            (see :class:`jina_v3._wire.TokenCounter`).
        max_request_tokens: Token budget of one request outside late chunking.
        backoff_base, backoff_max: Exponential backoff bounds in seconds.

    Raises:
        ConfigurationError: No key, or an invalid option.
    """

    kind = "api"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        http_client: httpx.Client | httpx.AsyncClient | None = None,
        tokenizer: str | os.PathLike[str] | None = None,
        max_request_tokens: int = _wire.DEFAULT_MAX_REQUEST_TOKENS,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
    ) -> None:
        key = api_key or next((os.environ[n] for n in API_KEY_ENV if os.environ.get(n)), None)
        if isinstance(key, str):
            key = key.strip()
        if not key:
            raise ConfigurationError(
                "No API key for the Jina API: pass api_key=... or set the JINA_API_KEY "
                "environment variable (JINAAI_API_KEY is accepted too). Get a key at "
                "https://jina.ai/embeddings."
            )
        if not isinstance(key, str):
            raise ConfigurationError("api_key must be a string")
        self._key = _Secret(key)
        self.model_name = str(model)
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or _wire.DEFAULT_BASE_URL).rstrip(
            "/"
        )
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"base_url must start with http:// or https://, got {self.base_url!r}"
            )
        self.url = _wire.endpoint_url(self.base_url)
        if timeout is None:
            timeout = DEFAULT_TIMEOUT
        if isinstance(timeout, (int, float)):
            if timeout <= 0:
                raise ConfigurationError(f"timeout must be positive seconds, got {timeout!r}")
            timeout = httpx.Timeout(float(timeout), connect=min(10.0, float(timeout)))
        self.timeout = timeout
        retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
        if not (isinstance(retries, int) and retries >= 0):
            raise ConfigurationError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        self.retry = _wire.RetryPolicy(retries, backoff_base, backoff_max)
        conc = DEFAULT_MAX_CONCURRENCY if max_concurrency is None else max_concurrency
        if not (isinstance(conc, int) and conc >= 1):
            raise ConfigurationError(
                f"max_concurrency must be an integer >= 1, got {max_concurrency!r}"
            )
        self.max_concurrency = conc
        if not (isinstance(max_request_tokens, int) and max_request_tokens > 0):
            raise ConfigurationError("max_request_tokens must be a positive integer")
        self.max_request_tokens = max_request_tokens
        self._tokenizer_path = tokenizer
        if tokenizer is not None and not Path(tokenizer).expanduser().exists():
            raise ConfigurationError(f"tokenizer={str(tokenizer)!r} does not exist")
        self._counter: _wire.TokenCounter | None = None

        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None
        self._owns_client = self._owns_aclient = True
        if isinstance(http_client, httpx.Client):
            self._client, self._owns_client = http_client, False
        elif isinstance(http_client, httpx.AsyncClient):
            self._aclient, self._owns_aclient = http_client, False
        elif http_client is not None:
            raise ConfigurationError("http_client must be an httpx.Client or httpx.AsyncClient")
        self._asem: asyncio.Semaphore | None = None
        self._asem_loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._max_dimensions = _wire.known_dimensions(self.model_name)
        self._dims_asked = self._max_dimensions is not None
        self._closed = False
        self.usage = Usage()

    def __getstate__(self) -> dict[str, Any]:
        """Settings only: connections, locks and loop-bound objects are made anew after."""
        if not (self._owns_client and self._owns_aclient):
            raise TypeError("a RemoteBackend with a given http_client cannot be pickled")
        state = dict(self.__dict__)
        state.update(_client=None, _aclient=None, _aclient_loop=None, _asem=None, _asem_loop=None)
        del state["_lock"], state["usage"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self.usage = Usage()

    def __repr__(self) -> str:
        return f"RemoteBackend(model={self.model_name!r}, base_url={self.base_url!r})"

    # -- what callers need to know -------------------------------------------------------

    @property
    def max_dimensions(self) -> int:
        """Full embedding size: 1024 for jina-embeddings-v3.

        For another model name it is asked once from ``GET {base}/v1/models`` (our server
        reports ``dimensions``); failing that, 1024 until a full-size response shows it.
        """
        if self._max_dimensions is None and not self._dims_asked:
            self._dims_asked = True
            self._max_dimensions = self._fetch_dimensions()
        return self._max_dimensions or _wire.V3_DIMENSIONS

    def _fetch_dimensions(self) -> int | None:
        try:
            client = self._sync_client()
            resp = client.get(
                _wire.models_url(self.base_url), headers=self._headers(), timeout=10.0
            )
            if resp.status_code != 200:
                return None
            for item in _wire.loads(resp.content).get("data", []):
                if item.get("id") == self.model_name and isinstance(item.get("dimensions"), int):
                    return int(item["dimensions"])
        except (httpx.HTTPError, ValueError, AttributeError, TypeError):
            logger.debug("jina_v3: %s lists no dimensions for %s", self.base_url, self.model_name)
        return None

    @property
    def counter(self) -> _wire.TokenCounter:
        """Token counting used for batching (exact with a tokenizer, else estimated)."""
        if self._counter is None:
            self._counter = _wire.TokenCounter.load(self._tokenizer_path, self.model_name)
        return self._counter

    # -- planning (pure) -------------------------------------------------------------------

    def _plan_texts(
        self,
        texts: Sequence[str],
        *,
        task: str | None,
        dimensions: int | None,
        normalized: bool,
        embedding_type: str,
        truncate: bool,
    ) -> list[_Call]:
        counts = self.counter.count(texts, task)
        if self.counter.exact and not truncate:
            for i, n in enumerate(counts):
                if n > _wire.MAX_LATE_CHUNKING_TOKENS + 2:  # v3's context: 8194 with specials
                    raise InputTooLongError(
                        f"Input {i} has {n} tokens (instruction and special tokens included), "
                        f"over the model's limit of {_wire.MAX_LATE_CHUNKING_TOKENS + 2}. "
                        "Shorten it, or pass truncate=True to cut it at the limit.",
                        index=i,
                        tokens=n,
                        limit=_wire.MAX_LATE_CHUNKING_TOKENS + 2,
                    )
        parts = _wire.plan_batches(counts, max_tokens=self.max_request_tokens)
        return self._calls(
            texts,
            parts,
            task=task,
            dimensions=dimensions,
            normalized=normalized,
            embedding_type=embedding_type,
            late_chunking=False,
            truncate=truncate,
        )

    def _plan_document(
        self,
        chunks: Sequence[str],
        *,
        task: str | None,
        dimensions: int | None,
        normalized: bool,
        embedding_type: str,
        truncate: bool = False,
    ) -> list[_Call]:
        """One document: consecutive chunk groups, each one request within 8192 tokens."""
        base, counts = self.counter.chunk_counts(chunks, task)
        groups: list[range] = []
        start = 0
        while start < len(chunks):
            end = start + len(_wire.plan_late_groups(base, counts[start:])[0])
            # estimates are per chunk; with a tokenizer, check the joined text exactly
            while (
                self.counter.exact
                and end - start > 1
                and self.counter.document_tokens(chunks[start:end], task)
                > _wire.MAX_LATE_CHUNKING_TOKENS
            ):
                end -= 1
            groups.append(range(start, end))
            start = end
        if len(groups) > 1:
            logger.info(
                "jina_v3: a late-chunked document of %d chunks exceeds %d tokens; sent as %d "
                "consecutive groups",
                len(chunks),
                _wire.MAX_LATE_CHUNKING_TOKENS,
                len(groups),
            )
        return self._calls(
            chunks,
            groups,
            task=task,
            dimensions=dimensions,
            normalized=normalized,
            embedding_type=embedding_type,
            late_chunking=True,
            truncate=truncate,
        )

    def _calls(
        self,
        items: Sequence[str],
        parts: Sequence[range],
        *,
        dimensions: int | None,
        embedding_type: str,
        **options: Any,
    ) -> list[_Call]:
        """One request per part (a range of consecutive inputs)."""
        calls = []
        for part in parts:
            payload = _wire.build_payload(
                self.model_name,
                [items[i] for i in part],
                dimensions=dimensions,
                embedding_type=embedding_type,
                **options,
            )
            calls.append(
                _Call(_wire.dumps(payload), len(part), embedding_type, dimensions, part.start)
            )
        return calls

    # -- sync ------------------------------------------------------------------------------

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
    ) -> np.ndarray:
        """Embed `texts` (with `late_chunking`: the chunks of one document)."""
        plan = self._plan_document if late_chunking else self._plan_texts
        calls = plan(
            texts,
            task=task,
            dimensions=dimensions,
            normalized=normalized,
            embedding_type=embedding_type,
            truncate=truncate,
        )
        return _concat(self._run_sync(calls), embedding_type)

    def embed_documents(
        self,
        documents: Sequence[Sequence[str]],
        *,
        task: str | None,
        dimensions: int | None,
        normalized: bool,
        embedding_type: str,
    ) -> list[np.ndarray]:
        """Late chunking: one or more requests per document, never two documents in one."""
        opts = dict(
            task=task, dimensions=dimensions, normalized=normalized, embedding_type=embedding_type
        )
        plans = [self._plan_document(doc, **opts) for doc in documents]
        flat = self._run_sync([c for plan in plans for c in plan])
        return _split(flat, plans, embedding_type)

    def _run_sync(self, calls: list[_Call]) -> list[np.ndarray]:
        self._check_open()
        client = self._sync_client()
        if len(calls) == 1 or self.max_concurrency == 1:
            return [self._send_sync(client, c) for c in calls]
        with ThreadPoolExecutor(min(self.max_concurrency, len(calls))) as pool:
            futures = [pool.submit(self._send_sync, client, c) for c in calls]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    def _send_sync(self, client: httpx.Client, call: _Call) -> np.ndarray:
        attempt = 0
        while True:
            try:
                resp = client.post(self.url, content=call.body, headers=self._headers())
                outcome = self._outcome(resp.status_code, resp.headers, resp.content, call)
            except httpx.HTTPError as exc:
                outcome = self._transport_error(exc)
            if isinstance(outcome, np.ndarray):
                return outcome
            delay = self._retry_delay(outcome, attempt)
            if delay is None:
                raise outcome
            attempt += 1
            time.sleep(delay)

    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=self.timeout,
                    limits=httpx.Limits(
                        max_connections=self.max_concurrency + 2,
                        max_keepalive_connections=self.max_concurrency,
                    ),
                    headers={"User-Agent": _USER_AGENT},
                )
            return self._client

    def close(self) -> None:
        """Close the HTTP connections this backend opened (a given client stays open)."""
        self._closed = True
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            client.close()
        if self._aclient is not None and self._owns_aclient:
            # an AsyncClient can only be closed on its own loop: use aclose() for async use
            logger.debug("jina_v3: close() leaves the async client to the garbage collector")
            self._aclient = None

    # -- async -----------------------------------------------------------------------------

    async def aembed(
        self,
        texts: Sequence[str],
        *,
        task: str | None,
        dimensions: int | None,
        late_chunking: bool,
        normalized: bool,
        embedding_type: str,
        truncate: bool,
    ) -> np.ndarray:
        """Async :meth:`embed`."""
        plan = self._plan_document if late_chunking else self._plan_texts
        calls = plan(
            texts,
            task=task,
            dimensions=dimensions,
            normalized=normalized,
            embedding_type=embedding_type,
            truncate=truncate,
        )
        return _concat(await self._run_async(calls), embedding_type)

    async def aembed_documents(
        self,
        documents: Sequence[Sequence[str]],
        *,
        task: str | None,
        dimensions: int | None,
        normalized: bool,
        embedding_type: str,
    ) -> list[np.ndarray]:
        """Async :meth:`embed_documents`."""
        opts = dict(
            task=task, dimensions=dimensions, normalized=normalized, embedding_type=embedding_type
        )
        plans = [self._plan_document(doc, **opts) for doc in documents]
        flat = await self._run_async([c for plan in plans for c in plan])
        return _split(flat, plans, embedding_type)

    async def _run_async(self, calls: list[_Call]) -> list[np.ndarray]:
        self._check_open()
        client, sem = self._async_client()

        async def one(call: _Call) -> np.ndarray:
            async with sem:
                return await self._send_async(client, call)

        if len(calls) == 1:
            return [await one(calls[0])]
        tasks = [asyncio.ensure_future(one(c)) for c in calls]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _send_async(self, client: httpx.AsyncClient, call: _Call) -> np.ndarray:
        attempt = 0
        while True:
            try:
                resp = await client.post(self.url, content=call.body, headers=self._headers())
                outcome = self._outcome(resp.status_code, resp.headers, resp.content, call)
            except httpx.HTTPError as exc:
                outcome = self._transport_error(exc)
            if isinstance(outcome, np.ndarray):
                return outcome
            delay = self._retry_delay(outcome, attempt)
            if delay is None:
                raise outcome
            attempt += 1
            await asyncio.sleep(delay)

    def _async_client(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if self._owns_aclient and (self._aclient is None or self._aclient_loop is not loop):
            # an AsyncClient's pool belongs to one event loop: a new loop gets a new client
            self._aclient = httpx.AsyncClient(
                timeout=self.timeout,
                limits=httpx.Limits(
                    max_connections=self.max_concurrency + 2,
                    max_keepalive_connections=self.max_concurrency,
                ),
                headers={"User-Agent": _USER_AGENT},
            )
            self._aclient_loop = loop
        if self._asem is None or self._asem_loop is not loop:
            self._asem, self._asem_loop = asyncio.Semaphore(self.max_concurrency), loop
        assert self._aclient is not None
        return self._aclient, self._asem

    async def aclose(self) -> None:
        """Close the async and sync connections this backend opened."""
        aclient, self._aclient = self._aclient, None
        if aclient is not None and self._owns_aclient:
            try:
                await aclient.aclose()
            except RuntimeError:  # created on a loop that is gone
                logger.debug("jina_v3: async client belonged to a closed event loop")
        self.close()

    # -- shared by both paths --------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._key.get()}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def _outcome(
        self, status: int, headers: httpx.Headers, content: bytes, call: _Call
    ) -> np.ndarray | JinaV3Error:
        """The embeddings of a finished exchange, or the error it amounts to."""
        if 200 <= status < 300:
            try:
                parsed = _wire.parse_response(
                    content, call.n_inputs, call.embedding_type, dimensions=call.dimensions
                )
            except _wire.MalformedResponseError as exc:
                exc.body = _wire.scrub(exc.body, self._key.get())
                return exc
            self.usage.add(tokens=parsed.tokens)
            if parsed.full_dimensions and self._max_dimensions is None:
                self._max_dimensions = parsed.full_dimensions
            return parsed.embeddings
        return _wire.error_for_status(
            status, content, headers, secret=self._key.get(), first_index=call.first_index
        )

    def _transport_error(self, exc: httpx.HTTPError) -> JinaV3Error:
        message = _wire.scrub(str(exc), self._key.get())
        if isinstance(exc, httpx.TimeoutException):
            timeout = self.timeout.read if isinstance(self.timeout, httpx.Timeout) else None
            return APITimeoutError(
                f"No answer from {self.url} within timeout={timeout}s ({type(exc).__name__}); "
                "raise timeout= for long late-chunked documents"
            )
        return APIConnectionError(
            f"Connection to {self.url} failed or dropped ({type(exc).__name__}: {message[:200]})"
        )

    def _retry_delay(self, error: JinaV3Error, attempt: int) -> float | None:
        retryable = isinstance(error, (APIConnectionError, _wire.MalformedResponseError)) or (
            getattr(error, "status_code", None) is not None
            and _wire.is_retryable_status(error.status_code)  # type: ignore[attr-defined]
        )
        if not retryable or isinstance(error, InputTooLongError):
            return None
        retry_after = getattr(error, "retry_after", None)  # 429, and 503 when it says
        delay = self.retry.delay(attempt, retry_after)
        if delay is not None:
            logger.warning(
                "jina_v3: %s; retry %d/%d in %.2fs",
                type(error).__name__,
                attempt + 1,
                self.retry.max_retries,
                delay,
            )
        return delay

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigurationError("This embedder is closed; create a new one.")


def _concat(parts: list[np.ndarray], embedding_type: str) -> np.ndarray:
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts, axis=0)


def _split(
    flat: list[np.ndarray], plans: list[list[_Call]], embedding_type: str
) -> list[np.ndarray]:
    out, k = [], 0
    for plan in plans:
        out.append(_concat(flat[k : k + len(plan)], embedding_type))
        k += len(plan)
    return out
