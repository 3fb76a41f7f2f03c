"""`JinaV3TextSplitter`: LangChain's ``TextSplitter`` over the project's chunker.

Chunks are counted in the model's own tokens (when the embedder is local; else the project's
estimate), split at the largest unit that fits (Markdown sections, paragraphs, sentences,
words) and kept as exact slices of the text: :class:`~jina_v3.chunking.TextChunker` does the
work, this class only speaks LangChain.
"""

from __future__ import annotations

import copy
from typing import Any

from langchain_core.documents import Document
from langchain_text_splitters import TextSplitter

from jina_v3.index.chunking import DEFAULT_CHUNK_TOKENS, TextChunker


class JinaV3TextSplitter(TextSplitter):
    """Split texts into chunks of at most `max_tokens` jina-embeddings-v3 tokens.

    Each chunk's metadata gets ``start_index`` (its character offset in the text), which
    :class:`JinaV3VectorStore` uses with ``source`` to late-chunk a document's chunks together.

    Example:
        >>> from jina_v3.connectors.langchain import JinaV3Embeddings, JinaV3TextSplitter
        >>> splitter = JinaV3TextSplitter.for_embeddings(JinaV3Embeddings(), max_tokens=256)
        >>> chunks = splitter.split_documents(documents)

    Args:
        max_tokens: Token budget of one chunk.
        tokenizer: A ``tokenizers.Tokenizer`` to count with (None: the project's estimate);
            :meth:`for_embeddings` takes the local model's own.
        markdown: Split at Markdown structure first.
    """

    def __init__(
        self,
        max_tokens: int = DEFAULT_CHUNK_TOKENS,
        *,
        tokenizer: Any = None,
        markdown: bool = True,
    ) -> None:
        self._adopt(TextChunker(max_tokens, tokenizer=tokenizer, markdown=markdown))

    def _adopt(self, chunker: TextChunker) -> None:
        self.chunker = chunker
        # no overlap: a chunk is a slice of the text; the model's tokens are the measure
        super().__init__(chunk_size=chunker.max_tokens, chunk_overlap=0, add_start_index=True)

    @classmethod
    def for_embeddings(
        cls, embeddings: Any, max_tokens: int = DEFAULT_CHUNK_TOKENS, *, markdown: bool = True
    ) -> JinaV3TextSplitter:
        """A splitter counting with the tokenizer of `embeddings` (a :class:`JinaV3Embeddings`
        or an :class:`~jina_v3.Embedder`) when its model is local (loads it)."""
        splitter = cls.__new__(cls)
        embedder = getattr(embeddings, "embedder", embeddings)
        splitter._adopt(TextChunker.for_embedder(embedder, max_tokens, markdown=markdown))
        return splitter

    def split_text(self, text: str) -> list[str]:
        """The chunks of `text`, in order."""
        return self.chunker(text)

    def create_documents(
        self, texts: list[str], metadatas: list[dict[Any, Any]] | None = None
    ) -> list[Document]:
        """One document per chunk, with the text's metadata and the chunk's exact
        ``start_index``."""
        documents = []
        for i, text in enumerate(texts):
            for offset, chunk in self.chunker.spans(text):
                metadata = copy.deepcopy(metadatas[i]) if metadatas else {}
                metadata["start_index"] = offset
                documents.append(Document(page_content=chunk, metadata=metadata))
        return documents

    def __repr__(self) -> str:
        return f"JinaV3TextSplitter({self.chunker!r})"
