"""`JinaV3Embeddings`: jina-embeddings-v3 as a LangChain ``Embeddings``.

``embed_documents`` uses ``retrieval.passage``, ``embed_query`` ``retrieval.query`` (LangChain's
interface has no task parameter: the two methods are the roles). The async methods are real
(one batched call each, at most ``max_concurrency`` in flight). The embedder's life cycle is
:class:`~jina_v3.connectors.base.framework.EmbeddingModel`'s, shared with the Haystack and
LlamaIndex integrations.

The API key is a ``SecretStr``: masked in ``repr``, written by ``langchain_core.load.dumpd`` as
a reference to ``JINA_API_KEY`` (``lc_secrets``), never in an error message. A pickle carries
the settings only; a key read from the environment is read there again where it is loaded,
and an object holding a key given as ``api_key=`` (or a given ``embedder=``) refuses to be
pickled.
"""

from __future__ import annotations

import os
import weakref
from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from langchain_core.load.serializable import Serializable
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, ValidationError

from jina_v3.connectors.base.framework import DEFAULT_API_KEY_ENV, EmbeddingModel, resolve_model
from jina_v3.embedder import AsyncEmbedder, Embedder
from jina_v3.errors import ConfigurationError


class JinaV3Embeddings(EmbeddingModel, Serializable, Embeddings):
    """jina-embeddings-v3 for LangChain: queries and documents get their own task.

    Example:
        >>> from jina_v3.connectors.langchain import JinaV3Embeddings
        >>> embeddings = JinaV3Embeddings(dimensions=256)                 # local model
        >>> embeddings = JinaV3Embeddings(backend="api", dimensions=256)  # JINA_API_KEY
        >>> embeddings = JinaV3Embeddings(base_url="http://127.0.0.1:8080")  # jina-v3 serve
        >>> embeddings.embed_query("capital of Germany")[:3]

    Args:
        model: Local checkpoint directory or hub id (default ``jinaai/jina-embeddings-v3``),
            or the API model name (``jina-embeddings-v3``).
        embedder: A ready :class:`~jina_v3.Embedder` or :class:`~jina_v3.AsyncEmbedder`
            instead of the settings (``close()`` then leaves it open; not serialisable).
        backend: ``"local"`` or ``"api"`` (default: ``"api"`` when ``api_key`` or
            ``base_url`` is given, else ``"local"``).
        device, dtype: Local backend options.
        api_key: The Jina API key (else ``JINA_API_KEY`` / ``JINAAI_API_KEY``), kept as a
            ``SecretStr``.
        base_url, timeout, max_retries: API backend options (``base_url`` also reaches a
            ``jina-v3 serve`` server).
        dimensions: Matryoshka size (None: the model's full size).
        truncate: Cut inputs over the model's context instead of raising.
        max_concurrency: Embedding calls in flight at once in the async methods.
    """

    model: str | None = Field(default=None, description="Checkpoint, hub id or API model.")
    backend: Literal["local", "api"] | None = None
    device: str | None = None
    dtype: str | None = None
    api_key: SecretStr | None = None
    base_url: str | None = None
    timeout: float | None = None
    max_retries: int | None = None
    dimensions: int | None = Field(default=None, gt=0)
    truncate: bool = False
    max_concurrency: int = Field(default=4, gt=0)

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    _given: Embedder | AsyncEmbedder | None = PrivateAttr(default=None)
    _sync: Embedder | None = PrivateAttr(default=None)
    _async: AsyncEmbedder | None = PrivateAttr(default=None)
    _key_env: str | None = PrivateAttr(default=None)
    _limits: Any = PrivateAttr(default=None)

    def __init__(
        self,
        model: str | None = None,
        *,
        embedder: Embedder | AsyncEmbedder | None = None,
        api_key: str | SecretStr | None = None,
        **kwargs: Any,
    ) -> None:
        model, backend = resolve_model(
            model, embedder, kwargs, key_given=api_key is not None, owner="embeddings"
        )
        key_env = None
        if backend is not None:
            kwargs["backend"] = backend
        if backend == "api" and api_key is None:
            key_env = next((n for n in DEFAULT_API_KEY_ENV if os.environ.get(n)), None)
            api_key = os.environ[key_env] if key_env else None
        if isinstance(api_key, str):
            api_key = SecretStr(api_key)
        try:
            super().__init__(model=model, api_key=api_key, **kwargs)
        except ValidationError as exc:  # the one error tree, and never an input's value
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            )
            raise ConfigurationError(f"Invalid JinaV3Embeddings settings: {problems}") from None
        self._key_env = key_env
        self._start(embedder)

    # -- LangChain serialisation: the key as a reference, never its value ----------------------

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """Serialisable with ``langchain_core.load.dumpd`` (the key as a secret reference)."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """The module path ``langchain_core.load`` records."""
        return ["jina_v3", "connectors", "langchain"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        """The key travels as the name of the variable that holds it."""
        return {"api_key": self._key_env or DEFAULT_API_KEY_ENV[0]}

    def __getstate__(self) -> dict[Any, Any]:
        if self._given is not None:
            raise TypeError(
                "A JinaV3Embeddings built from embedder=... cannot be pickled (an open model "
                "or connection does not travel); build it from its settings instead."
            )
        if self.api_key is not None and self._key_env is None:
            raise TypeError(
                "A JinaV3Embeddings holding a key given as api_key= cannot be pickled (the "
                "key would travel in the pickle); set JINA_API_KEY where it is unpickled and "
                "leave api_key out."
            )
        state = dict(super().__getstate__())
        state["__dict__"] = {**state["__dict__"], "api_key": None}
        private = dict(state.get("__pydantic_private__") or {})
        private.update(_given=None, _sync=None, _async=None, _limits=None)
        state["__pydantic_private__"] = private
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        key_env = self._key_env
        if key_env and os.environ.get(key_env):
            object.__setattr__(self, "api_key", SecretStr(os.environ[key_env]))
        self._limits = weakref.WeakKeyDictionary()

    # -- embedders (built lazily; one backend for sync and async) -------------------------------

    def _model_setting(self) -> str | None:
        return self.model

    def _api_key_value(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key is not None else None

    # -- Embeddings ------------------------------------------------------------------------------

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents with ``retrieval.passage``."""
        return self._embed(list(texts), query=False) if texts else []

    def embed_query(self, text: str) -> list[float]:
        """Embed a query with ``retrieval.query``."""
        return self._embed(text, query=True)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """The async twin of :meth:`embed_documents` (never blocks the event loop)."""
        return await self._aembed(list(texts), query=False) if texts else []

    async def aembed_query(self, text: str) -> list[float]:
        """The async twin of :meth:`embed_query`."""
        return await self._aembed(text, query=True)
