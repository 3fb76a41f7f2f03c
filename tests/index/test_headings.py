"""Chunks carry their context: the heading path each chunk sits under (stored in its
metadata), no chunk that is only a heading, and an overlap between neighbours counted in
model tokens."""

from __future__ import annotations

import itertools

import pytest

from jina_v3.chunking import TextChunker
from jina_v3.errors import ConfigurationError
from jina_v3.index.chunking import HEADING_KEY, heading_paths

GUIDE = (
    "# Guide\n\nThis guide explains how the service is run day to day.\n\n"
    "## Backups\n\nA snapshot of the walrus database is taken every night at two.\n"
    "Snapshots are kept for thirty days and copied to a second region.\n\n"
    "```bash\n# restore the latest snapshot (a comment, not a heading)\nrestore --latest\n```\n\n"
    "## Alerts\n\nPages go to the on-call engineer first.\n\n"
    "# Appendix\n\n## Glossary\n\n### Terms\n\nA walrus is the database's code name.\n"
)


HEADINGS = {"# Guide", "## Backups", "## Alerts", "# Appendix", "## Glossary", "### Terms"}


def test_no_chunk_is_only_a_heading_and_chunks_stay_slices():
    for tokens in (8, 12, 20, 40):
        chunks = TextChunker(max_tokens=tokens).spans(GUIDE)
        for offset, chunk in chunks:
            assert GUIDE[offset : offset + len(chunk)] == chunk
            lines = {ln.strip() for ln in chunk.splitlines() if ln.strip()}
            assert not lines <= HEADINGS, (tokens, chunk)


def test_each_chunk_knows_the_headings_it_sits_under():
    chunks = TextChunker(max_tokens=20)(GUIDE)
    paths = dict(zip(chunks, heading_paths(GUIDE, chunks), strict=True))
    by_text = {
        "walrus database is": "# Guide > ## Backups",
        "taken every night": "# Guide > ## Backups",
        "restore --latest": "# Guide > ## Backups",  # the fenced "# restore" is no heading
        "on-call engineer": "# Guide > ## Alerts",
        "code name": "# Appendix > ## Glossary > ### Terms",
        "day to day": "# Guide",
    }
    for words, path in by_text.items():
        (chunk,) = [c for c in chunks if words in c]
        assert paths[chunk] == path, (words, chunk)
    own = ["# A", "text", "## B", "more"]  # a document's own chunks, without text
    assert heading_paths("", own) == ["# A", "# A", "# A > ## B", "# A > ## B"]


def test_overlap_repeats_at_most_n_tokens_of_the_previous_chunk(tiny_embedder):
    tokenizer = tiny_embedder.backend.tokenizer
    text = " ".join(f"Sentence number {i} talks about walruses and snapshots." for i in range(40))
    plain = TextChunker(max_tokens=32, tokenizer=tokenizer).spans(text)
    overlapped = TextChunker(max_tokens=32, tokenizer=tokenizer, overlap=8).spans(text)
    shared = 0
    for (a, chunk_a), (b, _) in itertools.pairwise(overlapped):
        if b < a + len(chunk_a):  # the next chunk starts inside this one
            tail = text[b : a + len(chunk_a)]
            assert len(tokenizer.encode(tail, add_special_tokens=False).ids) <= 8
            shared += 1
    assert shared > 0
    for (a, _), (b, _) in itertools.pairwise(plain):
        assert b >= a  # and without overlap they do not
    with pytest.raises(ConfigurationError, match="--chunk-overlap"):
        TextChunker(max_tokens=32, overlap=32)


def test_the_index_stores_each_chunk_heading_path(tiny_embedder):
    pytest.importorskip("qdrant_client")
    from jina_v3 import Document, VectorIndex
    from jina_v3.connectors.qdrant import QdrantStore

    store = QdrantStore("headings", location=":memory:")
    index = VectorIndex(tiny_embedder, store, chunker=TextChunker.for_embedder(tiny_embedder, 24))
    index.add([Document("guide.md", GUIDE, {"lang": "en"}), Document("flat", "No headings.")])
    hits = index.search("walrus snapshot", k=50)
    by_chunk = {(h.document_id, h.chunk_index): h for h in hits}
    chunks = TextChunker.for_embedder(tiny_embedder, 24)(GUIDE)
    expected = heading_paths(GUIDE, chunks)
    assert len([k for k in by_chunk if k[0] == "guide.md"]) == len(chunks)
    for j, path in enumerate(expected):
        assert by_chunk["guide.md", j].metadata == {"lang": "en", HEADING_KEY: path}
    assert HEADING_KEY not in by_chunk["flat", 0].metadata
    store.close()


FENCED = (
    "# Guide\n\n## Examples\n\n"
    "~~~markdown\n```python\n# a comment inside a nested fence\n```\n# still example code\n~~~\n\n"
    "Text after the first example.\n\n"
    "````\n```\n# code inside a longer fence\n```\n````\n\n"
    "Text after the second example.\n\n"
    "``` not a fence: its info string has a `backtick`\n# Real\n\n"
    "Text under the real heading.\n\n"
    "```\n# an unclosed fence runs to the end\n"
)


@pytest.mark.parametrize("tokens", [6, 10, 24, 200])
def test_fenced_lines_are_never_headings_whatever_fence_is_inside(tokens):
    spans = TextChunker(max_tokens=tokens).spans(FENCED)
    paths = heading_paths(FENCED, [chunk for _, chunk in spans])
    real = FENCED.index("# Real\n")  # the one heading after "## Examples"
    for (offset, chunk), path in zip(spans, paths, strict=True):
        expected = "# Real" if offset >= real else "# Guide > ## Examples"
        assert path == expected, (tokens, chunk)
    assert any("# a comment" in chunk for _, chunk in spans)  # in a chunk, under Examples
