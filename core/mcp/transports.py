"""The MCP server (the SDK's) over the tools, and the two ways agents reach it: stdio, which
desktop agents start as a child process, and streamable HTTP for remote agents.

On stdio, stdout carries protocol messages only: :func:`protocol_stdout` keeps a private copy
of it for the wire and points the process's stdout at stderr, so a log line, a progress bar,
a warning, a C library or a child process can never write into the protocol.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

from jina_v3.errors import ConfigurationError

__all__ = ["build_server", "listen", "protocol_stdout", "run_http", "run_stdio"]

#: Where the streamable HTTP endpoint is served (the SDK's default path).
HTTP_PATH = "/mcp"


def build_server(tools: Any) -> Any:
    """The SDK's low-level server answering ``tools/list`` and ``tools/call`` with `tools`
    (a :class:`~jina_v3.mcp.tools.CollectionTools`)."""
    from mcp.server.lowlevel import Server
    from mcp_types import ListToolsResult

    import jina_v3

    async def list_tools(ctx: Any, params: Any) -> Any:
        return ListToolsResult(tools=tools.listed())

    async def call_tool(ctx: Any, params: Any) -> Any:
        return await tools.call(params.name, params.arguments)

    writes = "" if tools.read_only else " and change it (add, delete)"
    return Server(
        "jina-v3",
        version=jina_v3.__version__,
        title="jina-v3 collections",
        instructions=(
            f"Retrieval over the collection {tools.collection!r}, embedded with "
            "jina-embeddings-v3: search it (search), see what it holds (list_documents, "
            f"info){writes}. Search before answering questions about its documents, and "
            "cite the sources of the passages you use."
        ),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


@contextlib.contextmanager
def protocol_stdout() -> Iterator[BinaryIO]:
    """The wire: a private copy of stdout for protocol messages, while the process's stdout
    (file descriptor 1) points at stderr; restored on exit."""
    sys.stdout.flush()
    saved = os.dup(1)
    wire = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        yield wire
    finally:
        with contextlib.suppress(OSError, ValueError):
            wire.close()
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def run_stdio(server: Any, wire: BinaryIO) -> None:
    """Serve one client over stdin and `wire` until it closes stdin."""
    import anyio
    from mcp.server.stdio import stdio_server

    async def main() -> None:
        stdout = anyio.wrap_file(io.TextIOWrapper(wire, encoding="utf-8"))
        async with stdio_server(stdout=stdout) as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to HOST:PORT (port 0: a free one), before the model loads, so a busy
    port fails at once with the flag that fixes it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); pass another --port "
            "(or --host)"
        ) from None
    return sock


def run_http(server: Any, sock: socket.socket, *, host: str, api_key: str | None) -> None:
    """Serve streamable HTTP on `sock` at :data:`HTTP_PATH` until SIGINT / SIGTERM, behind the
    key check of ``jina-v3 serve`` when there is a key, with its connection limits."""
    import uvicorn

    from jina_v3.server import require_key, uvicorn_config

    # the SDK checks Host and Origin headers on a loopback host (DNS rebinding)
    app = server.streamable_http_app(streamable_http_path=HTTP_PATH, host=host)
    if api_key:
        app = require_key(app, api_key)
    config = uvicorn_config(app, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])
