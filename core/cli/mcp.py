"""`jina-v3 mcp`: a collection as tools for AI agents (MCP), over stdio or streamable HTTP.

Settings are those of ``index`` and ``search`` (flags, environment, ``jina-v3.toml``); the
collection's signature is checked before the server answers anything, and the model is
loaded once. The tools are in :mod:`jina_v3.mcp`.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from typing import Any

from jina_v3.cli.config import adopt_signature, settle
from jina_v3.errors import ConfigurationError

__all__ = ["add_mcp_command"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def run_mcp(args: argparse.Namespace) -> int:
    from jina_v3.connectors.base.common import require
    from jina_v3.mcp.transports import protocol_stdout

    require("mcp", "mcp", "mcp")  # the extra named, before anything loads
    # stdio: from here on only the protocol writes to stdout
    with contextlib.nullcontext(None) if args.http else protocol_stdout() as wire:
        return _serve(args, wire)


def _serve(args: argparse.Namespace, wire: Any) -> int:
    from jina_v3.cli.index import notes
    from jina_v3.cli.main import api_key_from_env
    from jina_v3.connectors.uris import open_store
    from jina_v3.mcp.schemas import MAX_K
    from jina_v3.mcp.shared import SerialStore
    from jina_v3.mcp.transports import build_server, listen, run_http, run_stdio

    notes(args)  # the library's notes (the weights' licence) on stderr
    if args.api_key_env and not args.http:
        raise ConfigurationError("--api-key-env goes with --http (stdio needs no key)")
    if not 1 <= args.k <= MAX_K:  # search's default k (a setting: the flag, or the file)
        origin = args.settings["k"].origin
        where = "" if origin == "flag" else f" (the k setting of {origin})"
        raise ConfigurationError(f"-k must be an integer from 1 to {MAX_K}, got {args.k}{where}")
    api_key = api_key_from_env(args)
    read_only = args.read_only if args.read_only is not None else bool(args.http and not api_key)
    sock = listen(args.host, args.port) if args.http else None  # before the model loads
    store = SerialStore(open_store(args.store, args.collection))
    batcher = None
    try:
        tools, batcher = _tools(args, store, read_only)
        server = build_server(tools)
        if batcher is not None:
            batcher.start()
        _announce(args, tools, sock, api_key)
        with _Terminated() as terminated:
            try:
                if sock is None:
                    run_stdio(server, wire)
                else:
                    run_http(server, sock, host=args.host, api_key=api_key)
            except KeyboardInterrupt:
                if not terminated.received:
                    raise  # Ctrl-C: exit 130
    finally:
        if batcher is not None:
            batcher.stop(60.0)  # what is queued finishes
        store.close()
        if sock is not None:
            sock.close()
    return 0


def _tools(args: argparse.Namespace, store: Any, read_only: bool) -> tuple[Any, Any]:
    """The tools over the collection, its signature checked, and the model's batcher (None
    for the API). A missing collection is an error when read-only (nothing to search), else
    created by the first ``add`` with these settings."""
    from jina_v3 import AsyncVectorIndex
    from jina_v3.cli.index import _no_collection, make_embedder
    from jina_v3.index.chunking import DEFAULT_CHUNK_TOKENS, TextChunker
    from jina_v3.index.store import check_signature
    from jina_v3.mcp.shared import shared_embedder
    from jina_v3.mcp.tools import CollectionTools

    signature = store.read_signature()  # a store that cannot be opened fails here
    if signature is None and (read_only or store.count()):  # nothing to search, or not ours
        raise _no_collection(args, store)
    adopt_signature(args, signature)  # dimensions, late chunking, keyword channel
    embedder = make_embedder(args)  # the one model load
    shared, batcher = shared_embedder(embedder)
    chunk_tokens = args.chunk_tokens or DEFAULT_CHUNK_TOKENS
    chunker = TextChunker.for_embedder(embedder, chunk_tokens, overlap=args.chunk_overlap or 0)
    index = AsyncVectorIndex(
        shared,
        store,
        dimensions=args.dimensions,
        late_chunking=bool(args.late_chunking),
        chunker=chunker,  # `jina-v3 index`'s
        embedding_type=getattr(args, "embedding_type", "float"),
        hybrid=bool(args.hybrid),
    )
    check_signature(index.signature, signature, collection=args.collection)
    tools = CollectionTools(
        index,
        store,
        store_uri=args.store,
        read_only=read_only,
        default_k=args.k,
        chunk_tokens=chunk_tokens,
    )
    return tools, batcher


def _announce(args: argparse.Namespace, tools: Any, sock: Any, api_key: str | None) -> None:
    """One line on stderr: what is served, where, and which tools; and what anyone who can
    reach an HTTP server without a key may do."""
    from jina_v3.mcp.transports import HTTP_PATH

    where = "stdio"
    if sock is not None:
        host, port = sock.getsockname()[:2]
        host = f"[{host}]" if ":" in host else host  # IPv6
        where = f"http://{host}:{port}{HTTP_PATH}" + (" (key required)" if api_key else "")
    kind = f"{tools.store.count()} points" + (", hybrid" if tools.hybrid else "")
    _say(args, f"serving {args.collection!r} of {args.store} ({kind}) on {where}; tools: "
         f"{', '.join(tools.specs)}")  # fmt: skip
    if not args.http or api_key:
        return
    if not tools.read_only:
        _say(args, "warning: no --api-key-env and --no-read-only: anyone who can reach it can "
             "add and delete documents")  # fmt: skip
    elif args.host not in LOOPBACK:
        _say(args, f"warning: listening on {args.host} without a key (pass --api-key-env)")


def _say(args: argparse.Namespace, line: str) -> None:
    print(f"jina-v3 {args.command}: {line}", file=sys.stderr, flush=True)


class _Terminated:
    """SIGTERM (how a client stops a stdio server; uvicorn raises it again after its graceful
    shutdown) ends serving as Ctrl-C does, so the store closes on the way out; `received`
    tells a stop asked for (exit 0) from a Ctrl-C (130)."""

    def __init__(self) -> None:
        self.received = False
        self._previous: Any = None

    def _stop(self, signum: int, frame: Any) -> None:
        self.received = True
        raise KeyboardInterrupt

    def __enter__(self) -> _Terminated:
        self._previous = signal.signal(signal.SIGTERM, self._stop)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGTERM, self._previous)


def add_mcp_command(commands: Any, base: argparse.ArgumentParser) -> None:
    """Add ``mcp`` to the CLI's subcommands."""
    from jina_v3.cli.index import _model_options, _store_options

    mcp = commands.add_parser(
        "mcp",
        parents=[base],
        help="serve a collection to AI agents (MCP): search, add, list_documents, delete, info",
    )
    _store_options(mcp)
    _model_options(mcp)
    mcp.add_argument(
        "--dimensions", type=int, default=None, help="Matryoshka size of a new collection"
    )
    mcp.add_argument(
        "--late-chunking",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a new collection is late-chunked (default: the collection's, else no)",
    )
    mcp.add_argument(
        "--hybrid",
        action=argparse.BooleanOptionalAction,  # as index's: --no-hybrid overrides the file
        default=None,
        help="a new collection gets keyword search (default: the collection's, else no)",
    )
    mcp.add_argument(
        "--chunk-tokens", type=int, default=None, metavar="N", help="add: chunk size (as index)"
    )
    mcp.add_argument(
        "--chunk-overlap", type=int, default=None, metavar="N", help="add: tokens chunks repeat"
    )
    mcp.add_argument("-k", type=int, default=None, help="search's default number of hits (5)")
    mcp.add_argument(
        "--read-only",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="offer only search, list_documents and info (default with --http and no key)",
    )
    mcp.add_argument(
        "--http", action="store_true", help="streamable HTTP at http://HOST:PORT/mcp, not stdio"
    )
    mcp.add_argument("--host", default="127.0.0.1", help="with --http (default: loopback only)")
    mcp.add_argument("--port", type=int, default=8000, help="with --http (0: a free port)")
    mcp.add_argument(
        "--api-key-env",
        metavar="NAME",
        default=None,
        help="with --http: the variable holding the key clients send as a Bearer token",
    )
    mcp.set_defaults(run=settle(run_mcp))
