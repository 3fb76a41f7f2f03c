"""Store factories for the contract suite: Milvus Lite, the Milvus server, and Pinecone through
the real SDK against the Pinecone-API test server.

``FACTORIES[name](collection, tmp_path, **options) -> store``; an option the engine does not
have raises NotImplementedError (the contract test is then skipped). The Milvus server and the
Pinecone test server are started once per test process on first use; ``cleanup()`` stops them.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from pathlib import Path
from typing import Any

from tests._pinecone_server import PineconeTestServer

_lock = threading.Lock()
_pinecone: PineconeTestServer | None = None


def pinecone_server() -> PineconeTestServer:
    """The process-wide Pinecone-API test server (started on first use)."""
    global _pinecone
    with _lock:
        if _pinecone is None:
            _pinecone = PineconeTestServer().start()
        return _pinecone


def _need(module: str) -> None:
    import pytest

    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


def _milvus_lite(collection: str, tmp_path: Path, **options: Any) -> Any:
    _need("milvus_lite")
    from jina_v3.connectors.milvus import MilvusStore

    return MilvusStore(_milvus_name(collection), uri=str(tmp_path / "milvus.db"), **options)


def _milvus_server(collection: str, tmp_path: Path, **options: Any) -> Any:
    _need("pymilvus")
    import pytest

    from tests._milvus_server import milvus_server_command, shared_server

    if milvus_server_command() is None:
        pytest.skip("the `milvus` package (milvus-server) is not installed")
    if options.get("funnel_dimensions") is not None:
        raise NotImplementedError("Milvus 2.3 servers allow one vector field (no funnel)")
    from jina_v3.connectors.milvus import MilvusStore

    return MilvusStore(_milvus_name(collection), uri=shared_server().uri, **options)


def _pinecone_store(collection: str, tmp_path: Path, **options: Any) -> Any:
    _need("pinecone")
    if options.get("funnel_dimensions") is not None:
        raise NotImplementedError("Pinecone has one dense vector per record (no funnel)")
    options.pop("funnel_dimensions", None)
    from jina_v3.connectors.pinecone import PineconeStore

    server = pinecone_server()
    return PineconeStore(
        _pinecone_name(collection),
        api_key=server.api_key,
        controller_host=server.url,
        namespace="contract",
        **options,
    )


def _milvus_name(collection: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", collection)
    return name if name[:1].isalpha() or name[:1] == "_" else f"c_{name}"


def _pinecone_name(collection: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", collection.lower())[:45]


FACTORIES = {
    "milvus-lite": _milvus_lite,
    "milvus-server": _milvus_server,
    "pinecone": _pinecone_store,
}


def cleanup() -> None:
    """Stop the servers this module started (the Milvus server also stops at exit)."""
    global _pinecone
    with _lock:
        server, _pinecone = _pinecone, None
    if server is not None:
        server.stop()
    from tests import _milvus_server

    with _milvus_server._shared_lock:
        shared, _milvus_server._shared = _milvus_server._shared, None
    if shared is not None:
        shared.stop()  # its data directory goes at exit
