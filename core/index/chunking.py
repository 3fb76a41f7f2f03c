"""Chunking: documents cut into chunks under a token budget, and the one token estimate.

:class:`TextChunker` is a thin layer over `semantic-text-splitter` (Rust, well kept): it
splits at the largest semantic unit that fits (Markdown sections, paragraphs, sentences,
words), counts with the model's own tokenizer when the embedder is local (else with
:func:`estimate_tokens`), understands Markdown structure, handles CJK text, and returns each
chunk as a slice of the original text with its character offset, line breaks kept.

A chunk that would be only Markdown headings is merged with the section that follows it (a
heading alone says little and retrieves badly), so such a chunk may exceed the budget by the
heading's tokens. ``overlap`` repeats up to that many tokens of a chunk's end at the start of
the next. :func:`heading_paths` gives each chunk the headings it sits under (``# Guide >
## Backups``), which the index stores in the chunk's metadata (``HEADING_KEY``).

Late chunking embeds a whole document in one pass and pools one vector per chunk, so the
chunks only decide *where* the boundaries fall.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from jina_v3._packing import estimate_tokens
from jina_v3.errors import ConfigurationError, MissingDependencyError, check_positive
from jina_v3.tasks import V3_CONTEXT_TOKENS, V3_INSTRUCTIONS

__all__ = [
    "DEFAULT_CHUNK_TOKENS",
    "HEADING_KEY",
    "MAX_CHUNK_TOKENS",
    "TextChunker",
    "estimate_tokens",
    "heading_paths",
]

DEFAULT_CHUNK_TOKENS = 256
#: The largest chunk v3 embeds whole as a passage: its context less the passage instruction
#: (counted high: the estimate never undercounts); a larger one would be over the context.
MAX_CHUNK_TOKENS = V3_CONTEXT_TOKENS - estimate_tokens(V3_INSTRUCTIONS["retrieval.passage"])
#: The metadata key of a chunk's heading path.
HEADING_KEY = "headings"
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
# CommonMark code fences: an opening run of 3+ backticks (its info string without backticks)
# or tildes; the closing run is of the same character, at least as long, and nothing else
_FENCE_OPENS = re.compile(r"^ {0,3}(`{3,}(?=[^`]*$)|~{3,})")
_FENCE_CLOSES = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")


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
        >>> chunker = TextChunker(max_tokens=8)
        >>> chunker("# Berlin\\n\\nBerlin is big.\\nIt is old.")
        ['# Berlin\\n\\nBerlin is big.', 'It is old.']

    Args:
        max_tokens: Token budget of one chunk.
        tokenizer: A ``tokenizers.Tokenizer`` to count with (None: :func:`estimate_tokens`).
        markdown: Split at Markdown structure (headings, lists, code blocks) first; plain
            text splits at paragraphs, sentences and words either way.
        overlap: Tokens of a chunk's end repeated at the start of the next (0: none).
    """

    def __init__(
        self,
        max_tokens: int = DEFAULT_CHUNK_TOKENS,
        *,
        tokenizer: Any = None,
        markdown: bool = True,
        overlap: int = 0,
    ) -> None:
        check_positive("max_tokens", max_tokens)
        if (
            isinstance(overlap, bool)
            or not isinstance(overlap, int)
            or not 0 <= overlap < max_tokens
        ):
            raise ConfigurationError(
                f"overlap must be an integer from 0 to max_tokens - 1 ({max_tokens - 1}), got "
                f"{overlap!r}; pass a smaller --chunk-overlap"
            )
        self.max_tokens = max_tokens
        self.overlap = overlap
        self.markdown = bool(markdown)
        self.counts_tokens = tokenizer is not None
        sts = _splitters()
        kind = sts.MarkdownSplitter if markdown else sts.TextSplitter
        if tokenizer is not None:
            self._splitter = kind.from_huggingface_tokenizer(tokenizer, max_tokens, overlap)
        else:
            self._splitter = kind.from_callback(estimate_tokens, max_tokens, overlap)

    @classmethod
    def for_embedder(
        cls,
        embedder: Any,
        max_tokens: int | None = None,
        *,
        markdown: bool = True,
        overlap: int = 0,
    ) -> TextChunker:
        """The default chunker for `embedder` (``VectorIndex``'s and ``jina-v3 index``'s):
        counting with its tokenizer when it is local, else estimating; `max_tokens` None is
        ``DEFAULT_CHUNK_TOKENS``."""
        tokenizer = getattr(getattr(embedder, "backend", None), "tokenizer", None)
        budget = DEFAULT_CHUNK_TOKENS if max_tokens is None else max_tokens
        return cls(budget, tokenizer=tokenizer, markdown=markdown, overlap=overlap)

    def spans(self, text: str) -> list[tuple[int, str]]:
        """``(character offset, chunk)`` of each chunk, in order (whitespace-only text: none)."""
        if not isinstance(text, str):
            raise ConfigurationError(f"the chunker takes a string, got {type(text).__name__}")
        spans = [(int(offset), chunk) for offset, chunk in self._splitter.chunk_indices(text)]
        return _merge_headings(text, spans) if self.markdown else spans

    def __call__(self, text: str) -> list[str]:
        """The chunks of `text`, in order."""
        return [chunk for _, chunk in self.spans(text)]

    def __repr__(self) -> str:
        overlap = f", overlap={self.overlap}" if self.overlap else ""
        return f"TextChunker(max_tokens={self.max_tokens}, markdown={self.markdown}{overlap})"


