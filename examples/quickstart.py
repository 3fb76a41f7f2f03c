"""The main job: index the sample corpus into the default embedded store, then search it.

    python examples/quickstart.py --model tests/fixtures/tiny-v3         # offline smoke run
    python examples/quickstart.py --model jinaai/jina-embeddings-v3      # the real weights

It reads examples/data (Markdown and text in six languages, plus .jsonl knowledge bases),
chunks each document with the model's tokenizer, embeds the chunks with `retrieval.passage`
and writes them to Qdrant Edge in ./.jina-v3 (the store `jina-v3 index` and `jina-v3 search`
use by default), collection "quickstart"; queries are embedded with `retrieval.query` at the
same Matryoshka size. A second run re-embeds nothing: unchanged documents are skipped by their
content hash. The same collection from the shell:

    jina-v3 search "Which city is the capital of Germany?" --collection quickstart \
        --model tests/fixtures/tiny-v3
    jina-v3 info

(The tiny test checkpoint has random weights: it runs the whole pipeline, but its rankings
mean nothing.)
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from jina_v3 import Embedder, SignatureMismatchError, VectorIndex
from jina_v3.chunking import TextChunker
from jina_v3.connectors.uris import DEFAULT_STORE_URI, open_store
from jina_v3.sources import SkippedFile, read_corpus, shown

DATA = Path(__file__).parent / "data"
QUERIES = [
    ("Which city is the capital of Germany?", None),
    ("Wie funktioniert die Photosynthese?", None),  # German: how does photosynthesis work?
    ("a good dish to cook with rice", {"lang": {"$in": ["es", "ja", "zh"]}}),
    ("travel tips", {"topic": "travel", "year": {"$gte": 2020}}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default=os.environ.get("JINA_V3_MODEL", "jinaai/jina-embeddings-v3")
    )
    parser.add_argument("--store", default=DEFAULT_STORE_URI, help="a store URI")
    parser.add_argument("--collection", default="quickstart")
    parser.add_argument("--dimensions", type=int, default=None, help="Matryoshka size")
    parser.add_argument("-k", type=int, default=3)
    args = parser.parse_args()

    embedder = Embedder(args.model)
    dimensions = args.dimensions or min(256, embedder.max_dimensions)
    documents = []
    for item in read_corpus([DATA]):
        if isinstance(item, SkippedFile):
            print(item)
        else:
            documents.append(item)
    chunker = TextChunker.for_embedder(embedder, max_tokens=256)

    with open_store(args.store, args.collection) as store:
        index = VectorIndex(embedder, store, dimensions=dimensions, chunker=chunker)
        try:
            summary = index.ingest(documents, progress=True)
        except SignatureMismatchError as exc:  # indexed before with another model or size
            print(f"rebuilding the demo collection: {exc}")
            index = VectorIndex(
                embedder, store, dimensions=dimensions, chunker=chunker, recreate=True
            )
            summary = index.ingest(documents, progress=True)
        print(f"{summary} -> {args.store} (collection {args.collection!r})")

        for query, where in QUERIES:
            print(f"\nquery: {query}" + (f"   filter: {json.dumps(where)}" if where else ""))
            for hit in index.search(query, k=args.k, filter=where):
                text = " ".join(hit.text.split())[:70]
                source = shown(hit.metadata["source"])  # relative to the working directory
                print(f"  {hit.score:+.3f}  {source:<24} {text}")


if __name__ == "__main__":
    main()
