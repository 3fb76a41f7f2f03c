"""Chunking: documents cut into chunks under a token budget, and the one token estimate.

:class:`TextChunker` is a thin layer over `semantic-text-splitter` (Rust, well kept): it
splits at the largest semantic unit that fits (Markdown sections, paragraphs, sentences,
words), counts with the model's own tokenizer when the embedder is local (else with
:func:`estimate_tokens`), understands Markdown structure, handles CJK text, and returns each
chunk as a slice of the original text with its character offset, line breaks kept.

Late chunking embeds a whole document in one pass and pools one vector per chunk, so the
chunks only decide *where* the boundaries fall.
"""

from __future__ import annotations

from typing import Any

from jina_v3._packing import estimate_tokens
from jina_v3.errors import ConfigurationError, MissingDependencyError
from jina_v3.tasks import V3_CONTEXT_TOKENS, V3_INSTRUCTIONS

__all__ = ["DEFAULT_CHUNK_TOKENS", "MAX_CHUNK_TOKENS", "TextChunker", "estimate_tokens"]

DEFAULT_CHUNK_TOKENS = 256
#: The largest chunk v3 embeds whole as a passage: its context less the passage instruction
#: (counted high: the estimate never undercounts); a larger one would be over the context.
MAX_CHUNK_TOKENS = V3_CONTEXT_TOKENS - estimate_tokens(V3_INSTRUCTIONS["retrieval.passage"])


def _splitters() -> Any:
    try:
        import semantic_text_splitter
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingDependencyError(
            "semantic-text-splitter is not installed; run `pip install jina-v3-connectors`."
        ) from exc
    return semantic_text_splitter


class TextChunker:
    """Cuts a text into chunks of at most `max_tokens` tokens, each a slice of the text.

    Example:
        >>> chunker = TextChunker(max_tokens=16)
        >>> chunker("# Berlin\\n\\nBerlin is big.\\nIt is old.")
        ['# Berlin', 'Berlin is big.\\nIt is old.']

    Args:
        max_tokens: Token budget of one chunk.
        tokenizer: A ``tokenizers.Tokenizer`` to count with (None: :func:`estimate_tokens`).
        markdown: Split at Markdown structure (headings, lists, code blocks) first; plain
            text splits at paragraphs, sentences and words either way.
    """

    def __init__(
        self,
        max_tokens: int = DEFAULT_CHUNK_TOKENS,
        *,
        tokenizer: Any = None,
        markdown: bool = True,
    ) -> None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ConfigurationError(f"max_tokens must be a positive integer, got {max_tokens!r}")
        self.max_tokens = max_tokens
        self.markdown = bool(markdown)
        self.counts_tokens = tokenizer is not None
        sts = _splitters()
        kind = sts.MarkdownSplitter if markdown else sts.TextSplitter
        if tokenizer is not None:
            self._splitter = kind.from_huggingface_tokenizer(tokenizer, max_tokens)
        else:
            self._splitter = kind.from_callback(estimate_tokens, max_tokens)

    @classmethod
    def for_embedder(
        cls, embedder: Any, max_tokens: int | None = None, *, markdown: bool = True
    ) -> TextChunker:
        """The default chunker for `embedder` (``VectorIndex``'s and ``jina-v3 index``'s):
        counting with its tokenizer when it is local, else estimating; `max_tokens` None is
        ``DEFAULT_CHUNK_TOKENS``."""
        tokenizer = getattr(getattr(embedder, "backend", None), "tokenizer", None)
        budget = DEFAULT_CHUNK_TOKENS if max_tokens is None else max_tokens
        return cls(budget, tokenizer=tokenizer, markdown=markdown)

    def spans(self, text: str) -> list[tuple[int, str]]:
        """``(character offset, chunk)`` of each chunk, in order (whitespace-only text: none)."""
        if not isinstance(text, str):
            raise ConfigurationError(f"the chunker takes a string, got {type(text).__name__}")
        return [(int(offset), chunk) for offset, chunk in self._splitter.chunk_indices(text)]

    def __call__(self, text: str) -> list[str]:
        """The chunks of `text`, in order."""
        return [chunk for _, chunk in self.spans(text)]

    def __repr__(self) -> str:
        return f"TextChunker(max_tokens={self.max_tokens}, markdown={self.markdown})"