def _heading_lead(offset: int, chunk: str, headings: set[int]) -> int:
    """How many characters the chunk at `offset` opens with that are headings (`headings`:
    where each heading's "#" stands in the text) or blank lines."""
    lead = 0
    for line in chunk.splitlines(keepends=True):
        if line.strip() and offset + lead + len(line) - len(line.lstrip(" ")) not in headings:
            break
        lead += len(line)
    return lead


def _only_headings(offset: int, chunk: str, headings: set[int]) -> bool:
    """Whether every non-blank line of the chunk at `offset` is a heading."""
    return bool(chunk.strip()) and _heading_lead(offset, chunk, headings) == len(chunk)


def _merge_headings(text: str, spans: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Each heading-only chunk joined to the chunk after it (the slice of `text` spanning
    both); a document's last chunk stays, whatever it holds."""
    headings = {at for at, _, _ in _headings(text)}
    out: list[tuple[int, str]] = []
    pending: int | None = None  # offset where held-back headings start
    for offset, chunk in spans:
        start = offset if pending is None else pending
        if _only_headings(offset, chunk, headings) and (offset, chunk) != spans[-1]:
            pending = start
            continue
        out.append((start, text[start : offset + len(chunk)]))
        pending = None
    return out


def _headings(text: str) -> list[tuple[int, int, str]]:
    """(offset of its "#", level, heading) of each ATX heading of `text`; no line of fenced
    code is one (CommonMark: a fence closes only with a run of its own character at least as
    long, or at the end of the text)."""
    found, fence, offset = [], "", 0
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if fence:
            closing = _FENCE_CLOSES.match(bare)
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence):
                fence = ""
        elif opening := _FENCE_OPENS.match(bare):
            fence = opening.group(1)
        elif match := _HEADING.match(bare):
            at = offset + len(line) - len(line.lstrip(" "))  # where its "#" stands
            found.append((at, len(match.group(1)), f"{match.group(1)} {match.group(2)}"))
        offset += len(line)
    return found


def heading_paths(text: str, chunks: Sequence[str]) -> list[str]:
    """For each chunk (consecutive slices of `text`, possibly overlapping; or, with `text`
    empty, a document's own chunks), the headings it sits under, outermost first, joined
    with " > " ("" for none). A chunk that opens with headings sits under them."""
    if not text:
        text = "\n\n".join(chunks)
    headings = _headings(text)
    starts = {at for at, _, _ in headings}
    paths, cursor = [], 0
    for chunk in chunks:
        found = text.find(chunk, cursor)
        offset = cursor if found < 0 else found
        cursor = offset + 1
        lead = _heading_lead(offset, chunk, starts)  # its own opening headings
        stack: list[tuple[int, str]] = []
        for at, level, line in headings:
            if at >= offset + lead:
                break
            stack = [(lv, h) for lv, h in stack if lv < level] + [(level, line)]
        paths.append(" > ".join(h for _, h in stack))
    return paths
