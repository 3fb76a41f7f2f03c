"""Index folders of .md / .txt / .jsonl files into a vector store, incrementally.

    python examples/index_corpus.py examples/data --model tests/fixtures/tiny-v3
    python examples/index_corpus.py examples/data --store milvus-lite:./docs.db --late-chunking
    JINA_API_KEY=jina_... python examples/index_corpus.py examples/data --api   # hosted API

The library side of `jina-v3 index`: `jina_v3.sources.read_corpus` reads the files (ids are
the files' absolute paths, or the .jsonl line's `id`; metadata `source`, `source_folders` and
the line's fields), a `TextChunker` cuts each document under a token budget (Markdown-aware,
original text kept), and `VectorIndex.ingest` embeds the chunks as passages and writes them,
skipping documents whose content is unchanged since the last run and replacing changed ones.
With `--api` the embeddings come from the hosted Jina API (`JINA_API_KEY`; `JINA_API_BASE_URL`
points it elsewhere, e.g. at `jina-v3 serve`). Search the result with examples/rag.py or
`jina-v3 search`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from jina_v3 import Embedder, VectorIndex
from jina_v3.chunking import TextChunker
from jina_v3.connectors.uris import DEFAULT_COLLECTION, DEFAULT_STORE_URI, open_store
from jina_v3.sources import SkippedFile, read_corpus

DATA = Path(__file__).parent / "data"


def make_embedder(args: argparse.Namespace) -> Embedder:
    """The hosted API with --api (key in JINA_API_KEY), else the local model."""
    if args.api:
        return Embedder(backend="api")
    return Embedder(args.model)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=[str(DATA)], help="files and folders")
    parser.add_argument("--store", default=DEFAULT_STORE_URI, help="a store URI")
    parser.add_argument("--collection", default=DEFAULT_COLLECTION)
    parser.add_argument(
        "--model", default=os.environ.get("JINA_V3_MODEL", "jinaai/jina-embeddings-v3")
    )
    parser.add_argument("--api", action="store_true", help="embed with the hosted Jina API")
    parser.add_argument("--dimensions", type=int, default=None, help="Matryoshka size")
    parser.add_argument("--late-chunking", action="store_true")
    parser.add_argument("--chunk-tokens", type=int, default=256)
    parser.add_argument("--recreate", action="store_true", help="drop the collection first")
    args = parser.parse_args()

    embedder = make_embedder(args)
    skipped = []

    def documents():  # streamed: the corpus is never all in memory
        for item in read_corpus(args.paths):
            if isinstance(item, SkippedFile):
                print(item, file=sys.stderr)
                skipped.append(item)
            else:
                yield item

    with open_store(args.store, args.collection) as store:
        index = VectorIndex(
            embedder,
            store,
            dimensions=args.dimensions,
            late_chunking=args.late_chunking,
            chunker=TextChunker.for_embedder(embedder, args.chunk_tokens),
            recreate=args.recreate,
        )
        summary = index.ingest(documents(), progress=True)
        summary.failed = len(skipped)
        print(f"{summary} -> {args.store} (collection {args.collection!r})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
