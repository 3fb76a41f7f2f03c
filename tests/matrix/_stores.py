"""The stores of the matrix: every embedded engine, the Pinecone-API test server (driven by
the real pinecone SDK) and the Milvus server, each reachable the two ways a user reaches it:
a store URI (the CLI's ``--store``) and a store object (the library, the frameworks).

A store names its collections by a :class:`Location` (URI and collection); every location is
its own collection, so one test's writes never reach another's cells. Adding a store is one
entry in :data:`STORES`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.connectors import _milvus_pinecone as servers
from tests.matrix._cli import environment


@dataclass(frozen=True)
class Location:
    """Where one collection lives: what `jina-v3 --store URI --collection NAME` names."""

    store: str  # the Store's name
    uri: str
    collection: str


@dataclass(frozen=True)
class HaystackStore:
    """Haystack's own document store on an engine, its embedding retriever, and how to read
    the retriever's score as a cosine."""

    document_store: Any
    retriever: type
    to_cosine: Callable[[float], float]

    def close(self) -> None:
        # Qdrant local mode holds its folder until the client closes
        client = getattr(self.document_store, "_client", None)
        if client is not None and hasattr(client, "close"):
            client.close()


@dataclass(frozen=True)
class Store:
    """One engine, as the matrix reaches it."""

    name: str
    #: `(name, root) -> (uri, collection)`: a location of its own for `name`.
    place: Callable[[str, Path], tuple[str, str]]
    #: `(location, **options) -> store object` (options: constructor options, a funnel).
    make: Callable[..., Any]
    keyword_channel: bool = True
    funnel: bool = True
    #: The Python module the engine needs (the store's cells are skipped without it).
    needs: str = ""
    #: Environment the store's URI needs (Pinecone: the key and the test server).
    env: Callable[[], dict[str, str]] = dict
    #: `(location, dimensions) -> HaystackStore` on this engine, where Haystack has one.
    haystack: Callable[[Location, int], HaystackStore] | None = None
    #: Copies onto and from this store pair it with these stores only (None: every store).
    copy_partners: tuple[str, ...] | None = None
    marks: tuple[Any, ...] = field(default=())

    def location(self, name: str, root: Path) -> Location:
        uri, collection = self.place(name, root)
        return Location(self.name, uri, collection)

    def available(self) -> bool:
        return not self.needs or importlib.util.find_spec(self.needs) is not None

    @contextlib.contextmanager
    def opened(self, location: Location, **options: Any) -> Iterator[Any]:
        """The store object of `location` (as its URI opens it, unless `options`), closed
        after the block."""
        with environment(Path.cwd(), self.env()):
            if options:
                store = self.make(location, **options)
            else:
                from jina_v3.connectors.uris import open_store

                store = open_store(location.uri, location.collection)
            try:
                yield store
            finally:
                store.close()

    @contextlib.contextmanager
    def haystack_opened(self, location: Location, dimensions: int) -> Iterator[HaystackStore]:
        """Haystack's document store of `location`, closed after the block."""
        assert self.haystack is not None
        with environment(Path.cwd(), self.env()):
            haystack = self.haystack(location, dimensions)
            try:
                yield haystack
            finally:
                haystack.close()


