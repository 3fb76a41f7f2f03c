"""jina-embeddings-v3 for vector databases and RAG frameworks.

Example:
    >>> from jina_v3 import Embedder
    >>> embedder = Embedder("jinaai/jina-embeddings-v3")
    >>> vectors = embedder.encode_passages(["Berlin is the capital of Germany."], dimensions=256)

Vector stores live in `jina_v3.connectors.<database>` and are imported explicitly.
"""

from jina_v3.embedder import AsyncBackend, AsyncEmbedder, Backend, Embedder
from jina_v3.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    DimensionMismatchError,
    InputTooLongError,
    InsufficientBalanceError,
    InvalidRequestError,
    JinaV3Error,
    MalformedResponseError,
    MissingDependencyError,
    ModelLoadError,
    QueueFullError,
    RateLimitError,
    ServerError,
    SignatureMismatchError,
    StoreError,
    StoreInUseError,
    UnknownTaskError,
    UnsupportedFilterError,
)
from jina_v3.index import AsyncVectorIndex, VectorIndex
from jina_v3.index.store import Document, EmbeddingSignature, Hit, VectorStore
from jina_v3.tasks import TASKS, Task
from jina_v3.types import EmbedSpec, Usage

__version__ = "0.1.0"

__all__ = [
    "TASKS",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncBackend",
    "AsyncEmbedder",
    "AsyncVectorIndex",
    "AuthenticationError",
    "Backend",
    "ConfigurationError",
    "DimensionMismatchError",
    "Document",
    "EmbedSpec",
    "Embedder",
    "EmbeddingSignature",
    "Hit",
    "InputTooLongError",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "JinaV3Error",
    "MalformedResponseError",
    "MissingDependencyError",
    "ModelLoadError",
    "QueueFullError",
    "RateLimitError",
    "ServerError",
    "SignatureMismatchError",
    "StoreError",
    "StoreInUseError",
    "Task",
    "UnknownTaskError",
    "UnsupportedFilterError",
    "Usage",
    "VectorIndex",
    "VectorStore",
]
