"""Fixtures of the framework tests: the tiny checkpoint, a small corpus, the Pinecone-API server.

Every test runs real engines: Qdrant local mode, Milvus Lite, Qdrant Edge and the Pinecone SDK
(and pinecone-haystack) against the Pinecone-API test server on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from tests._pinecone_server import PineconeTestServer

DIMS = 32  # the tiny checkpoint's full size is 64

#: (id, text, lang): one sentence each, several words, two languages for the filters.
CORPUS = [
    ("berlin", "Berlin is the capital of Germany and its largest city by population.", "en"),
    ("amazon", "The Amazon rainforest covers much of the Amazon basin in South America.", "en"),
    ("python", "Python is a programming language that emphasises code readability.", "en"),
    ("everest", "Mount Everest is the highest mountain above sea level on Earth.", "de"),
    ("reef", "The Great Barrier Reef is the largest coral reef system in the world.", "de"),
]


@pytest.fixture(scope="session")
def pinecone_server() -> Iterator[PineconeTestServer]:
    pytest.importorskip("pinecone")
    server = PineconeTestServer().start()
    yield server
    server.stop()


@pytest.fixture
def pinecone_env(pinecone_server: PineconeTestServer, monkeypatch: pytest.MonkeyPatch):
    """The SDK's control plane (and pinecone-haystack's) pointed at the test server."""
    monkeypatch.setenv("PINECONE_CONTROLLER_HOST", pinecone_server.url)
    monkeypatch.setenv("PINECONE_API_KEY", pinecone_server.api_key)
    return pinecone_server


def cosine(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def matching_query(embedder, texts: list[str], passages: np.ndarray) -> int:
    """The index of a text that, used as the query, ranks its own passage first (computed
    directly with the Embedder: the tiny checkpoint is random, so not every text does)."""
    for i, text in enumerate(texts):
        query = embedder.encode_queries(text, dimensions=passages.shape[1])
        if int(np.argmax(passages @ query)) == i:
            return i
    raise AssertionError("no text ranks its own passage first")
