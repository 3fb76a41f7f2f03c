"""Haystack components for jina-embeddings-v3: the right task on each side of a pipeline.

    from haystack import Pipeline
    from haystack.components.preprocessors import DocumentSplitter
    from haystack.components.writers import DocumentWriter
    from jina_v3.connectors.haystack import JinaV3DocumentEmbedder, JinaV3TextEmbedder

    indexing = Pipeline()
    indexing.add_component("split", DocumentSplitter(split_by="word", split_length=100))
    indexing.add_component("embed", JinaV3DocumentEmbedder(dimensions=256, late_chunking=True))
    indexing.add_component("write", DocumentWriter(store))
    indexing.connect("split", "embed")
    indexing.connect("embed", "write")

- :class:`JinaV3TextEmbedder` embeds queries with ``retrieval.query``; output ``embedding`` and
  ``meta`` (model, token usage).
- :class:`JinaV3DocumentEmbedder` embeds documents with ``retrieval.passage``; output
  ``documents`` (new objects, the inputs are never mutated) and ``meta``. With
  ``late_chunking=True`` the splits of one source document (``source_id``, written by
  ``DocumentSplitter``) are embedded together in split order, one source per pass.
- :class:`JinaV3DimensionGuard` sits before a ``DocumentWriter`` and refuses documents whose
  embedding size differs from the document store's (``check_document_store`` is the same check
  as a function).

Both embedders take either an existing :class:`~jina_v3.Embedder` / :class:`~jina_v3.AsyncEmbedder`
(``embedder=``; not serialisable) or the settings that make one (serialisable with
``to_dict`` / ``from_dict``; the API key only ever as a ``Secret``). Construction does no I/O:
``warm_up()`` loads the local model (``Pipeline`` calls it), ``close()`` releases it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from jina_v3.connectors._common import require

require("haystack", "haystack", "haystack-ai")

from haystack import Document, component, default_from_dict, default_to_dict  # noqa: E402
from haystack.core.errors import SerializationError  # noqa: E402
from haystack.utils import Secret  # noqa: E402

from jina_v3 import AsyncEmbedder, DimensionMismatchError, Embedder  # noqa: E402
from jina_v3.errors import ConfigurationError  # noqa: E402

__all__ = [
    "JinaV3DimensionGuard",
    "JinaV3DocumentEmbedder",
    "JinaV3TextEmbedder",
    "check_document_store",
    "document_store_dimension",
]

logger = logging.getLogger(__name__)

#: Where the API key comes from unless given: the names Haystack and LlamaIndex users set.
DEFAULT_API_KEY_ENV = ["JINA_API_KEY", "JINAAI_API_KEY"]
_EMBEDDING_TYPES = ("float", "binary", "ubinary", "base64")


def _default_api_key() -> Secret:
    return Secret.from_env_var(DEFAULT_API_KEY_ENV)


class _JinaV3Base:
    """Settings, embedder life cycle and serialisation shared by both embedders."""

    def _setup(
        self,
        *,
        embedder: Embedder | AsyncEmbedder | None,
        model: str | None,
        backend: Literal["local", "api"] | None,
        device: str | None,
        dtype: str | None,
        api_key: Secret,
        base_url: str | None,
        timeout: float | None,
        max_retries: int | None,
        dimensions: int | None,
        embedding_type: str,
        truncate: bool,
        prefix: str,
        suffix: str,
    ) -> None:
        if not isinstance(api_key, Secret):
            raise ConfigurationError(
                "api_key must be a haystack Secret (Secret.from_env_var('JINA_API_KEY') or "
                "Secret.from_token(...)), not a plain string."
            )
        custom_key = api_key != _default_api_key()
        settings = {
            "model": model,
            "backend": backend,
            "device": device,
            "dtype": dtype,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": max_retries,
        }
        if embedder is not None:
            given = [k for k, v in settings.items() if v is not None]
            if custom_key:
                given.append("api_key")
            if given:
                raise ConfigurationError(
                    f"Pass either embedder=... or the settings that make one, not both (got "
                    f"embedder and {', '.join(given)})."
                )
            if not isinstance(embedder, (Embedder, AsyncEmbedder)):
                raise ConfigurationError(
                    f"embedder must be a jina_v3 Embedder or AsyncEmbedder, got "
                    f"{type(embedder).__name__}"
                )
        if backend is None:
            backend = "api" if base_url is not None or custom_key else "local"
        if backend not in ("local", "api"):
            raise ConfigurationError(f"backend must be 'local' or 'api', got {backend!r}")
        if embedder is None:
            wrong = (
                {"device": device, "dtype": dtype}
                if backend == "api"
                else {"base_url": base_url, "timeout": timeout, "max_retries": max_retries}
            )
            conflicting = [k for k, v in wrong.items() if v is not None]
            if backend == "local" and custom_key:
                conflicting.append("api_key")
            if conflicting:
                other = "local" if backend == "api" else "api"
                raise ConfigurationError(
                    f"{', '.join(conflicting)} only apply to backend={other!r}, but this "
                    f"component uses backend={backend!r}; drop them or pass backend={other!r}."
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
        self.model = model
        self.backend = backend if embedder is None else None
        self.device = device
        self.dtype = dtype
        self.api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.dimensions = dimensions
        self.embedding_type = embedding_type
        self.truncate = bool(truncate)
        self.prefix = prefix
        self.suffix = suffix
        self._given = embedder
        self._sync: Embedder | None = embedder if isinstance(embedder, Embedder) else None
        self._async: AsyncEmbedder | None = (
            embedder if isinstance(embedder, AsyncEmbedder) else None
        )

    # -- life cycle ------------------------------------------------------------------------------

    def _make_embedder(self) -> Embedder:
        options: dict[str, Any] = {}
        if self.backend == "api":
            options.update(
                backend="api",
                api_key=self.api_key.resolve_value(),
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
            )
        else:
            options.update(backend="local", device=self.device, dtype=self.dtype)
        options = {k: v for k, v in options.items() if v is not None}
        return Embedder(self.model, **options)

    def warm_up(self) -> None:
        """Build the embedder from the settings (loads the local model); idempotent."""
        if self._sync is None and self._async is None:
            self._sync = self._make_embedder()

    async def warm_up_async(self) -> None:
        """:meth:`warm_up` in a worker thread (loading weights never blocks the event loop)."""
        if self._sync is None and self._async is None:
            await asyncio.to_thread(self.warm_up)

    def _sync_embedder(self) -> Embedder:
        self.warm_up()
        if self._sync is None:  # given an AsyncEmbedder: share its backend
            assert self._async is not None
            self._sync = Embedder(backend=self._async.backend)
        return self._sync

    async def _async_embedder(self) -> AsyncEmbedder:
        await self.warm_up_async()
        if self._async is None:  # one backend (one model in memory) for run and run_async
            assert self._sync is not None
            self._async = AsyncEmbedder(backend=self._sync.backend)
        return self._async

    def close(self) -> None:
        """Release the model or HTTP connections (a given ``embedder=`` stays open)."""
        if self._given is not None:
            return
        sync, self._sync, self._async = self._sync, None, None
        if sync is not None:
            sync.close()

    async def close_async(self) -> None:
        """Release the model or HTTP connections, async clients included."""
        if self._given is not None:
            return
        embedder = self._async or (
            AsyncEmbedder(backend=self._sync.backend) if self._sync is not None else None
        )
        self._sync, self._async = None, None
        if embedder is not None:
            await embedder.aclose()

    # -- helpers ---------------------------------------------------------------------------------

    def _encode_args(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions, "embedding_type": self.embedding_type}

    def _settings(self) -> dict[str, Any]:
        if self._given is not None:
            raise SerializationError(
                f"{type(self).__name__} was built from an Embedder object, which cannot be "
                "serialised; build it from its settings (model=..., backend=..., api_key=...) "
                "to save the pipeline."
            )
        return {
            "model": self.model,
            "backend": self.backend,
            "device": self.device,
            "dtype": self.dtype,
            "api_key": self.api_key,
            "base_url": self.base_url,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "dimensions": self.dimensions,
            "embedding_type": self.embedding_type,
            "truncate": self.truncate,
            "prefix": self.prefix,
            "suffix": self.suffix,
        }

    def _model_name(self) -> str:
        embedder = self._sync or self._async
        return embedder.model_name if embedder is not None else str(self.model)

    def _meta(self, tokens_before: int) -> dict[str, Any]:
        embedder = self._sync or self._async
        assert embedder is not None
        tokens = embedder.usage.total_tokens - tokens_before
        return {
            "model": embedder.model_name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def _tokens(self) -> int:
        embedder = self._sync or self._async
        return embedder.usage.total_tokens if embedder is not None else 0

    def _get_telemetry_data(self) -> dict[str, Any]:
        return {"model": self._model_name()}


_SETTINGS_DOC = """
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


