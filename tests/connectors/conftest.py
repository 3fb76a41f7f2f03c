"""The store registry for the contract suite: one factory per engine, all run on real engines.

A factory is ``factory(collection: str, tmp_path: Path, **options) -> store``; options are
store constructor options such as ``funnel_dimensions``. A factory raises
``NotImplementedError`` for an option its engine does not have (the test is then skipped).
Factories for Milvus and Pinecone live in ``tests/connectors/_milvus_pinecone.py`` (with a
``cleanup()`` that stops their servers once, at the end of the session).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jina_v3.store import Document
from tests.connectors import _milvus_pinecone as milvus_pinecone

CORPUS = Path(__file__).parent.parent / "fixtures" / "corpus.json"
DIMS = 32  # the tiny checkpoint's full size is 64

StoreFactory = Callable[..., Any]


def _qdrant_memory(collection: str, tmp_path: Path, **options: Any) -> Any:
    from jina_v3.connectors.qdrant import QdrantStore

    return QdrantStore(collection, location=":memory:", **options)


def _qdrant_path(collection: str, tmp_path: Path, **options: Any) -> Any:
    from jina_v3.connectors.qdrant import QdrantStore

    return QdrantStore(collection, path=str(tmp_path / f"qdrant-{collection}"), **options)


def _qdrant_edge(collection: str, tmp_path: Path, **options: Any) -> Any:
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

    return QdrantEdgeStore(collection, path=tmp_path / "edge", **options)


FACTORIES: dict[str, StoreFactory] = {
    "qdrant-memory": _qdrant_memory,
    "qdrant-path": _qdrant_path,
    "qdrant-edge": _qdrant_edge,
}
_REQUIRES = {"qdrant-memory": "qdrant_client", "qdrant-path": "qdrant_client"}
_REQUIRES["qdrant-edge"] = "qdrant_edge"

FACTORIES.update(milvus_pinecone.FACTORIES)


@pytest.fixture(scope="session", autouse=True)
def _stop_servers() -> Iterator[None]:
    yield
    milvus_pinecone.cleanup()


@pytest.fixture
def fast_tmp(tmp_path: Path) -> Iterator[Path]:
    """A temporary directory on tmpfs when there is one (Qdrant path mode is slow on disk)."""
    shm = Path("/dev/shm")
    if shm.is_dir():
        path = Path(tempfile.mkdtemp(prefix="jv3-", dir=shm))
        yield path
        shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path


@pytest.fixture(params=sorted(FACTORIES))
def engine(request: pytest.FixtureRequest) -> str:
    name = request.param
    module = _REQUIRES.get(name)
    if module is not None:
        pytest.importorskip(module)
    return name


@pytest.fixture
def make_store(engine: str, fast_tmp: Path) -> Iterator[Callable[..., Any]]:
    """``make_store(collection=None, **options)``: a new store on the engine under test,
    on a fresh collection unless one is named; every store is closed after the test."""
    made: list[Any] = []

    def make(collection: str | None = None, **options: Any) -> Any:
        name = collection or f"t{uuid.uuid4().hex[:10]}"
        try:
            store = FACTORIES[engine](name, fast_tmp, **options)
        except NotImplementedError as exc:
            pytest.skip(f"{engine}: {exc}")
        made.append(store)
        return store

    yield make
    for store in reversed(made):
        try:
            store.close()
        except Exception:  # a test may have closed it, or broken it on purpose
            pass


def load_corpus() -> tuple[list[Document], list[Document]]:
    """(plain documents, chunked documents) of the fixture corpus."""
    raw = json.loads(CORPUS.read_text())
    plain = [Document(d["id"], d["text"], d["metadata"]) for d in raw["documents"]]
    chunked = [
        Document(d["id"], metadata=d["metadata"], chunks=d["chunks"]) for d in raw["chunked"]
    ]
    return plain, chunked


@pytest.fixture(scope="session")
def corpus() -> list[Document]:
    return load_corpus()[0]


@pytest.fixture(scope="session")
def chunked_corpus() -> list[Document]:
    return load_corpus()[1]


@pytest.fixture(scope="session")
def passage_vectors(tiny_embedder: Any, corpus: list[Document]) -> np.ndarray:
    """Reference passage vectors of the corpus (DIMS, normalised), computed directly."""
    return tiny_embedder.encode_passages([d.text for d in corpus], dimensions=DIMS)
