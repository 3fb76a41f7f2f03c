"""`JinaV3LateChunking`: late chunking as a LlamaIndex ``TransformComponent`` over nodes.

The nodes of one source document (``NodeRelationship.SOURCE``) are embedded together, in
document order, one document per pass; the planning and the embedding loop are the ones the
Haystack document embedder uses (:mod:`jina_v3.connectors.base.framework`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.bridge.pydantic import Field
from llama_index.core.schema import (
    BaseNode,
    MetadataMode,
    NodeRelationship,
    RelatedNodeInfo,
    TransformComponent,
)

from jina_v3._flow import Flow, arun, run
from jina_v3.connectors.base.framework import (
    embed_flow,
    pack_groups,
    source_groups,
    without_empty,
)
from jina_v3.connectors.llama_index.embedding import JinaV3Embedding
from jina_v3.errors import ConfigurationError, unknown_arguments


def _source_id(node: BaseNode) -> str | None:
    source = node.relationships.get(NodeRelationship.SOURCE)
    return source.node_id if isinstance(source, RelatedNodeInfo) else None


class JinaV3LateChunking(TransformComponent):
    """Late chunking over nodes: each source document's nodes embedded in one pass, in order.

    Nodes are grouped by their source document (``NodeRelationship.SOURCE``, i.e.
    ``ref_doc_id``); a group's node texts are the consecutive chunks of one model input, so
    every chunk vector sees its whole document, and no document shares a pass with another.
    Each group is in document order (``start_char_idx`` when every node has it, else input
    order). Nodes without a source are embedded alone. Each node's ``embedding`` is set (in
    place, like LlamaIndex's embedding transforms). A node with no text (empty or whitespace)
    has no tokens to pool: it is dropped from the output, with a warning naming it and its
    source, and the rest of its document is embedded as before. Documents longer than the
    context are covered by overlapping windows (the embedder's ``window_tokens`` /
    ``window_overlap``).

    Example:
        >>> from llama_index.core.ingestion import IngestionPipeline
        >>> from llama_index.core.node_parser import SentenceSplitter
        >>> embed_model = JinaV3Embedding(dimensions=256)
        >>> pipeline = IngestionPipeline(
        ...     transformations=[SentenceSplitter(chunk_size=128), JinaV3LateChunking(embed_model)],
        ...     vector_store=vector_store,
        ... )
        >>> pipeline.run(documents=documents)

    Args:
        embed_model: The :class:`JinaV3Embedding` whose embedder and ``dimensions`` are used
            (use the same one for queries).
        metadata_mode: Which metadata goes into each chunk's text (default none: the chunks
            concatenate to the document, as late chunking needs).
        batch_size: Nodes per embedding call (a larger document goes alone).
    """

    embed_model: JinaV3Embedding
    metadata_mode: MetadataMode = Field(default=MetadataMode.NONE)
    batch_size: int = Field(default=64, gt=0)

    def __init__(self, embed_model: JinaV3Embedding, **kwargs: Any) -> None:
        if not isinstance(embed_model, JinaV3Embedding):
            raise ConfigurationError("embed_model must be a JinaV3Embedding")
        unknown = kwargs.keys() - type(self).model_fields.keys()
        if unknown:
            raise unknown_arguments(type(self).__name__, unknown, type(self).model_fields)
        super().__init__(embed_model=embed_model, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "JinaV3LateChunking"

    def _flow(self, nodes: Sequence[BaseNode]) -> Flow[list[BaseNode]]:
        texts = [n.get_content(metadata_mode=self.metadata_mode) for n in nodes]

        def describe(i: int) -> str:
            source = _source_id(nodes[i])
            return f"node {nodes[i].node_id!r}" + (
                f" (source {source!r})" if source is not None else ""
            )

        groups = source_groups(
            [_source_id(n) for n in nodes],
            [getattr(n, "start_char_idx", None) for n in nodes],
            describe=describe,
            field="SOURCE relationship",
        )
        groups, empty = without_empty(groups, texts, describe, outcome="dropped")
        vectors = yield from embed_flow(
            texts,
            pack_groups(groups, self.batch_size),
            late_chunking=True,
            encode={"dimensions": self.embed_model.dimensions},
            describe=describe,
        )
        for node, vector in zip(nodes, vectors, strict=True):
            node.embedding = vector
        dropped = set(empty)  # nothing to retrieve, and nothing a store could index
        return [node for i, node in enumerate(nodes) if i not in dropped]

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        """Set every node's embedding, one source document per pass; nodes with no text are
        dropped (with a warning naming each)."""
        return run(self._flow(nodes), embedder=self.embed_model.embedder)

    async def acall(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        """The async twin of :meth:`__call__` (batches run one after another)."""
        return await arun(self._flow(nodes), embedder=await self.embed_model._async_embedder())