@component
class JinaV3TextEmbedder(_JinaV3Base):
    """Embeds a query string with the ``retrieval.query`` task, for an embedding retriever.

    Example:
        >>> from jina_v3.connectors.haystack import JinaV3TextEmbedder
        >>> embedder = JinaV3TextEmbedder(model="jinaai/jina-embeddings-v3", dimensions=256)
        >>> embedder.warm_up()
        >>> result = embedder.run("Which city is the capital of Germany?")
        >>> len(result["embedding"]), result["meta"]["model"]
        (256, 'jinaai/jina-embeddings-v3')
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        embedder: Embedder | AsyncEmbedder | None = None,
        backend: Literal["local", "api"] | None = None,
        device: str | None = None,
        dtype: str | None = None,
        api_key: Secret = _default_api_key(),  # noqa: B008 (Haystack's convention)
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        dimensions: int | None = None,
        embedding_type: str = "float",
        truncate: bool = False,
        prefix: str = "",
        suffix: str = "",
    ) -> None:
        self._setup(
            embedder=embedder,
            model=model,
            backend=backend,
            device=device,
            dtype=dtype,
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            dimensions=dimensions,
            embedding_type=embedding_type,
            truncate=truncate,
            prefix=prefix,
            suffix=suffix,
        )

    __init__.__doc__ = "Create the component (no I/O until warm_up)." + _SETTINGS_DOC

    def to_dict(self) -> dict[str, Any]:
        """Serialise every setting (the key as its ``Secret``: env-var names only).

        Raises:
            SerializationError: Built from an ``embedder=`` object, or with a token secret.
        """
        return default_to_dict(self, **self._settings())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JinaV3TextEmbedder:
        """Rebuild the component from :meth:`to_dict`'s output."""
        return default_from_dict(cls, data)

    def _text(self, text: str) -> str:
        if not isinstance(text, str):
            raise TypeError(
                "JinaV3TextEmbedder expects a string as input; to embed a list of Documents, "
                "use JinaV3DocumentEmbedder."
            )
        return self.prefix + text + self.suffix

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    def run(self, text: str) -> dict[str, Any]:
        """Embed one query.

        Args:
            text: The query.

        Returns:
            ``embedding`` (list of floats; packed bytes for the binary types) and ``meta``
            (``model``, ``usage`` with ``prompt_tokens`` / ``total_tokens``).
        """
        text = self._text(text)
        embedder = self._sync_embedder()
        before = self._tokens()
        vector = embedder.encode_queries(text, truncate=self.truncate, **self._encode_args())
        return {"embedding": vector.tolist(), "meta": self._meta(before)}

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    async def run_async(self, text: str) -> dict[str, Any]:
        """The async twin of :meth:`run` (the API backend's async client; the local model in
        a worker thread)."""
        text = self._text(text)
        embedder = await self._async_embedder()
        before = self._tokens()
        vector = await embedder.encode_queries(text, truncate=self.truncate, **self._encode_args())
        return {"embedding": vector.tolist(), "meta": self._meta(before)}


