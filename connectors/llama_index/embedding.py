"""`JinaV3Embedding`: jina-embeddings-v3 as a LlamaIndex ``BaseEmbedding``.

Query methods use ``retrieval.query``, text methods ``retrieval.passage``; the async methods
are real (one batched call per LlamaIndex batch, at most ``max_concurrency`` in flight). The
settings are pydantic fields (serialisable); the API key is a private attribute, never in
``to_dict()`` / ``to_json()``. The embedder's life cycle is
:class:`~jina_v3.connectors.base.framework.EmbeddingModel`'s, shared with the Haystack components.
"""

from __future__ import annotations

from typing import Any, Literal

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr

from jina_v3.connectors.base.framework import EmbeddingModel, resolve_model
from jina_v3.embedder import AsyncEmbedder, Embedder
from jina_v3.errors import ConfigurationError, unknown_arguments


class JinaV3Embedding(EmbeddingModel, BaseEmbedding):
    """jina-embeddings-v3 as a LlamaIndex embedding: queries and passages get their own task.

    Example:
        >>> from llama_index.core import Settings
        >>> from jina_v3.connectors.llama_index import JinaV3Embedding
        >>> Settings.embed_model = JinaV3Embedding(dimensions=256)       # local model
        >>> # JinaV3Embedding(backend="api", dimensions=256)  # JINA_API_KEY / JINAAI_API_KEY
        >>> # JinaV3Embedding(embedder=my_embedder)           # an existing jina_v3.Embedder

    Args:
        model_name: Local checkpoint directory or hub id (default
            ``jinaai/jina-embeddings-v3``), or the API model name (``jina-embeddings-v3``).
        model: The same as ``model_name`` (the name ``JinaEmbedding`` users write; giving
            both is an error).
        embedder: A ready :class:`~jina_v3.Embedder` or :class:`~jina_v3.AsyncEmbedder`
            instead of the settings (``close()`` then leaves it open).
        backend: ``"local"`` or ``"api"`` (default: ``"api"`` when ``api_key`` or
            ``base_url`` is given, else ``"local"``).
        device, dtype: Local backend options.
        api_key: The Jina API key (else ``JINA_API_KEY`` / ``JINAAI_API_KEY``); kept out of
            every serialised form.
        base_url, timeout, max_retries: API backend options.
        dimensions: Matryoshka size (None: the model's full size).
        truncate: Cut inputs over the model's context instead of raising.
        max_concurrency: Embedding calls in flight at once in the async batch methods.
        embed_batch_size: Texts per embedding call (LlamaIndex's batching).

    Any other keyword is a ConfigurationError naming the nearest valid one.
    """

    model_name: str | None = Field(default=None, description="Checkpoint, hub id or API model.")
    backend: Literal["local", "api"] | None = Field(default=None, description="local or api")
    device: str | None = Field(default=None, description="Local backend: torch device.")
    dtype: str | None = Field(default=None, description="Local backend: float32 or bfloat16.")
    base_url: str | None = Field(default=None, description="API backend: base URL.")
    timeout: float | None = Field(default=None, description="API backend: seconds per request.")
    max_retries: int | None = Field(default=None, description="API backend: retries.")
    dimensions: int | None = Field(default=None, gt=0, description="Matryoshka size.")
    truncate: bool = Field(default=False, description="Cut over-long inputs instead of raising.")
    max_concurrency: int = Field(default=4, gt=0, description="Async calls in flight at once.")
    embed_batch_size: int = Field(default=32, gt=0, le=2048, description="Texts per call.")

    _api_key: str | None = PrivateAttr(default=None)
    _given: Embedder | AsyncEmbedder | None = PrivateAttr(default=None)
    _sync: Embedder | None = PrivateAttr(default=None)
    _async: AsyncEmbedder | None = PrivateAttr(default=None)
    _limits: Any = PrivateAttr(default=None)

    def __init__(
        self,
        model_name: str | None = None,
        *,
        embedder: Embedder | AsyncEmbedder | None = None,
        api_key: str | None = None,
        model: str | None = None,
        **kwargs: Any,
    ) -> None:
        unknown = kwargs.keys() - type(self).model_fields.keys()
        if unknown:
            valid = {*type(self).model_fields, "model", "embedder", "api_key"}
            raise unknown_arguments(type(self).__name__, unknown, valid)
        if model is not None:  # the name llama-index-embeddings-jinaai users write
            if model_name is not None:
                raise ConfigurationError(
                    f"Pass the model once: model={model!r} and model_name={model_name!r} are "
                    "the same setting (model is the alias of model_name)."
                )
            model_name = model
        model_name, backend = resolve_model(
            model_name,
            embedder,
            kwargs,
            key_given=api_key is not None,
            owner="embedding",
            name="model_name",
        )
        if backend is not None:
            kwargs["backend"] = backend
        super().__init__(model_name=model_name, **kwargs)
        self._api_key = api_key
        self._start(embedder)

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "JinaV3Embedding"

    # -- embedders (built lazily; one backend for sync and async) -------------------------------

    def _model_setting(self) -> str | None:
        return self.model_name

    def _api_key_value(self) -> str | None:
        return self._api_key

    @property
    def async_embedder(self) -> AsyncEmbedder:
        """The :class:`~jina_v3.AsyncEmbedder`, sharing the sync one's backend (one model)."""
        return self._async_twin()

    # -- BaseEmbedding ---------------------------------------------------------------------------

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed(query, query=True)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await self._aembed(query, query=True)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed(text, query=False)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(list(texts), query=False) if texts else []

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        # one batched call per LlamaIndex batch (the default makes one call per text),
        # at most `max_concurrency` of them in flight
        return await self._aembed(list(texts), query=False) if texts else []
