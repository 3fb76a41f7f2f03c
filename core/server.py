"""A self-hosted server speaking the Jina embeddings API, on the local backend.

``POST /v1/embeddings`` takes and returns exactly the hosted API's JSON, so clients written for
``https://api.jina.ai`` (jina-haystack, LlamaIndex, LangChain, curl, this package's own
``Embedder(backend="api")``) work unchanged against ``http://127.0.0.1:8080``.

Concurrent requests are merged by a :class:`DynamicBatcher`: pending requests with the same
(task, late_chunking) are packed into token-budget batches and run on the model in one worker
thread, so the event loop never blocks and many small requests cost about as much as a few
large ones. Dimensions, normalisation and the embedding type are applied per request after
pooling, so requests that differ only in those share a batch.

Example:
    >>> from jina_v3 import Embedder
    >>> from jina_v3.server import create_app
    >>> app = create_app(Embedder("path/to/jina-embeddings-v3"), api_key="secret")
    >>> # uvicorn.run(app, host="127.0.0.1", port=8080)   or:  jina-v3 serve --model PATH
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from jina_v3 import _wire
from jina_v3._encoding import EMBEDDING_TYPES, finish, to_wire
from jina_v3.errors import ConfigurationError, JinaV3Error, MissingDependencyError
from jina_v3.tasks import TASKS, check_task

__all__ = ["DynamicBatcher", "QueueFullError", "create_app"]

logger = logging.getLogger("jina_v3.server")

DEFAULT_MAX_BATCH_TOKENS = 16384
DEFAULT_MAX_QUEUE = 1024
DEFAULT_MAX_WAIT = 0.02
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
#: Model names clients of the hosted API send; accepted as the served model.
V3_ALIASES = ("jina-embeddings-v3", "jinaai/jina-embeddings-v3")


def _require_fastapi():  # type: ignore[no-untyped-def]
    try:
        import fastapi
    except ImportError as exc:
        raise MissingDependencyError(
            "The server needs fastapi and uvicorn: pip install 'jina-v3-connectors[server]'"
        ) from exc
    return fastapi


# -- dynamic batching --------------------------------------------------------------------


class QueueFullError(JinaV3Error):
    """The batcher's queue is full; `retry_after` is the estimated seconds to drain it."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"server busy: queue full, retry after {retry_after}s")
        self.retry_after = retry_after


@dataclass
class _Job:
    task: str | None
    late_chunking: bool
    texts: list[str]
    tokens: int
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    queued_at: float = field(default_factory=time.monotonic)