def _slug(name: str) -> str:
    """A collection name every engine takes (Milvus: letters, digits and underscores)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


# -- Qdrant local mode (on disk, tmpfs): one folder per location --------------------------------


def _qdrant_place(name: str, root: Path) -> tuple[str, str]:
    # local mode loads every collection of its folder on open: one folder each keeps it fast
    return f"qdrant:{root / 'qdrant' / _slug(name)}", "documents"


def _qdrant_make(location: Location, **options: Any) -> Any:
    from jina_v3.connectors.qdrant import QdrantStore

    return QdrantStore(location.collection, path=location.uri.partition(":")[2], **options)


def _qdrant_haystack(location: Location, dimensions: int) -> HaystackStore:
    from haystack_integrations.components.retrievers.qdrant import QdrantEmbeddingRetriever
    from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

    store = QdrantDocumentStore(
        path=location.uri.partition(":")[2],
        index=location.collection,
        embedding_dim=dimensions,
        similarity="cosine",
        progress_bar=False,
    )
    return HaystackStore(store, QdrantEmbeddingRetriever, lambda score: score)


# -- Qdrant Edge ---------------------------------------------------------------------------------


def _edge_place(name: str, root: Path) -> tuple[str, str]:
    return f"qdrant-edge:{root / 'edge' / _slug(name)}", "documents"


def _edge_make(location: Location, **options: Any) -> Any:
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

    return QdrantEdgeStore(location.collection, path=location.uri.partition(":")[2], **options)


# -- Milvus Lite: one database (each one is a server process), a collection per location ---------


def _milvus_lite_place(name: str, root: Path) -> tuple[str, str]:
    return f"milvus-lite:{root / 'milvus.db'}", _slug(name)


def _milvus_make(location: Location, **options: Any) -> Any:
    from jina_v3.connectors.milvus import MilvusStore

    return MilvusStore(location.collection, uri=location.uri.partition(":")[2], **options)


def _milvus_haystack(location: Location, dimensions: int) -> HaystackStore:
    from milvus_haystack import MilvusDocumentStore, MilvusEmbeddingRetriever

    store = MilvusDocumentStore(
        connection_args={"uri": location.uri.partition(":")[2]},
        collection_name=location.collection,
        consistency_level="Strong",
        index_params={"metric_type": "COSINE", "index_type": "AUTOINDEX", "params": {}},
    )
    return HaystackStore(store, MilvusEmbeddingRetriever, lambda score: 2 * score - 1)


# -- the servers: started once per test process (tests/connectors/_milvus_pinecone.py) -----------


def _pinecone_place(name: str, root: Path) -> tuple[str, str]:
    # the signature is kept in the index's tags: an index per location
    index = ("m-" + re.sub(r"[^a-z0-9-]", "-", name.lower()))[:45]
    return f"pinecone:{index}", "documents"


def _pinecone_env() -> dict[str, str]:
    server = servers.pinecone_server()
    return {"PINECONE_API_KEY": server.api_key, "PINECONE_CONTROLLER_HOST": server.url}


def _pinecone_make(location: Location, **options: Any) -> Any:
    from jina_v3.connectors.pinecone import PineconeStore

    server = servers.pinecone_server()
    return PineconeStore(
        location.uri.partition(":")[2],
        api_key=server.api_key,
        controller_host=server.url,
        **options,
    )


def _pinecone_haystack(location: Location, dimensions: int) -> HaystackStore:
    from haystack_integrations.components.retrievers.pinecone import PineconeEmbeddingRetriever
    from haystack_integrations.document_stores.pinecone import PineconeDocumentStore

    store = PineconeDocumentStore(
        index=location.uri.partition(":")[2],
        namespace="",  # the default one: what the URI with the default collection names
        dimension=dimensions,
        show_progress=False,
    )
    return HaystackStore(store, PineconeEmbeddingRetriever, lambda score: score)


def _milvus_server_place(name: str, root: Path) -> tuple[str, str]:
    from tests._milvus_server import shared_server

    # the server outlives the module: the module's own prefix keeps its names apart
    return f"milvus:{shared_server().uri}", f"m_{root.name[-8:]}_{_slug(name)}"


def _milvus_server_available() -> bool:
    from tests._milvus_server import milvus_server_command

    return milvus_server_command() is not None


STORES: dict[str, Store] = {
    store.name: store
    for store in (
        Store(
            "qdrant", _qdrant_place, _qdrant_make, needs="qdrant_client", haystack=_qdrant_haystack
        ),
        Store("qdrant-edge", _edge_place, _edge_make, needs="qdrant_edge"),
        Store(
            "milvus-lite",
            _milvus_lite_place,
            _milvus_make,
            needs="milvus_lite",
            haystack=_milvus_haystack,
        ),
        Store(
            "pinecone",
            _pinecone_place,
            _pinecone_make,
            funnel=False,  # one dense vector per record
            needs="pinecone",
            env=_pinecone_env,
            haystack=_pinecone_haystack,
        ),
        Store(
            "milvus-server",
            _milvus_server_place,
            _milvus_make,
            keyword_channel=False,  # BM25 functions need Milvus 2.5; the tests run 2.3.5
            funnel=False,  # Milvus 2.3 allows one vector field
            needs="pymilvus",
            copy_partners=("qdrant-edge",),  # each collection costs the server seconds to load
            # a server process and slow first loads: with the rest of the integration tests
            marks=(pytest.mark.integration,),
        ),
    )
}


def usable(name: str) -> bool:
    store = STORES[name]
    if name == "milvus-server":
        return store.available() and _milvus_server_available()
    return store.available()