@component
class JinaV3DocumentEmbedder(_JinaV3Base):
    """Embeds documents with the ``retrieval.passage`` task; late chunking per source document.

    Example:
        >>> from haystack import Document
        >>> from jina_v3.connectors.haystack import JinaV3DocumentEmbedder
        >>> embedder = JinaV3DocumentEmbedder(dimensions=256, meta_fields_to_embed=["title"])
        >>> embedder.warm_up()
        >>> out = embedder.run([Document(content="Berlin is big.", meta={"title": "Berlin"})])
        >>> len(out["documents"][0].embedding)
        256

    With ``late_chunking=True``, documents that share ``meta[source_id_field]`` (the parent id
    ``DocumentSplitter`` writes) are embedded as the consecutive chunks of one text, in the
    order of ``meta[split_order_field]``, one source per model pass and never mixed with
    another; documents without a source are embedded alone.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        embedder: Embedder | AsyncEmbedder | None = None,
        backend: Literal["local", "api"] | None = None,
        device: str | None = None,
        dtype: str | None = None,
        api_key: Secret = _default_api_key(),  # noqa: B008 (Haystack's convention)
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        dimensions: int | None = None,
        embedding_type: str = "float",
        truncate: bool = False,
        prefix: str = "",
        suffix: str = "",
        batch_size: int = 32,
        progress_bar: bool = True,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        late_chunking: bool = False,
        source_id_field: str = "source_id",
        split_order_field: str = "split_id",
    ) -> None:
        self._setup(
            embedder=embedder,
            model=model,
            backend=backend,
            device=device,
            dtype=dtype,
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            dimensions=dimensions,
            embedding_type=embedding_type,
            truncate=truncate,
            prefix=prefix,
            suffix=suffix,
        )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be a positive integer, got {batch_size!r}")
        if meta_fields_to_embed is not None and (
            isinstance(meta_fields_to_embed, str)
            or not all(isinstance(f, str) for f in meta_fields_to_embed)
        ):
            raise ConfigurationError("meta_fields_to_embed must be a list of field names")
        self.batch_size = batch_size
        self.progress_bar = bool(progress_bar)
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self.embedding_separator = embedding_separator
        self.late_chunking = bool(late_chunking)
        self.source_id_field = source_id_field
        self.split_order_field = split_order_field

    __init__.__doc__ = (
        "Create the component (no I/O until warm_up)."
        + _SETTINGS_DOC
        + """            batch_size: Documents (or late-chunked splits) per embedding call.
            progress_bar: Show a progress bar over the batches.
            meta_fields_to_embed: Meta fields embedded before the content.
            embedding_separator: Separator between the meta fields and the content.
            late_chunking: Embed the splits of one source document in one pass.
            source_id_field: Meta field naming a split's source document.
            split_order_field: Meta field giving a split's position in its source.