class DynamicBatcher:
    """Merges concurrent requests into token-budget batches run in ONE worker thread.

    Jobs are taken oldest first: the oldest job's (task, late_chunking) decides the batch,
    which then takes every queued job with the same key while the batch stays within
    `max_batch_tokens` (the oldest job always goes, however large). Results are the pooled
    float vectors at full size, unnormalised; each request finishes its own.

    Args:
        backend: A local backend (``embed`` and ``embed_documents``).
        max_batch_tokens: Token budget of one merged batch.
        max_queue: Jobs waiting at most; beyond it :meth:`submit` raises QueueFullError.
        max_wait: Longest wait (seconds) for more jobs before a batch starts. The batcher
            waits only while fewer jobs are queued than the previous batch answered plus
            those that queued meanwhile (answered clients usually come straight back), at
            most a quarter of that batch's run time, and never once the token budget is
            full; a lone sequential client never waits.
    """

    def __init__(
        self,
        backend: Any,
        *,
        max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_wait: float = DEFAULT_MAX_WAIT,
    ) -> None:
        self.backend = backend
        self.max_wait = max_wait
        self._expect = 0  # jobs likely to be queued again soon (see max_wait)
        self._last_run = 0.0  # its run time in seconds
        self.max_batch_tokens = max_batch_tokens
        self.max_queue = max_queue
        self._pending: collections.deque[_Job] = collections.deque()
        self._queued_tokens = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._tokens_per_s = 2000.0  # updated from every batch
        self.batches = 0  # counters for /healthz and tests
        self.jobs = 0
        self.in_flight = 0

    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="jina-v3-batcher", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Finish every queued job, then end the worker thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def queued(self) -> int:
        return len(self._pending)

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained (at least 1)."""
        return max(1, math.ceil(self._queued_tokens / max(self._tokens_per_s, 1.0)))

    def submit(
        self, texts: list[str], *, task: str | None, late_chunking: bool, tokens: int
    ) -> asyncio.Future[Any]:
        """Queue a request; the future gets an array (or, late-chunked, one array per doc).

        Raises:
            QueueFullError: `max_queue` jobs are already waiting.
        """
        loop = asyncio.get_running_loop()
        job = _Job(task, late_chunking, texts, tokens, loop.create_future(), loop)
        with self._cond:
            if self._stopping:
                raise QueueFullError(5)
            if len(self._pending) >= self.max_queue:
                raise QueueFullError(self.retry_after())
            self._pending.append(job)
            self._queued_tokens += tokens
            self._cond.notify()
        return job.future

    def _take(self) -> list[_Job]:
        """Under the lock: the oldest job and every later one of its key within budget."""
        first = self._pending[0]
        key = (first.task, first.late_chunking)
        taken, kept, tokens = [], collections.deque(), 0
        for job in self._pending:
            fits = not taken or tokens + job.tokens <= self.max_batch_tokens
            if (job.task, job.late_chunking) == key and fits:
                taken.append(job)
                tokens += job.tokens
            else:
                kept.append(job)
        self._pending = kept
        self._queued_tokens -= tokens
        return taken

    def _linger(self) -> None:
        """Under the lock: wait briefly for the clients the last batch answered."""
        if self.max_wait <= 0 or len(self._pending) >= self._expect:
            return
        deadline = time.monotonic() + min(self.max_wait, 0.25 * self._last_run)
        while (
            not self._stopping
            and len(self._pending) < self._expect
            and self._queued_tokens < self.max_batch_tokens
        ):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._cond.wait(remaining)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if not self._pending:
                    return
                self._linger()
                jobs = self._take()
                self.in_flight = len(jobs)
            jobs = [j for j in jobs if not j.future.cancelled()]  # clients that went away
            if jobs:
                self.batches += 1  # counted before the answers go out, so readers see them
                self.jobs += len(jobs)
                started = time.perf_counter()
                self._execute(jobs)
                elapsed = time.perf_counter() - started
                with self._cond:  # the clients just answered, plus those already back
                    self._expect, self._last_run = len(jobs) + len(self._pending), elapsed
                tokens = sum(j.tokens for j in jobs)
                self._tokens_per_s = 0.8 * self._tokens_per_s + 0.2 * tokens / max(elapsed, 1e-4)
            self.in_flight = 0

    def _execute(self, jobs: list[_Job]) -> None:
        task, late = jobs[0].task, jobs[0].late_chunking
        try:
            if late:
                results: list[Any] = self.backend.embed_documents(
                    [j.texts for j in jobs],
                    task=task,
                    dimensions=None,
                    normalized=False,
                    embedding_type="float",
                )
            else:
                pooled = self.backend.embed(
                    [t for j in jobs for t in j.texts],
                    task=task,
                    dimensions=None,
                    late_chunking=False,
                    normalized=False,
                    embedding_type="float",
                    truncate=True,  # over-long inputs without truncate were refused already
                )
                results, start = [], 0
                for j in jobs:
                    results.append(pooled[start : start + len(j.texts)])
                    start += len(j.texts)
        except Exception as exc:
            if len(jobs) > 1:  # one bad request must not fail the others: run them alone
                for j in jobs:
                    self._execute([j])
                return
            _deliver(jobs[0], exc, error=True)
            return
        for job, result in zip(jobs, results, strict=True):
            _deliver(job, result)


def _deliver(job: _Job, value: Any, *, error: bool = False) -> None:
    def settle() -> None:
        if job.future.done():
            return
        if error:
            job.future.set_exception(value)
        else:
            job.future.set_result(value)

    try:
        job.loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        pass


# -- request validation -----------------------------------------------------------------


class RequestError(Exception):
    """An HTTP error answer in the API's shape: ``{"detail": message}``."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


