"""A simple built-in chunker: sentences packed into chunks under a token budget.

Late chunking embeds a whole document in one pass and pools one vector per chunk, so the
chunks only decide *where* the boundaries fall; sentences are the natural unit. The budget
is counted with the model's own tokenizer when the embedder is local, else estimated by
:func:`estimate_tokens` (the library's one estimate, also used to pack API requests).

Chunks are whitespace-stripped and never empty; joined by single spaces they give back the
text with its whitespace runs collapsed (the layout the late-chunking backends expect).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from jina_v3.errors import ConfigurationError

__all__ = ["SentenceChunker", "estimate_tokens", "split_sentences"]

# A sentence ends at . ! ? (or their CJK forms, or an ellipsis) followed by whitespace, or
# at a blank line; CJK enders need no space after them.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])\s*|\n\s*\n")


def split_sentences(text: str) -> list[str]:
    """Split `text` into sentences (stripped, non-empty)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def estimate_tokens(text: str) -> int:
    """Conservative token count without a tokenizer: ceil(UTF-8 bytes / 2).

    XLM-RoBERTa averages 3-5 bytes per token on Latin-script text and about 3 (one CJK
    character) elsewhere, so this is roughly twice the real count: never too low.
    """
    return (len(text.encode("utf-8", "surrogatepass")) + 1) // 2


def _estimate_all(texts: Sequence[str]) -> list[int]:
    return [estimate_tokens(t) for t in texts]


class SentenceChunker:
    """Packs consecutive sentences into chunks of at most `max_tokens` tokens.

    A sentence longer than the budget is split at word boundaries (and a word longer than
    the budget at character boundaries), so every chunk fits.

    Example:
        >>> chunker = SentenceChunker(max_tokens=12)
        >>> chunker("Berlin is big. Paris is old. Rome has hills.")
        ['Berlin is big. Paris is old.', 'Rome has hills.']

    Args:
        max_tokens: Token budget of one chunk.
        count_tokens: Callable ``list[str] -> list[int]``; None: :func:`estimate_tokens` each.
    """

    def __init__(
        self,
        max_tokens: int = 256,
        *,
        count_tokens: Callable[[Sequence[str]], Sequence[int]] | None = None,
    ) -> None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ConfigurationError(f"max_tokens must be a positive integer, got {max_tokens!r}")
        self.max_tokens = max_tokens
        self._count = count_tokens or _estimate_all

    @classmethod
    def for_embedder(cls, embedder: Any, max_tokens: int = 256) -> SentenceChunker:
        """A chunker counting with the embedder's tokenizer when it is local, else estimating."""
        backend = getattr(embedder, "backend", None)
        count = getattr(backend, "count_tokens", None)
        if count is None:
            return cls(max_tokens)

        def count_tokens(texts: Sequence[str]) -> list[int]:
            # count_tokens includes <s> and </s>; a chunk inside a document has neither.
            return [max(n - 2, 0) for n in count(list(texts), None)]

        return cls(max_tokens, count_tokens=count_tokens)

    def __call__(self, text: str) -> list[str]:
        """Chunks of `text`, in order."""
        if not isinstance(text, str):
            raise ConfigurationError(f"the chunker takes a string, got {type(text).__name__}")
        pieces = self._fit(split_sentences(text))
        chunks: list[str] = []
        current: list[str] = []
        for piece in pieces:
            candidate = " ".join([*current, piece])
            if current and self._tokens(candidate) > self.max_tokens:
                chunks.append(" ".join(current))
                current = [piece]
            else:
                current.append(piece)
        if current:
            chunks.append(" ".join(current))
        return chunks

    def __repr__(self) -> str:
        return f"SentenceChunker(max_tokens={self.max_tokens})"

    def _tokens(self, text: str) -> int:
        return int(self._count([text])[0])

    def _fit(self, sentences: list[str]) -> list[str]:
        """Sentences, with any over the budget split at words (or characters)."""
        counts = self._count(sentences) if sentences else []
        out: list[str] = []
        for sentence, n in zip(sentences, counts, strict=True):
            if n <= self.max_tokens:
                out.append(sentence)
                continue
            for word in self._pack(sentence.split()):
                out.append(word)
        return out

    def _pack(self, words: list[str]) -> list[str]:
        parts: list[str] = []
        current = ""
        for word in words:
            if self._tokens(word) > self.max_tokens:
                if current:
                    parts.append(current)
                    current = ""
                parts.extend(self._split_word(word))
                continue
            candidate = f"{current} {word}" if current else word
            if current and self._tokens(candidate) > self.max_tokens:
                parts.append(current)
                current = word
            else:
                current = candidate
        if current:
            parts.append(current)
        return parts

    def _split_word(self, word: str) -> list[str]:
        parts: list[str] = []
        start = 0
        while start < len(word):
            # largest prefix within budget: binary search over its length
            lo, hi = 1, len(word) - start
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self._tokens(word[start : start + mid]) <= self.max_tokens:
                    lo = mid
                else:
                    hi = mid - 1
            parts.append(word[start : start + lo])
            start += lo
        return parts