"""
    )

    def to_dict(self) -> dict[str, Any]:
        """Serialise every setting (the key as its ``Secret``: env-var names only).

        Raises:
            SerializationError: Built from an ``embedder=`` object, or with a token secret.
        """
        return default_to_dict(
            self,
            **self._settings(),
            batch_size=self.batch_size,
            progress_bar=self.progress_bar,
            meta_fields_to_embed=self.meta_fields_to_embed,
            embedding_separator=self.embedding_separator,
            late_chunking=self.late_chunking,
            source_id_field=self.source_id_field,
            split_order_field=self.split_order_field,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JinaV3DocumentEmbedder:
        """Rebuild the component from :meth:`to_dict`'s output."""
        return default_from_dict(cls, data)

    # -- planning (pure) -------------------------------------------------------------------------

    def _check_input(self, documents: list[Document]) -> None:
        if not isinstance(documents, list) or not all(isinstance(d, Document) for d in documents):
            raise TypeError(
                "JinaV3DocumentEmbedder expects a list of Documents as input; to embed a "
                "string, use JinaV3TextEmbedder."
            )

    def _text(self, doc: Document) -> str:
        meta = [
            str(doc.meta[key])
            for key in self.meta_fields_to_embed
            if key in doc.meta and doc.meta[key] is not None
        ]
        body = self.embedding_separator.join([*meta, doc.content or ""])
        return self.prefix + body + self.suffix

    def _groups(self, documents: list[Document]) -> list[list[int]]:
        """Document positions embedded together: one source per group, in split order."""
        if not self.late_chunking:
            return [[i] for i in range(len(documents))]
        by_source: dict[Any, list[int]] = {}
        groups: list[list[int]] = []
        for i, doc in enumerate(documents):
            source = doc.meta.get(self.source_id_field)
            if source is None:
                groups.append([i])
                continue
            if source not in by_source:
                by_source[source] = []
                groups.append(by_source[source])
            by_source[source].append(i)
        for members in by_source.values():
            orders = [documents[i].meta.get(self.split_order_field) for i in members]
            if all(isinstance(o, int) and not isinstance(o, bool) for o in orders):
                members.sort(key=lambda i: documents[i].meta[self.split_order_field])
        return groups

    def _batches(self, groups: list[list[int]]) -> Iterator[list[list[int]]]:
        """Groups packed into calls of at most `batch_size` documents (a bigger group alone)."""
        batch: list[list[int]] = []
        size = 0
        for group in groups:
            if batch and size + len(group) > self.batch_size:
                yield batch
                batch, size = [], 0
            batch.append(group)
            size += len(group)
        if batch:
            yield batch

    def _progress(self, batches: list[list[list[int]]]) -> Any:
        if not self.progress_bar:
            return batches
        from tqdm import tqdm

        return tqdm(batches, desc="Calculating embeddings")

    def _plan(self, documents: list[Document]) -> tuple[list[str], list[list[list[int]]]]:
        self._check_input(documents)
        texts = [self._text(d) for d in documents]
        return texts, list(self._batches(self._groups(documents)))

    def _late_docs(self, texts: list[str], batch: list[list[int]]) -> list[list[str]]:
        return [[texts[i] for i in group] for group in batch]

    @staticmethod
    def _store(
        vectors: list[list[float] | None], batch: list[list[int]], arrays: Sequence[np.ndarray]
    ) -> None:
        for group, array in zip(batch, arrays, strict=True):
            for i, row in zip(group, array, strict=True):
                vectors[i] = row.tolist()

    @staticmethod
    def _result(
        documents: list[Document], vectors: list[list[float] | None], meta: dict[str, Any]
    ) -> dict[str, Any]:
        # dataclasses.replace: new Document objects, the inputs keep their embeddings
        return {
            "documents": [replace(d, embedding=v) for d, v in zip(documents, vectors, strict=True)],
            "meta": meta,
        }

    def _embed_batch(self, embedder: Embedder, texts: list[str], batch: list[list[int]]) -> list:
        args = self._encode_args()
        if self.late_chunking:
            return embedder.encode_late_chunked(self._late_docs(texts, batch), **args)
        flat = embedder.encode_passages(
            [texts[g[0]] for g in batch], truncate=self.truncate, **args
        )
        return [row[None, :] for row in flat]

    async def _aembed_batch(
        self, embedder: AsyncEmbedder, texts: list[str], batch: list[list[int]]
    ) -> list:
        args = self._encode_args()
        if self.late_chunking:
            return await embedder.encode_late_chunked(self._late_docs(texts, batch), **args)
        flat = await embedder.encode_passages(
            [texts[g[0]] for g in batch], truncate=self.truncate, **args
        )
        return [row[None, :] for row in flat]

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Embed documents (new Document objects; the inputs are left as they are).

        Args:
            documents: The documents (or splits) to embed.

        Returns:
            ``documents`` with their ``embedding`` set, in input order, and ``meta``
            (``model``, ``usage``).
        """
        texts, batches = self._plan(documents)
        embedder = self._sync_embedder()
        before = self._tokens()
        vectors: list[list[float] | None] = [None] * len(documents)
        for batch in self._progress(batches):
            self._store(vectors, batch, self._embed_batch(embedder, texts, batch))
        return self._result(documents, vectors, self._meta(before))

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """The async twin of :meth:`run`."""
        texts, batches = self._plan(documents)
        embedder = await self._async_embedder()
        before = self._tokens()
        vectors: list[list[float] | None] = [None] * len(documents)
        for batch in self._progress(batches):
            self._store(vectors, batch, await self._aembed_batch(embedder, texts, batch))
        return self._result(documents, vectors, self._meta(before))


# -- the dimension guard -----------------------------------------------------------------------


def document_store_dimension(document_store: Any) -> int | None:
    """The embedding size a Haystack document store holds or will create, where it says.

    Reads an existing collection's or index's real size (Qdrant, Milvus, Pinecone) before
    the store's configured one; None when the store does not expose it (or has no collection
    yet and sizes it from the first write, as Milvus does).
    """
    kind = type(document_store).__name__
    if kind == "PineconeDocumentStore":
        return _pinecone_dimension(document_store)
    if kind == "MilvusDocumentStore":
        return _milvus_dimension(document_store)
    if kind == "QdrantDocumentStore":
        return _qdrant_dimension(document_store)
    for attribute in ("embedding_dim", "dimension", "embedding_dimension"):
        value = getattr(document_store, attribute, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _pinecone_dimension(store: Any) -> int | None:
    # the store silently adopts an existing index's size: ask the control plane first
    from pinecone import Pinecone

    client = Pinecone(api_key=store.api_key.resolve_value(), source_tag="haystack")
    if store.index_name in client.list_indexes().names():
        description = client.describe_index(store.index_name)
        dimension = getattr(description, "dimension", None)
        if isinstance(dimension, int):
            return dimension
    return int(store.dimension)


def _milvus_dimension(store: Any) -> int | None:
    client, name = store.client, store.collection_name
    if not client.has_collection(name):
        return None  # created from the first write's embeddings
    vector_field = getattr(store, "_vector_field", "vector")
    for field in client.describe_collection(name).get("fields", []):
        if field.get("name") == vector_field:
            dim = field.get("params", {}).get("dim")
            return None if dim is None else int(dim)
    return None


def _qdrant_dimension(store: Any) -> int | None:
    client = store._client  # the store connects lazily; never force a connection here
    name = store.index
    if client is not None and client.collection_exists(name):
        vectors = client.get_collection(name).config.params.vectors
        params = vectors.get("text-dense") if isinstance(vectors, dict) else vectors
        size = getattr(params, "size", None)
        if isinstance(size, int):
            return size
    return int(store.embedding_dim)


def check_document_store(document_store: Any, dimensions: int) -> None:
    """Raise if `document_store` holds (or will create) vectors of another size.

    Args:
        document_store: A Haystack document store.
        dimensions: The embedder's output size.

    Raises:
        DimensionMismatchError: The sizes differ; the message names both and the fix.

    Example:
        >>> check_document_store(QdrantDocumentStore(":memory:", embedding_dim=768), 256)
        Traceback (most recent call last):
        DimensionMismatchError: ... 768-d ... 256-d ...
    """
    stored = document_store_dimension(document_store)
    if stored is None or stored == dimensions:
        return
    raise DimensionMismatchError(
        f"{type(document_store).__name__} holds {stored}-d embeddings but the embedder makes "
        f"{dimensions}-d ones. Fix: build the embedder with dimensions={stored}, or give the "
        f"document store a new index/collection with embedding size {dimensions} (Qdrant: "
        f"embedding_dim={dimensions}; Pinecone: dimension={dimensions})."
    )


@component
class JinaV3DimensionGuard:
    """Passes documents through after checking their embedding size against a document store.

    Put it between a :class:`JinaV3DocumentEmbedder` and a ``DocumentWriter``: a mismatch
    raises before anything is written (Haystack's Pinecone store would otherwise adopt the
    index's size silently, and its Qdrant store defaults to 768).

    Example:
        >>> pipeline.add_component("guard", JinaV3DimensionGuard(document_store=store))
        >>> pipeline.connect("embed.documents", "guard.documents")
        >>> pipeline.connect("guard.documents", "write.documents")

    Args:
        document_store: The store the documents are written to.
    """

    def __init__(self, document_store: Any) -> None:
        self.document_store = document_store
        self._checked: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Serialise the guard with its document store."""
        return default_to_dict(self, document_store=self.document_store)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JinaV3DimensionGuard:
        """Rebuild the guard (and its document store) from :meth:`to_dict`'s output."""
        return default_from_dict(cls, data)

    def _check(self, documents: list[Document]) -> None:
        sizes = {len(d.embedding) for d in documents if d.embedding is not None}
        if len(sizes) > 1:
            raise DimensionMismatchError(
                f"The documents carry embeddings of several sizes {sorted(sizes)}: embed them "
                "with one dimensions setting."
            )
        if sizes:
            (size,) = sizes
            if size != self._checked:
                check_document_store(self.document_store, size)
                self._checked = size

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Check the documents' embedding size, then pass them on unchanged.

        Raises:
            DimensionMismatchError: The store holds another size (nothing is passed on).
        """
        self._check(documents)
        return {"documents": documents}

    @component.output_types(documents=list[Document])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """The async twin of :meth:`run` (the store is asked in a worker thread)."""
        await asyncio.to_thread(self._check, documents)
        return {"documents": documents}
