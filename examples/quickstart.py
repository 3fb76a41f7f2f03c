"""Index a sample corpus into an embedded Qdrant and search it: the project's main job.

    python examples/quickstart.py --model jinaai/jina-embeddings-v3      # the real weights
    python examples/quickstart.py --model tests/fixtures/tiny-v3         # offline smoke run

Passages are embedded with `retrieval.passage`, queries with `retrieval.query`, at the same
Matryoshka size; the collection records those settings and refuses a mismatched index.
(The tiny test checkpoint has random weights: it runs the whole pipeline, but its rankings
mean nothing.)
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from jina_v3 import Document, Embedder, VectorIndex
from jina_v3.connectors.qdrant import QdrantStore

CORPUS = Path(__file__).parent / "data" / "sample_corpus.jsonl"
QUERIES = [
    ("What is the capital of Germany?", None),
    ("How do cells get their energy?", None),
    ("skin care with aloe vera", {"lang": {"$in": ["de", "es"]}}),
    ("programming and machine learning", {"topic": "computing", "year": {"$gte": 2020}}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default=os.environ.get("JINA_V3_MODEL", "jinaai/jina-embeddings-v3")
    )
    parser.add_argument("--dimensions", type=int, default=None, help="Matryoshka size")
    parser.add_argument("--path", default=".jina-v3-demo/qdrant", help="embedded Qdrant folder")
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()

    embedder = Embedder(args.model)
    dimensions = args.dimensions or min(256, embedder.max_dimensions)
    documents = [
        Document(row["id"], row["text"], row["metadata"])
        for row in map(json.loads, CORPUS.read_text(encoding="utf-8").splitlines())
    ]
    with QdrantStore("sample_corpus", path=args.path) as store:
        index = VectorIndex(embedder, store, dimensions=dimensions, recreate=True)
        written = index.add(documents)
        print(
            f"indexed {written} documents ({dimensions}-d, {embedder.model_name}) into {args.path}"
        )
        for query, filter in QUERIES:
            print(f"\nquery: {query}" + (f"   filter: {json.dumps(filter)}" if filter else ""))
            for hit in index.search(query, k=args.k, filter=filter):
                print(f"  {hit.score:+.3f}  {hit.document_id:<15} {hit.text[:70]}")


if __name__ == "__main__":
    main()