@dataclass
class _Request:
    model: str
    texts: list[str]
    task: str | None
    dimensions: int | None
    normalized: bool
    embedding_types: list[str]
    types_as_list: bool
    late_chunking: bool
    truncate: bool


def _parse_request(doc: Any, *, served: str, aliases: set[str], max_dims: int) -> _Request:
    if not isinstance(doc, dict):
        raise RequestError(422, "The request body must be a JSON object.")
    model = doc.get("model")
    if model is None:
        model = served
    if not isinstance(model, str):
        raise RequestError(422, "`model` must be a string.")
    if model not in aliases:
        raise RequestError(
            400, f"Model {model!r} is not served here; this server serves {served!r}."
        )
    if "input" not in doc:
        raise RequestError(422, "`input` is required: a string or a list of strings.")
    raw = doc["input"]
    items = [raw] if isinstance(raw, (str, dict)) else raw
    if not isinstance(items, list):
        raise RequestError(422, "`input` must be a string or a list of strings.")
    if not items:
        raise RequestError(400, "`input` is empty: send at least one text.")
    if len(items) > _wire.MAX_INPUTS:
        raise RequestError(
            400,
            f"Too many inputs: {len(items)} in one request, the limit is {_wire.MAX_INPUTS}. "
            "Split the input into several requests.",
        )
    texts = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            if isinstance(item.get("text"), str):
                item = item["text"]
            elif "image" in item or "url" in item or "bytes" in item:
                raise RequestError(400, f"input[{i}] is an image; this server serves a text model.")
        if not isinstance(item, str):
            raise RequestError(422, f'input[{i}] must be a string or an object {{"text": ...}}.')
        texts.append(item)

    try:
        task = check_task(doc.get("task"))
    except ConfigurationError as exc:
        raise RequestError(422, str(exc)) from None

    dims = doc.get("dimensions")
    if dims is not None:
        if isinstance(dims, float) and dims.is_integer():
            dims = int(dims)
        if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= max_dims:
            raise RequestError(
                422, f"`dimensions` must be an integer from 1 to {max_dims}, got {dims!r}."
            )

    normalized = _flag(doc, "normalized", True)
    late = _flag(doc, "late_chunking", False)
    truncate = _flag(doc, "truncate", False)

    # hosted-API clients spell it embedding_type; LlamaIndex and OpenAI-style ones differ
    etype = None
    for name in ("embedding_type", "encoding_type", "encoding_format"):
        if doc.get(name) is not None:
            etype = doc[name]
            break
    if etype is None:
        etype = "float"
    as_list = isinstance(etype, list)
    types = etype if as_list else [etype]
    if not types or any(t not in EMBEDDING_TYPES for t in types):
        raise RequestError(
            422, f"`embedding_type` must be one of {', '.join(EMBEDDING_TYPES)} (or a list)."
        )
    return _Request(model, texts, task, dims, normalized, list(types), as_list, late, truncate)


def _flag(doc: dict[str, Any], name: str, default: bool) -> bool:
    value = doc.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise RequestError(422, f"`{name}` must be true or false, got {value!r}.")
    return value


# -- the app -----------------------------------------------------------------------------


