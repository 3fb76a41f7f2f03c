"""`JinaV3TextEmbedder` (queries) and `JinaV3DocumentEmbedder` (documents, late chunking).

Both build on :class:`~jina_v3.connectors.haystack._base.JinaV3EmbedderBase` (settings, life
cycle, serialisation). Each ``run`` / ``run_async`` pair checks its input and plans eagerly,
then drives one flow (:mod:`jina_v3._flow`) with the sync or the async embedder, so the twins
cannot drift apart.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from haystack import Document, component
from haystack.utils import Secret

from jina_v3._flow import Call, Flow, arun, run
from jina_v3.connectors.base.framework import (
    Describe,
    embed_flow,
    pack_groups,
    source_groups,
    without_empty,
)
from jina_v3.connectors.haystack._base import (
    PUBLIC_MODULE,
    SHARED_PARAMETERS,
    JinaV3EmbedderBase,
    default_api_key,
)
from jina_v3.embedder import AsyncEmbedder, Embedder
from jina_v3.errors import ConfigurationError, check_positive


@component
class JinaV3TextEmbedder(JinaV3EmbedderBase):
    """Embeds a query string with the ``retrieval.query`` task, for an embedding retriever.

    Example:
        >>> from jina_v3.connectors.haystack import JinaV3TextEmbedder
        >>> embedder = JinaV3TextEmbedder(model="jinaai/jina-embeddings-v3", dimensions=256)
        >>> embedder.warm_up()
        >>> result = embedder.run("Which city is the capital of Germany?")
        >>> len(result["embedding"]), result["meta"]["model"]
        (256, 'jinaai/jina-embeddings-v3')
    """

    __module__ = PUBLIC_MODULE

    def _flow(self, text: str) -> Flow[dict[str, Any]]:
        if not isinstance(text, str):
            raise TypeError(
                "JinaV3TextEmbedder expects a string as input; to embed a list of Documents, "
                "use JinaV3DocumentEmbedder."
            )
        return self._query_flow(self.prefix + text + self.suffix)

    def _query_flow(self, text: str) -> Flow[dict[str, Any]]:
        before = self._tokens()
        kwargs = {**self._encode_args(), "truncate": self.truncate}
        vector = yield Call("embedder", "encode_queries", (text,), kwargs)
        return {"embedding": vector.tolist(), "meta": self._meta(before)}

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    def run(self, text: str) -> dict[str, Any]:
        """Embed one query.

        Args:
            text: The query.

        Returns:
            ``embedding`` (list of floats; packed bytes for the binary types) and ``meta``
            (``model``, ``usage`` with ``prompt_tokens`` / ``total_tokens``).
        """
        flow = self._flow(text)
        return run(flow, embedder=self._sync_embedder())

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    async def run_async(self, text: str) -> dict[str, Any]:
        """The async twin of :meth:`run` (the API backend's async client; the local model in
        a worker thread)."""
        flow = self._flow(text)
        return await arun(flow, embedder=await self._async_embedder())


@component
class JinaV3DocumentEmbedder(JinaV3EmbedderBase):
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
    another; documents without a source are embedded alone. A split with no text (empty or
    whitespace) is left out of its source's pass and keeps ``embedding=None``, with a warning
    naming it.
    """

    __module__ = PUBLIC_MODULE

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
        batch_size: int = 32,
        progress_bar: bool = True,
        late_chunking: bool = False,
        source_id_field: str = "source_id",
        split_order_field: str = "split_id",
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
    ) -> None:
        """Create the component (no I/O until warm_up).

        Args:
            model, embedder, backend, device, dtype, api_key, base_url, timeout, max_retries,
                dimensions, embedding_type, truncate, prefix, suffix: As for
                :class:`JinaV3TextEmbedder`.
            batch_size: Documents (or late-chunked splits) per embedding call.
            progress_bar: Show a progress bar over the batches.
            late_chunking: Embed the splits of one source document in one pass.
            source_id_field: Meta field naming a split's source document.
            split_order_field: Meta field giving a split's position in its source.
            meta_fields_to_embed: Meta fields embedded before the content.
            embedding_separator: Separator between the meta fields and the content.
        """
        # not super(): @component rebuilds the class, and super()'s cell names the original
        shared = {name: value for name, value in locals().items() if name in SHARED_PARAMETERS}
        JinaV3EmbedderBase.__init__(self, **shared)
        check_positive("batch_size", batch_size)
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

    def to_dict(self) -> dict[str, Any]:
        """Serialise every setting (the key as its ``Secret``: env-var names only).

        Raises:
            SerializationError: Built from an ``embedder=`` object, or with a token secret.
        """
        return self._to_dict(
            batch_size=self.batch_size,
            progress_bar=self.progress_bar,
            meta_fields_to_embed=self.meta_fields_to_embed,
            embedding_separator=self.embedding_separator,
            late_chunking=self.late_chunking,
            source_id_field=self.source_id_field,
            split_order_field=self.split_order_field,
        )

    # -- planning (pure) -------------------------------------------------------------------------

    def _text(self, doc: Document) -> str:
        meta = [
            str(doc.meta[key])
            for key in self.meta_fields_to_embed
            if key in doc.meta and doc.meta[key] is not None
        ]
        body = self.embedding_separator.join([*meta, doc.content or ""])
        return self.prefix + body + self.suffix

    def _describe(self, documents: list[Document]) -> Describe:
        def describe(i: int) -> str:
            doc, field = documents[i], self.source_id_field
            source = doc.meta.get(field)
            return f"document {doc.id!r}" + (
                f" ({field} {source!r:.60})" if source is not None else ""
            )

        return describe

    def _batches(
        self, documents: list[Document], texts: list[str], describe: Describe
    ) -> list[list[list[int]]]:
        """Document positions per call; with late chunking one source per group, in order,
        without the splits that have no text (they keep ``embedding=None``)."""
        if self.late_chunking:
            sources = [d.meta.get(self.source_id_field) for d in documents]
            orders = [d.meta.get(self.split_order_field) for d in documents]
            field = f"meta[{self.source_id_field!r}] (source_id_field)"
            groups = source_groups(sources, orders, describe=describe, field=field)
            groups, _ = without_empty(groups, texts, describe)
        else:
            groups = [[i] for i in range(len(documents))]
        return pack_groups(groups, self.batch_size)

    def _flow(self, documents: list[Document]) -> Flow[dict[str, Any]]:
        if not isinstance(documents, list) or not all(isinstance(d, Document) for d in documents):
            raise TypeError(
                "JinaV3DocumentEmbedder expects a list of Documents as input; to embed a "
                "string, use JinaV3TextEmbedder."
            )
        texts = [self._text(d) for d in documents]
        describe = self._describe(documents)
        batches: Any = self._batches(documents, texts, describe)
        if self.progress_bar:
            from tqdm import tqdm

            batches = tqdm(batches, desc="Calculating embeddings")
        flow = embed_flow(
            texts,
            batches,
            late_chunking=self.late_chunking,
            encode=self._encode_args(),
            describe=describe,
            truncate=self.truncate,
        )
        return self._documents_flow(documents, flow)

    def _documents_flow(
        self, documents: list[Document], embedding: Flow[list[list[float] | None]]
    ) -> Flow[dict[str, Any]]:
        before = self._tokens()
        vectors = yield from embedding
        # dataclasses.replace: new Document objects, the inputs keep their embeddings
        return {
            "documents": [replace(d, embedding=v) for d, v in zip(documents, vectors, strict=True)],
            "meta": self._meta(before),
        }

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Embed documents (new Document objects; the inputs are left as they are).

        Args:
            documents: The documents (or splits) to embed.

        Returns:
            ``documents`` with their ``embedding`` set, in input order, and ``meta``
            (``model``, ``usage``).
        """
        flow = self._flow(documents)
        return run(flow, embedder=self._sync_embedder())

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """The async twin of :meth:`run`."""
        flow = self._flow(documents)
        return await arun(flow, embedder=await self._async_embedder())
