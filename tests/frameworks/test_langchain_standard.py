"""LangChain's own standard suites (langchain-tests, pinned) on the LangChain integration.

- ``EmbeddingsUnitTests`` and ``EmbeddingsIntegrationTests``: :class:`JinaV3Embeddings` on the
  tiny checkpoint, and with the API backend against ``jina-v3 serve`` on 127.0.0.1.
- ``VectorStoreIntegrationTests``: :class:`JinaV3VectorStore` on each of the four stores
  (Qdrant ``:memory:``, Qdrant Edge, Milvus Lite, Pinecone through the real SDK against the
  Pinecone-API test server). The suite embeds with its own ``DeterministicFakeEmbedding``, as
  every LangChain store is tested; the task on each side is tested in ``test_langchain.py``.
- ``RetrieversIntegrationTests``: ``as_retriever()`` of that store.

Nothing is opted out: every store has sync and async twins and ``get_by_ids``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_tests")
pytest.importorskip("torch")

from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import (
    EmbeddingsIntegrationTests,
    RetrieversIntegrationTests,
    VectorStoreIntegrationTests,
)
from langchain_tests.unit_tests import EmbeddingsUnitTests

from jina_v3.connectors.langchain import JinaV3Embeddings, JinaV3VectorStore
from tests.conftest import TINY_MODEL
from tests.connectors import _milvus_pinecone as milvus_pinecone
from tests.frameworks.conftest import CORPUS

TINY = {"model": str(TINY_MODEL), "dtype": "float32"}


@pytest.fixture(scope="module", autouse=True)
def _stop_servers() -> Iterator[None]:
    yield
    milvus_pinecone.cleanup()


# -- embeddings -----------------------------------------------------------------------------


class TestJinaV3EmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[JinaV3Embeddings]:
        return JinaV3Embeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return TINY

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        env = {"JINA_API_KEY": "key-from-the-environment"}
        return env, {"backend": "api"}, {"api_key": "key-from-the-environment"}


class TestJinaV3EmbeddingsLocal(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[JinaV3Embeddings]:
        return JinaV3Embeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return TINY


@pytest.fixture(scope="module")
def jina_server() -> Iterator[str]:
    pytest.importorskip("fastapi")
    from jina_v3 import Embedder
    from jina_v3.server import create_app
    from tests._servers import ServerThread

    app = create_app(Embedder(str(TINY_MODEL), dtype="float32"), api_key="standard-suite-key")
    with ServerThread(app) as server:
        yield server.url


class TestJinaV3EmbeddingsAPI(EmbeddingsIntegrationTests):
    """The API backend against `jina-v3 serve` (the hosted API's contract, on loopback)."""

    @property
    def embeddings_class(self) -> type[JinaV3Embeddings]:
        return JinaV3Embeddings

    @pytest.fixture
    def model(self, jina_server: str) -> JinaV3Embeddings:
        return JinaV3Embeddings(
            api_key="standard-suite-key", base_url=jina_server, timeout=60, max_retries=0
        )


# -- vector stores: one class per engine -----------------------------------------------------


def _qdrant_memory(collection: str, folder: Path) -> Any:
    from jina_v3.connectors.qdrant import QdrantStore

    return QdrantStore(collection, location=":memory:")


def _qdrant_edge(collection: str, folder: Path) -> Any:
    pytest.importorskip("qdrant_edge")
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

    return QdrantEdgeStore(collection, path=folder / "edge")


def _milvus_lite(collection: str, folder: Path) -> Any:
    return milvus_pinecone.FACTORIES["milvus-lite"](collection, folder)


def _pinecone(collection: str, folder: Path) -> Any:
    return milvus_pinecone.FACTORIES["pinecone"](collection, folder)


@pytest.fixture(scope="module")
def store_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # one folder per engine class: Milvus Lite starts one server per data directory
    return tmp_path_factory.mktemp("langchain-stores")


class _StoreSuite(VectorStoreIntegrationTests):
    make_store: Callable[[str, Path], Any]

    @pytest.fixture
    def vectorstore(self, store_folder: Path) -> Iterator[VectorStore]:
        store = type(self).make_store(f"lc_{uuid.uuid4().hex[:10]}", store_folder)
        vectorstore = JinaV3VectorStore(store, self.get_embeddings())
        try:
            yield vectorstore
        finally:
            vectorstore.close()


class TestQdrantMemoryStandard(_StoreSuite):
    make_store = staticmethod(_qdrant_memory)


class TestQdrantEdgeStandard(_StoreSuite):
    make_store = staticmethod(_qdrant_edge)


class TestMilvusLiteStandard(_StoreSuite):
    make_store = staticmethod(_milvus_lite)


class TestPineconeStandard(_StoreSuite):
    make_store = staticmethod(_pinecone)


# -- the retriever ---------------------------------------------------------------------------


class TestJinaV3Retriever(RetrieversIntegrationTests):
    """``as_retriever()`` over Qdrant Edge holding the five-document corpus, embedded by
    :class:`JinaV3Embeddings` on the tiny checkpoint."""

    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path, tiny_embedder: Any) -> None:
        self.folder = tmp_path
        self.embeddings = JinaV3Embeddings(embedder=tiny_embedder, dimensions=32)

    @property
    def retriever_constructor(self) -> Any:
        def make(k: int = 4) -> Any:
            store = JinaV3VectorStore(
                _qdrant_edge(f"r{uuid.uuid4().hex[:8]}", self.folder), self.embeddings
            )
            texts = [text for _, text, _ in CORPUS]
            metadatas = [{"lang": lang} for _, _, lang in CORPUS]
            store.add_texts(texts, metadatas, ids=[doc_id for doc_id, _, _ in CORPUS])
            return store.as_retriever(search_kwargs={"k": k})

        return make

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"k": 4}

    @property
    def retriever_query_example(self) -> str:
        return "the capital of Germany"
