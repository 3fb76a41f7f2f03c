"""A self-hosted server speaking the Jina embeddings API, on the local backend.

``POST /v1/embeddings`` takes and returns exactly the hosted API's JSON, so clients written for
``https://api.jina.ai`` (jina-haystack, LlamaIndex, LangChain, curl, this package's own
``Embedder(backend="api")``) work unchanged against ``http://127.0.0.1:8080``; OpenAI-style
clients pick the task by model name or text prefix, and TEI clients use ``POST /embed``
(:mod:`jina_v3.server.dialects`). The Jina request and response formats live in
:mod:`jina_v3.remote.wire`; concurrent requests are merged by the
:class:`~jina_v3.server.batcher.DynamicBatcher`. Dimensions, normalisation and the embedding type
are applied per request after pooling, so requests that differ only in those share a batch.

Connections are bounded (:class:`ConnectionLimits`, and `body_timeout`): a client gets
`header_timeout` seconds to send its headers and `body_timeout` for its body, idle keep-alive
connections close after `keep_alive_timeout`, and at most `max_connections` are served at
once (then 503).

Example:
    >>> from jina_v3 import Embedder
    >>> from jina_v3.server import create_app
    >>> app = create_app(Embedder("path/to/jina-embeddings-v3"), api_key="secret")
    >>> # uvicorn.run(app, host="127.0.0.1", port=8080)   or:  jina-v3 serve --model PATH
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jina_v3.errors import ConfigurationError, MissingDependencyError, QueueFullError
from jina_v3.remote import wire
from jina_v3.remote.exchange import TokenCounter
from jina_v3.remote.wire import EmbeddingRequest, RequestError
from jina_v3.server import dialects
from jina_v3.server.batcher import (
    DEFAULT_MAX_BATCH_TOKENS,
    DEFAULT_MAX_QUEUE,
    DEFAULT_MAX_WAIT,
    DynamicBatcher,
)
from jina_v3.server.dialects import DEFAULT_TASK_MODELS, TaskRouting
from jina_v3.tasks import TASKS

__all__ = [
    "ConnectionLimits",
    "DynamicBatcher",
    "QueueFullError",
    "TaskRouting",
    "create_app",
    "key_matches",
    "require_key",
    "serve",
    "uvicorn_config",
]

logger = logging.getLogger("jina_v3.server")

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 60.0
DEFAULT_KEEP_ALIVE_TIMEOUT = 5
DEFAULT_MAX_CONNECTIONS = 1024
#: Model names clients of the hosted API send; accepted as the served model.
V3_ALIASES = wire.V3_NAMES
_NEEDS = "The server needs fastapi and uvicorn: pip install 'jina-v3-connectors[server]'"


@dataclass(frozen=True)
class _Dialect:
    """One request language: its parser, its answer, its error body."""

    parse: Callable[[Any], EmbeddingRequest]
    render: Callable[[EmbeddingRequest, np.ndarray, int], bytes]
    error: Callable[[int, str], dict[str, Any]]


class _Service:
    """The app's state and its handlers."""

    def __init__(
        self,
        backend: Any,
        api_key: str | None,
        served: str,
        aliases: set[str],
        routing: TaskRouting,
        batcher: DynamicBatcher,
        max_body_bytes: int,
        body_timeout: float,
    ) -> None:
        self.backend, self.served, self.routing, self.batcher = backend, served, routing, batcher
        self.names = dialects.served_names(served, aliases, routing)
        self.max_dims = int(backend.max_dimensions)
        self.max_tokens = int(getattr(backend, "max_tokens", wire.MAX_TOKENS))
        self.max_body_bytes, self.body_timeout = max_body_bytes, body_timeout
        self.api_key = api_key
        self.jina = _Dialect(self.parse_jina, self.render_jina, _detail)
        self.tei = _Dialect(self.parse_tei, self.render_tei, dialects.tei_error)

    def authorized(self, request: Any) -> bool:
        return key_matches(request.headers.get("authorization"), self.api_key)

    async def read_body(self, request: Any) -> bytes:
        too_large = RequestError(
            413, f"Request body over the limit of {self.max_body_bytes} bytes."
        )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise too_large
        chunks, size = [], 0
        async with asyncio.timeout(self.body_timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise too_large
                chunks.append(chunk)
        return b"".join(chunks)

    def count(self, req: EmbeddingRequest) -> tuple[list[int], int]:
        """Tokens per input (late chunking: of the joined document) and their billed sum."""
        texts = [" ".join(req.texts)] if req.late_chunking else req.texts
        if hasattr(self.backend, "count_tokens"):
            counts = self.backend.count_tokens(texts, req.task)
        else:
            counts = TokenCounter(None).count(texts, req.task)
        return counts, sum(min(n, self.max_tokens) if req.truncate else n for n in counts)

    # -- the dialects -------------------------------------------------------------------------

    def parse_jina(self, doc: Any) -> EmbeddingRequest:
        """The Jina API's body (also what OpenAI-style clients send), its task settled."""
        if isinstance(doc, dict):
            dialects.check_model(doc.get("model"), self.names)
        aliases = set(self.names)
        req = wire.parse_request(doc, served=self.served, aliases=aliases, max_dims=self.max_dims)
        dialects.route_task(req, self.routing)
        return req

    def render_jina(self, req: EmbeddingRequest, pooled: np.ndarray, tokens: int) -> bytes:
        # the model name the client sent, as the hosted API answers (its own checks expect it)
        return wire.render_response(req, pooled, tokens, req.model)

    def parse_tei(self, doc: Any) -> EmbeddingRequest:
        req = dialects.parse_tei(doc, served=self.served, max_dims=self.max_dims)
        dialects.route_task(req, self.routing, field_name="prompt_name")
        return req

    def render_tei(self, req: EmbeddingRequest, pooled: np.ndarray, tokens: int) -> bytes:
        return dialects.render_tei(req, pooled)

    # -- one pipeline for every dialect ----------------------------------------------------------

    async def answer(self, request: Any, dialect: _Dialect) -> bytes:
        """The 200 body for a request, or a RequestError."""
        body = await self.read_body(request)
        try:
            doc = wire.loads(body)
        except ValueError as exc:
            raise RequestError(400, f"The request body is not valid JSON ({exc}).") from None
        req = dialect.parse(doc)
        big = sum(len(t) for t in req.texts) > 65536  # keep the loop free while counting
        counts, tokens = await asyncio.to_thread(self.count, req) if big else self.count(req)
        wire.check_lengths(req, counts, self.max_tokens)
        try:
            future = self.batcher.submit(
                req.texts, task=req.task, late_chunking=req.late_chunking, tokens=tokens
            )
        except QueueFullError as exc:
            raise RequestError(
                429,
                "The server is at capacity; retry after the time in Retry-After.",
                {"Retry-After": str(exc.retry_after)},
            ) from None
        try:
            pooled = await future
        except (ConfigurationError, ValueError) as exc:
            raise RequestError(400, str(exc)) from None
        render = (req, pooled, tokens)
        if len(req.texts) * (req.dimensions or self.max_dims) > 200_000:  # a large answer
            return await asyncio.to_thread(dialect.render, *render)
        return dialect.render(*render)

    def route(self, dialect: _Dialect) -> Callable[[Any], Awaitable[Any]]:
        """The embeddings handler of one dialect."""

        async def embeddings(request: Any) -> Any:
            from starlette.requests import ClientDisconnect
            from starlette.responses import Response

            def error(status: int, detail: str, headers: dict[str, str] | None = None) -> Any:
                return _json(dialect.error(status, detail), status, headers)

            if not self.authorized(request):
                return error(401, _UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
            try:
                content = await self.answer(request, dialect)
            except RequestError as exc:
                return error(exc.status, exc.detail, exc.headers)
            except TimeoutError:
                detail = f"The request body did not arrive within {self.body_timeout}s."
                return error(408, detail, {"Connection": "close"})
            except ClientDisconnect:
                logger.info(
                    "jina-v3 server: %s disconnected before its request was read", _peer(request)
                )
                return Response(status_code=400)
            except Exception:
                logger.exception("jina-v3 server: request failed")
                return error(500, "Internal server error while embedding; see the server log.")
            return Response(content, media_type="application/json")

        return embeddings

    async def models(self, request: Any) -> Any:
        if not self.authorized(request):
            return _unauthorized()
        entry = {
            "id": self.served,
            "object": "model",
            "owned_by": "local",
            "dimensions": self.max_dims,
            "max_tokens": self.max_tokens,
            "tasks": list(TASKS),
            "aliases": sorted(set(self.names) - {self.served} - set(self.routing.models)),
        }
        # the names that carry a task, as models of their own (OpenAI-style clients list them)
        routed = [
            {**entry, "id": name, "task": task, "tasks": [task], "aliases": []}
            for name, task in sorted(self.routing.models.items())
        ]
        return _json({"object": "list", "data": [entry, *routed]})

    async def info(self, request: Any) -> Any:
        if not self.authorized(request):
            return _json(dialects.tei_error(401, _UNAUTHORIZED), 401)
        dtype = str(getattr(self.backend, "dtype", "float32")).removeprefix("torch.")
        return _json(
            dialects.tei_info(
                self.served,
                max_tokens=self.max_tokens,
                max_batch_tokens=self.batcher.max_batch_tokens,
                dtype=dtype,
            )
        )

    async def health(self, request: Any) -> Any:
        """TEI's probe: 200 with an empty body while requests are served, else 503."""
        from starlette.responses import Response

        if self.batcher.running:
            return Response(status_code=200)
        detail = "The server is not embedding (starting or shutting down)."
        return _json(dialects.tei_error(503, detail), 503)

    async def healthz(self, request: Any) -> Any:
        b = self.batcher
        return _json(
            {
                "status": "ok",
                "model": self.served,
                "queued": b.queued,
                "in_flight": b.in_flight,
                "batches": b.batches,
                "requests": b.jobs,
            }
        )


def _json(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse(doc, status_code=status, headers=headers)


def _detail(status: int, detail: str) -> dict[str, Any]:
    """The Jina API's error body, with OpenAI's ``error`` beside it (the SDKs show its message)."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"detail": detail, "error": {"message": detail, "type": kind, "code": status}}


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> Any:
    return _json(_detail(status, detail), status, headers)


_UNAUTHORIZED = "Missing or invalid API key: send the header 'Authorization: Bearer <key>'."


def _unauthorized() -> Any:
    return _error(401, _UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})


def key_matches(authorization: str | None, api_key: str | None) -> bool:
    """Whether an ``Authorization`` header carries `api_key` as a Bearer token (compared in
    constant time); without a key every request does. The one key check of `jina-v3 serve`
    and `jina-v3 mcp --http`."""
    if not api_key:
        return True
    return hmac.compare_digest((authorization or "").encode(), f"Bearer {api_key}".encode())


def require_key(app: Any, api_key: str) -> Any:
    """`app` (any ASGI app) behind :func:`key_matches`: an HTTP request without
    ``Authorization: Bearer <api_key>`` is answered 401 in the API's error shape, before the
    app sees it; other scopes (lifespan) pass through."""

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or ())
            authorization = headers.get(b"authorization", b"").decode("latin-1")
            if not key_matches(authorization, api_key):
                await _unauthorized()(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded


def _peer(request: Any) -> str:
    client = request.client
    return f"{client.host}:{client.port}" if client else "a client"


def create_app(
    embedder_or_backend: Any,
    api_key: str | None = None,
    *,
    model_name: str | None = None,
    aliases: Sequence[str] = V3_ALIASES,
    task_models: Mapping[str, str] = DEFAULT_TASK_MODELS,
    task_prefixes: Mapping[str, str] | None = None,
    max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
    max_queue: int = DEFAULT_MAX_QUEUE,
    max_wait: float = DEFAULT_MAX_WAIT,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> Any:
    """A FastAPI app serving the Jina embeddings API on a local model.

    Args:
        embedder_or_backend: A local :class:`~jina_v3.Embedder` or its ``LocalBackend``.
        api_key: When set, requests need ``Authorization: Bearer <api_key>`` (else 401).
        model_name: Name reported and accepted as `model` (default: the checkpoint's name).
        aliases: Further accepted `model` names (by default the hosted v3 names, so clients
            of the hosted API work unchanged).
        task_models: Accepted `model` names that select a task, for clients that send only
            `model` and `input` (default ``jina-embeddings-v3-query`` / ``-passage`` /
            ``-separation`` / ``-classification`` / ``-text-matching``).
        task_prefixes: Text prefix -> task, for platforms that can only prepend text (default
            none); the prefix is removed before embedding (see :class:`TaskRouting`).
        max_batch_tokens: Token budget of one merged batch.
        max_queue: Requests waiting at most; more are answered 429 with ``Retry-After``.
        max_wait: Longest wait in seconds for concurrent requests to join a batch (see
            :class:`DynamicBatcher`).
        max_body_bytes: Larger bodies are answered 413.
        body_timeout: Seconds a client has to send its whole body (else 408).

    Returns:
        A ``fastapi.FastAPI`` app; run it with :func:`serve` (``jina-v3 serve`` does).

    Limits follow the hosted API: 2048 inputs per request (400), inputs over the context
    without ``truncate`` (400, naming the input), a late-chunked request whose inputs
    together exceed the context (400). With ``truncate: true`` such a late-chunked request
    is embedded with the local backend's overlapping windows instead, so no text is dropped.

    Routes: ``POST /v1/embeddings`` and ``POST /embeddings`` (the Jina API, answered with
    the `model` the client sent; OpenAI-style clients too), ``POST /embed`` and ``POST /``
    (TEI, ``prompt_name`` selects the task), ``GET /info`` and ``GET /health`` (TEI),
    ``GET /v1/models``, ``GET /healthz``.

    Raises:
        ConfigurationError: No local backend, or a task model / prefix naming no task.
    """
    try:
        import fastapi
        from starlette.exceptions import HTTPException
    except ImportError as exc:
        raise MissingDependencyError(_NEEDS) from exc

    backend = getattr(embedder_or_backend, "backend", embedder_or_backend)
    if getattr(backend, "kind", None) != "local":
        raise ConfigurationError("create_app needs a local embedder or backend (kind='local')")
    served = model_name or backend.model_name
    routing = TaskRouting(task_models, task_prefixes or {})
    batcher = DynamicBatcher(
        backend, max_batch_tokens=max_batch_tokens, max_queue=max_queue, max_wait=max_wait
    )
    service = _Service(
        backend,
        api_key,
        served,
        {served, *aliases},
        routing,
        batcher,
        max_body_bytes,
        body_timeout,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        batcher.start()
        logger.info("jina-v3 server: serving %s (%d dimensions)", served, service.max_dims)
        try:
            yield
        finally:
            # uvicorn has waited for in-flight requests; finish anything still queued
            await asyncio.to_thread(batcher.stop, 60.0)

    app = fastapi.FastAPI(
        title="jina-v3 embeddings server", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.batcher = batcher
    # plain Starlette routes: the raw request, no per-call dependency resolution
    app.add_route("/v1/embeddings", service.route(service.jina), methods=["POST"])
    # clients given a base URL without /v1 (Dify's Jina plugin) post to base + /embeddings
    app.add_route("/embeddings", service.route(service.jina), methods=["POST"])
    app.add_route("/v1/models", service.models, methods=["GET"])
    # TEI serves its embeddings at /embed and at / (clients given only the base URL post there)
    app.add_route("/embed", service.route(service.tei), methods=["POST"])
    app.add_route("/", service.route(service.tei), methods=["POST"])
    app.add_route("/info", service.info, methods=["GET"])
    app.add_route("/health", service.health, methods=["GET"])
    app.add_route("/healthz", service.healthz, methods=["GET"])

    async def http_error(request: Any, exc: HTTPException) -> Any:
        # FastAPI's own errors (404, 405) in the API's shape too
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    app.add_exception_handler(HTTPException, http_error)
    return app


def _guarded(protocol: type, header_timeout: float) -> type:
    """`protocol` that closes a connection whose request headers take over `header_timeout`.

    uvicorn times out idle keep-alive connections but not a request that never finishes its
    headers; the timer runs from the connection (or the previous response) until the next
    request's headers are complete, which is when uvicorn starts a new request cycle.
    """

    class HeaderTimeout(protocol):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm(None)

        def on_response_complete(self) -> None:
            done = self.cycle
            super().on_response_complete()
            self._arm(done)

        def _arm(self, cycle: Any) -> None:
            if not self.transport.is_closing():
                self.loop.call_later(header_timeout, self._expire, cycle)

        def _expire(self, cycle: Any) -> None:
            if self.cycle is cycle and not self.transport.is_closing():
                logger.info(
                    "jina-v3 server: closed a connection that sent no complete request "
                    "headers within %ss",
                    header_timeout,
                )
                self.transport.close()

    return HeaderTimeout


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a client may take, and how many are served at once (see :func:`serve`)."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    keep_alive_timeout: int = DEFAULT_KEEP_ALIVE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigurationError(f"{name} must be a positive number, got {value!r}")


def uvicorn_config(app: Any, limits: ConnectionLimits | None = None, **config: Any) -> Any:
    """A ``uvicorn.Config`` for `app` with the server's connection `limits`."""
    try:
        import uvicorn
        from uvicorn.protocols.http.h11_impl import H11Protocol
    except ImportError as exc:
        raise MissingDependencyError(_NEEDS) from exc
    limits = limits or ConnectionLimits()
    return uvicorn.Config(
        app,
        http=_guarded(H11Protocol, limits.header_timeout),
        timeout_keep_alive=limits.keep_alive_timeout,
        limit_concurrency=limits.max_connections,
        timeout_graceful_shutdown=60,
        access_log=False,
        **config,
    )


def serve(
    embedder_or_backend: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    api_key: str | None = None,
    log_level: str = "info",
    limits: ConnectionLimits | None = None,
    **options: Any,
) -> None:
    """Run :func:`create_app` under uvicorn until SIGINT/SIGTERM (in-flight requests finish).

    Args:
        limits: Connection limits: ``header_timeout`` (seconds a client has to send a
            request's headers, default 10), ``keep_alive_timeout`` (seconds an idle
            connection stays open, default 5), ``max_connections`` (served at once; requests
            beyond get 503, default 1024).
        options: :func:`create_app`'s options (``body_timeout``, ``max_queue``, ...).
    """
    if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        logger.warning(
            "jina-v3 server: listening on %s without an API key; anyone who can reach it "
            "can use it (pass --api-key-env)",
            host,
        )
    app = create_app(embedder_or_backend, api_key, **options)
    config = uvicorn_config(app, limits, host=host, port=port, log_level=log_level)
    import uvicorn  # present: uvicorn_config has imported it

    uvicorn.Server(config).run()
