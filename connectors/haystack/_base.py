"""What both Haystack embedders share: the settings, the embedder's life cycle, serialisation.

:class:`JinaV3EmbedderBase` takes the settings once (validated at construction, no I/O), keeps
them as attributes of their own names (Haystack's convention) and serialises them with
``to_dict`` / ``from_dict``; the embedder itself is built on ``warm_up`` by
:class:`~jina_v3.connectors.base.framework.EmbedderOwner`, which the LlamaIndex embedding uses too.
"""

from __future__ import annotations

import os
from typing import Any, Literal, Self

from haystack import default_from_dict, default_to_dict
from haystack.core.errors import SerializationError
from haystack.utils import Secret
from haystack.utils.auth import SecretType

from jina_v3.connectors.base.framework import DEFAULT_API_KEY_ENV, EmbedderOwner, choose_backend
from jina_v3.embedder import AsyncEmbedder, Embedder
from jina_v3.errors import ConfigurationError
from jina_v3.options import Secret as KeySecret

#: Where the classes say they live: Haystack serialises a component as ``module.Class``.
PUBLIC_MODULE = "jina_v3.connectors.haystack"

_EMBEDDING_TYPES = ("float", "binary", "ubinary", "base64")
#: Every serialised setting of both embedders, in ``to_dict`` order.
_SETTINGS = (
    "model",
    "backend",
    "device",
    "dtype",
    "api_key",
    "base_url",
    "timeout",
    "max_retries",
    "dimensions",
    "embedding_type",
    "truncate",
    "prefix",
    "suffix",
)
#: The parameters of :class:`JinaV3EmbedderBase` (both embedders take them).
SHARED_PARAMETERS = frozenset((*_SETTINGS, "embedder"))


def default_api_key() -> Secret:
    return Secret.from_env_var(list(DEFAULT_API_KEY_ENV))


class JinaV3EmbedderBase(EmbedderOwner):
    """Settings, embedder life cycle and serialisation shared by both embedders."""

    def __init__(
        self,
        model: str | None = None,
        *,
        embedder: Embedder | AsyncEmbedder | None = None,
        backend: Literal["local", "api"] | None = None,
        device: str | None = None,
        dtype: str | None = None,
        api_key: Secret = default_api_key(),  # noqa: B008 (Haystack's convention)
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        dimensions: int | None = None,
        embedding_type: str = "float",
        truncate: bool = False,
        prefix: str = "",
        suffix: str = "",
    ) -> None:
        """Create the component (no I/O until warm_up).

        Args:
            model: Local checkpoint directory or hub id (default
                ``jinaai/jina-embeddings-v3``), or the API model name (``jina-embeddings-v3``).
            embedder: A ready :class:`~jina_v3.Embedder` or :class:`~jina_v3.AsyncEmbedder`
                instead of the settings (the component then cannot be serialised, and
                ``close()`` leaves it open).
            backend: ``"local"`` or ``"api"``; by default ``"api"`` when ``base_url`` or a
                non-default ``api_key`` is given, else ``"local"``.
            device, dtype: Local backend options (``dtype`` ``"float32"`` or ``"bfloat16"``).
            api_key: The Jina API key as a ``Secret`` (default: ``JINA_API_KEY`` or
                ``JINAAI_API_KEY``); read only with the API backend.
            base_url, timeout, max_retries: API backend options (``base_url``: the API or a
                ``jina-v3 serve`` server).
            dimensions: Matryoshka size of the embeddings (None: the model's full size).
            embedding_type: ``float``, ``binary`` (int8), ``ubinary`` (uint8 packed bits) or
                ``base64`` (float32 values; base64 only on the wire).
            truncate: Cut inputs over the model's context instead of raising.
            prefix, suffix: Strings added before and after each text.
        """
        if not isinstance(api_key, Secret):
            raise ConfigurationError(
                "api_key must be a haystack Secret (Secret.from_env_var('JINA_API_KEY') or "
                "Secret.from_token(...)), not a plain string."
            )
        options = {"model": model, "backend": backend, "device": device, "dtype": dtype}
        options |= {"base_url": base_url, "timeout": timeout, "max_retries": max_retries}
        chosen = choose_backend(
            embedder, options, key_given=api_key != default_api_key(), owner="component"
        )
        if dimensions is not None and (
            isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
        ):
            raise ConfigurationError(
                f"dimensions must be a positive integer or None, got {dimensions!r}"
            )
        if embedding_type not in _EMBEDDING_TYPES:
            raise ConfigurationError(
                f"embedding_type={embedding_type!r} is not supported; use one of "
                f"{', '.join(_EMBEDDING_TYPES)}."
            )
        # the settings as attributes of their own names (Haystack's convention; see _SETTINGS)
        vars(self).update(
            options,
            backend=chosen,
            api_key=api_key,
            dimensions=dimensions,
            embedding_type=embedding_type,
            truncate=bool(truncate),
            prefix=prefix,
            suffix=suffix,
        )
        self._adopt(embedder)

    # -- life cycle ------------------------------------------------------------------------------

    def _model_setting(self) -> str | None:
        return self.model

    def _api_key_value(self) -> str | KeySecret | None:
        secret = self.api_key
        if secret.type is SecretType.ENV_VAR:
            # by name: the embedder (and a pickle of this component) never holds the value
            for name in secret.to_dict()["env_vars"]:
                if os.environ.get(name) is not None:
                    return KeySecret.from_env(name)
        return secret.resolve_value()  # a token; or, no variable set, Haystack's own error

    def warm_up(self) -> None:
        """Build the embedder from the settings (loads the local model); idempotent."""
        self._sync_embedder()

    async def warm_up_async(self) -> None:
        """:meth:`warm_up` in a worker thread (loading weights never blocks the event loop)."""
        await self._async_embedder()

    def close(self) -> None:
        """Release the model or HTTP connections (a given ``embedder=`` stays open)."""
        self._release()

    async def close_async(self) -> None:
        """Release the model or HTTP connections, async clients included."""
        await self._arelease()

    # -- serialisation ---------------------------------------------------------------------------

    def _to_dict(self, **extra: Any) -> dict[str, Any]:
        """The shared settings and a subclass's `extra` ones, as Haystack's envelope."""
        if self._given is not None:
            raise SerializationError(
                f"{type(self).__name__} was built from an Embedder object, which cannot be "
                "serialised; build it from its settings (model=..., backend=..., api_key=...) "
                "to save the pipeline."
            )
        return default_to_dict(self, **{name: getattr(self, name) for name in _SETTINGS}, **extra)

    def to_dict(self) -> dict[str, Any]:
        """Serialise every setting (the key as its ``Secret``: env-var names only).

        Raises:
            SerializationError: Built from an ``embedder=`` object, or with a token secret.
        """
        return self._to_dict()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild the component from :meth:`to_dict`'s output."""
        return default_from_dict(cls, data)

    # -- the embedding flow's edges --------------------------------------------------------------

    def _encode_args(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions, "embedding_type": self.embedding_type}

    def _tokens(self) -> int:
        embedder = self._loaded()
        return embedder.usage.total_tokens if embedder is not None else 0

    def _meta(self, tokens_before: int) -> dict[str, Any]:
        embedder = self._loaded()
        assert embedder is not None
        tokens = embedder.usage.total_tokens - tokens_before
        return {
            "model": embedder.model_name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def _get_telemetry_data(self) -> dict[str, Any]:
        embedder = self._loaded()
        return {"model": embedder.model_name if embedder is not None else str(self.model)}