def create_app(
    embedder_or_backend: Any,
    api_key: str | None = None,
    *,
    model_name: str | None = None,
    aliases: Sequence[str] = V3_ALIASES,
    max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
    max_queue: int = DEFAULT_MAX_QUEUE,
    max_wait: float = DEFAULT_MAX_WAIT,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Any:
    """A FastAPI app serving the Jina embeddings API on a local model.

    Args:
        embedder_or_backend: A local :class:`~jina_v3.Embedder` or its ``LocalBackend``.
        api_key: When set, requests need ``Authorization: Bearer <api_key>`` (else 401).
        model_name: Name reported and accepted as `model` (default: the checkpoint's name).
        aliases: Further accepted `model` names (by default the hosted v3 names, so clients
            of the hosted API work unchanged).
        max_batch_tokens: Token budget of one merged batch.
        max_queue: Requests waiting at most; more are answered 429 with ``Retry-After``.
        max_wait: Longest wait in seconds for concurrent requests to join a batch (see
            :class:`DynamicBatcher`).
        max_body_bytes: Larger bodies are answered 413.

    Returns:
        A ``fastapi.FastAPI`` app; run it with uvicorn (``jina-v3 serve`` does).

    Limits follow the hosted API: 2048 inputs per request (400), inputs over the context
    without ``truncate`` (400, naming the input), a late-chunked request whose inputs
    together exceed the context (400). With ``truncate: true`` such a late-chunked request
    is embedded with the local backend's overlapping windows instead, so no text is dropped.
    """
    fastapi = _require_fastapi()
    from fastapi.responses import JSONResponse, Response

    backend = getattr(embedder_or_backend, "backend", embedder_or_backend)
    if getattr(backend, "kind", None) != "local":
        raise ConfigurationError("create_app needs a local embedder or backend (kind='local')")
    served = model_name or backend.model_name
    accepted = {served, *aliases}
    max_dims = int(backend.max_dimensions)
    max_tokens = int(getattr(backend, "max_tokens", _wire.MAX_LATE_CHUNKING_TOKENS + 2))
    batcher = DynamicBatcher(
        backend, max_batch_tokens=max_batch_tokens, max_queue=max_queue, max_wait=max_wait
    )
    expected = f"Bearer {api_key}".encode() if api_key else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        batcher.start()
        logger.info("jina-v3 server: serving %s (%d dimensions)", served, max_dims)
        try:
            yield
        finally:
            # uvicorn has waited for in-flight requests; finish anything still queued
            await asyncio.to_thread(batcher.stop, 60.0)

    app = fastapi.FastAPI(
        title="jina-v3 embeddings server", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.batcher = batcher

    def error(status: int, detail: str, headers: dict[str, str] | None = None) -> Any:
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    def authorized(request: Any) -> bool:
        if expected is None:
            return True
        got = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(got, expected)

    def unauthorized() -> Any:
        return error(
            401,
            "Missing or invalid API key: send the header 'Authorization: Bearer <key>'.",
            {"WWW-Authenticate": "Bearer"},
        )

    async def read_body(request: Any) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            raise RequestError(413, f"Request body over the limit of {max_body_bytes} bytes.")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise RequestError(413, f"Request body over the limit of {max_body_bytes} bytes.")
            chunks.append(chunk)
        return b"".join(chunks)

    def count(req: _Request) -> tuple[list[int], int]:
        """Tokens per input (late chunking: of the joined document) and their billed sum."""
        texts = [" ".join(req.texts)] if req.late_chunking else req.texts
        if hasattr(backend, "count_tokens"):
            counts = backend.count_tokens(texts, req.task)
        else:
            counts = _wire.TokenCounter(None).count(texts, req.task)
        return counts, sum(min(n, max_tokens) if req.truncate else n for n in counts)

    def render(req: _Request, pooled: Any, tokens: int) -> bytes:
        # whole matrices to lists at once: much faster than row by row
        columns = []
        for t in req.embedding_types:
            e = finish(pooled, req.dimensions, req.normalized, t)
            columns.append(to_wire(e, t))
        data = []
        for i in range(len(req.texts)):
            if req.types_as_list:
                emb: Any = {t: c[i] for t, c in zip(req.embedding_types, columns, strict=True)}
            else:
                emb = columns[0][i]
            data.append({"object": "embedding", "index": i, "embedding": emb})
        return _wire.dumps(
            {
                "model": served,
                "object": "list",
                "usage": {"total_tokens": tokens, "prompt_tokens": tokens},
                "data": data,
            }
        )

    async def embeddings(request: Any) -> Any:
        if not authorized(request):
            return unauthorized()
        try:
            body = await read_body(request)
            try:
                doc = _wire.loads(body)
            except ValueError as exc:
                raise RequestError(400, f"The request body is not valid JSON ({exc}).") from None
            req = _parse_request(doc, served=served, aliases=accepted, max_dims=max_dims)
            big = sum(len(t) for t in req.texts) > 65536
            counts, tokens = await asyncio.to_thread(count, req) if big else count(req)
            if not req.truncate:
                for i, n in enumerate(counts):
                    if n > max_tokens:
                        if req.late_chunking:
                            raise RequestError(
                                400,
                                f"Late chunking: the {len(req.texts)} inputs form one sequence "
                                f"of {n} tokens, too long: the limit is {max_tokens} tokens per "
                                "request. Send fewer chunks per request.",
                            )
                        raise RequestError(
                            400,
                            f"Input {i} has {n} tokens, over the model's limit of {max_tokens} "
                            'tokens. Shorten it, or send "truncate": true to cut it.',
                        )
            try:
                future = batcher.submit(
                    req.texts, task=req.task, late_chunking=req.late_chunking, tokens=tokens
                )
            except QueueFullError as exc:
                raise RequestError(
                    429,
                    "The server is at capacity; retry after the time in Retry-After.",
                    {"Retry-After": str(exc.retry_after)},
                ) from None
            try:
                result = await future
            except (ConfigurationError, ValueError) as exc:
                raise RequestError(400, str(exc)) from None
            pooled = result
            n_values = len(req.texts) * (req.dimensions or max_dims)
            if n_values > 200_000:  # keep the loop free while a large answer is encoded
                content = await asyncio.to_thread(render, req, pooled, tokens)
            else:
                content = render(req, pooled, tokens)
        except RequestError as exc:
            return error(exc.status, exc.detail, exc.headers)
        except Exception:
            logger.exception("jina-v3 server: request failed")
            return error(500, "Internal server error while embedding; see the server log.")
        return Response(content, media_type="application/json")

    async def models(request: Any) -> Any:
        if not authorized(request):
            return unauthorized()
        entry = {
            "id": served,
            "object": "model",
            "owned_by": "local",
            "dimensions": max_dims,
            "max_tokens": max_tokens,
            "tasks": list(TASKS),
            "aliases": sorted(accepted - {served}),
        }
        return JSONResponse({"object": "list", "data": [entry]})

    async def healthz(request: Any) -> Any:
        return JSONResponse(
            {
                "status": "ok",
                "model": served,
                "queued": batcher.queued,
                "in_flight": batcher.in_flight,
                "batches": batcher.batches,
                "requests": batcher.jobs,
            }
        )

    # plain Starlette routes: the raw request, no per-call dependency resolution
    app.add_route("/v1/embeddings", embeddings, methods=["POST"])
    app.add_route("/v1/models", models, methods=["GET"])
    app.add_route("/healthz", healthz, methods=["GET"])

    # FastAPI's own errors (404, 405) in the API's shape too
    from starlette.exceptions import HTTPException

    @app.exception_handler(HTTPException)
    async def http_error(request: Any, exc: HTTPException) -> Any:
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    return app


def serve(
    embedder_or_backend: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    api_key: str | None = None,
    log_level: str = "info",
    **options: Any,
) -> None:
    """Run :func:`create_app` under uvicorn until SIGINT/SIGTERM (in-flight requests finish)."""
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError(
            "The server needs fastapi and uvicorn: pip install 'jina-v3-connectors[server]'"
        ) from exc
    if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        logger.warning(
            "jina-v3 server: listening on %s without an API key; anyone who can reach it "
            "can use it (pass --api-key-env)",
            host,
        )
    app = create_app(embedder_or_backend, api_key, **options)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=60,
        access_log=False,
    )
