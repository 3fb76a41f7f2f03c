"""Store URIs: one string that names a vector store and where its data lives, for the CLI,
scripts and Ray workers (a URI pickles; an open client does not).

    qdrant-edge:./DIR         Qdrant Edge shards in DIR (embedded, persistent; the default)
    milvus-lite:./FILE.db     Milvus Lite (embedded, persistent)
    qdrant:./DIR              Qdrant local mode on disk
    qdrant::memory:           Qdrant local mode in memory
    qdrant:http://HOST:6333   a Qdrant server (key from QDRANT_API_KEY)
    milvus:http://HOST:19530  a Milvus server (token from MILVUS_TOKEN)
    pinecone:INDEX            a Pinecone index (key from PINECONE_API_KEY); collections are
                              its namespaces

A target that looks like a server where a folder or file is meant (``qdrant:localhost:6333``,
``qdrant://localhost:6333``, ``milvus-lite://m.db``) is refused with the right form: such a
string is almost always a server address, and taking it as a path would write a folder named
after it (or at the filesystem root). A folder whose name looks like one is ``./NAME``.

The default, Qdrant Edge in ``./.jina-v3``, was chosen by ``benchmarks/default_store.py``:
it inserts several times faster than Milvus Lite, answers in about a millisecond at 100k
points, and reopens at once (Milvus Lite indexes in the background and holds its data
directory until the process exits).
"""

from __future__ import annotations

import os
import re
from typing import Any

from jina_v3.errors import ConfigurationError

__all__ = [
    "DEFAULT_COLLECTION",
    "DEFAULT_STORE_URI",
    "URI_FORMS",
    "anchored",
    "list_collections",
    "open_store",
]

DEFAULT_STORE_URI = "qdrant-edge:./.jina-v3"
DEFAULT_COLLECTION = "documents"
URI_FORMS = (
    "qdrant-edge:./DIR",
    "milvus-lite:./FILE.db",
    "qdrant:./DIR",
    "qdrant::memory:",
    "qdrant:http://HOST:6333",
    "milvus:http://HOST:19530",
    "pinecone:INDEX",
)
_SERVER = ("http://", "https://")
#: A target that names a server: ``//HOST...``, ``SCHEME://HOST...`` (other than http(s)), or
#: a bare ``HOST:PORT`` (IPv6 in brackets); group "host" is the address without the scheme.
_SERVER_LIKE = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9+.-]*:)?//(?P<host>[^/]*)"
    r"|(?P<bare>(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d+)/?"
)


def open_store(
    uri: str = DEFAULT_STORE_URI, collection: str = DEFAULT_COLLECTION, *, named: str | None = None
) -> Any:
    """The store a URI names, for one collection (nothing is opened until first use).

    `named`: how an error names the URI (default ``--store 'URI'``, the CLI's flag; Python
    callers pass their parameter, e.g. ``store='URI'``).

    Raises:
        ConfigurationError: The URI is none of :data:`URI_FORMS`.
        MissingDependencyError: The engine's extra is not installed.
    """
    named = named or f"--store {uri!r}"
    scheme, _, target = uri.partition(":") if isinstance(uri, str) else ("", "", "")
    _refuse_server_as_path(scheme, target, named)
    if scheme == "qdrant-edge" and target:
        from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

        return QdrantEdgeStore(collection, path=target)
    if scheme == "milvus-lite" and target.endswith(".db"):
        from jina_v3.connectors.milvus import MilvusStore

        folder = os.path.dirname(target) or "."
        try:
            os.makedirs(folder, exist_ok=True)  # Milvus Lite wants its folder to exist
        except OSError as exc:
            raise ConfigurationError(
                f"{named}: cannot create the folder {folder!r} ({exc.strerror}); "
                "choose a writable path"
            ) from None
        return MilvusStore(collection, uri=target)
    if scheme == "milvus" and target.startswith(_SERVER):
        from jina_v3.connectors.milvus import MilvusStore

        return MilvusStore(collection, uri=target, token=os.environ.get("MILVUS_TOKEN"))
    if scheme == "qdrant" and target:
        from jina_v3.connectors.qdrant import QdrantStore

        if target == ":memory:":
            return QdrantStore(collection, location=":memory:")
        if target.startswith(_SERVER):
            key = os.environ.get("QDRANT_API_KEY")
            return QdrantStore(collection, url=target, **({"api_key": key} if key else {}))
        return QdrantStore(collection, path=target)
    if scheme == "pinecone" and target:
        from jina_v3.connectors.pinecone import PineconeStore

        namespace = "" if collection == DEFAULT_COLLECTION else collection
        return PineconeStore(target, namespace=namespace)
    raise ConfigurationError(
        f"{named} is not a store URI; use one of: {', '.join(URI_FORMS)} "
        f"(default {DEFAULT_STORE_URI})"
    )


def _refuse_server_as_path(scheme: str, target: str, named: str) -> None:
    """A ConfigurationError naming the right form when a target meant as a folder, a file or
    an index name looks like a server address."""
    if target.startswith(_SERVER) and scheme in ("qdrant", "milvus"):
        return  # a server, as it should be
    if target == ":memory:" and scheme == "qdrant":
        return
    found = _SERVER_LIKE.fullmatch(target)
    if found is None:
        return
    host = found.group("host") or found.group("bare")
    if scheme == "pinecone":
        fix = "pinecone:INDEX (the index name; the key in PINECONE_API_KEY)"
    elif scheme == "milvus-lite" and host.endswith(".db"):
        fix = f"milvus-lite:./{host} for a file here"
    elif scheme.startswith("milvus"):
        fix = f"milvus:http://{host} for a Milvus server, or milvus-lite:./FILE.db for a file"
    else:
        fix = f"qdrant:http://{host} for a Qdrant server, or {scheme}:./DIR for a local folder"
    raise ConfigurationError(f"{named} looks like a server address, not a local path; use {fix}")


def list_collections(uri: str = DEFAULT_STORE_URI) -> list[str]:
    """The jina_v3 collections under a store URI, by the names :func:`open_store` takes."""
    store = open_store(uri, DEFAULT_COLLECTION)
    try:
        names = store.collections()
    finally:
        store.close()
    if uri.startswith("pinecone:"):  # its namespaces; the default one is DEFAULT_COLLECTION
        names = [n or DEFAULT_COLLECTION for n in names]
    return sorted(names)


def anchored(uri: str, folder: str) -> str:
    """`uri` with a relative local path (an embedded store's folder or file) taken from
    `folder` rather than the working directory (a settings file's paths are relative to
    its folder); any other URI as it is."""
    scheme, _, target = uri.partition(":")
    local = scheme in ("qdrant-edge", "milvus-lite", "qdrant") and target not in ("", ":memory:")
    if not local or os.path.isabs(target) or target.startswith(_SERVER):
        return uri
    if _SERVER_LIKE.fullmatch(target):
        return uri  # a server address: open_store refuses it with the right form
    return f"{scheme}:{os.path.normpath(os.path.join(folder, target))}"
