"""A Haystack indexing pipeline and query pipeline with jina-embeddings-v3.

    python examples/haystack_pipeline.py --model jinaai/jina-embeddings-v3   # the real weights
    python examples/haystack_pipeline.py --model tests/fixtures/tiny-v3      # offline smoke run

Indexing: DocumentSplitter (by word) -> JinaV3DocumentEmbedder (retrieval.passage, late
chunking per source document) -> JinaV3DimensionGuard -> DocumentWriter. Querying:
JinaV3TextEmbedder (retrieval.query) -> InMemoryEmbeddingRetriever, with and without a
metadata filter. Swap the in-memory store for QdrantDocumentStore, MilvusDocumentStore or
PineconeDocumentStore (and their retrievers) unchanged. (The tiny test checkpoint has random
weights: it runs the whole pipeline, but its rankings mean nothing.)
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from haystack import Document, Pipeline
from haystack.components.preprocessors import DocumentSplitter
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.components.writers import DocumentWriter
from haystack.document_stores.in_memory import InMemoryDocumentStore

from jina_v3.connectors.haystack import (
    JinaV3DimensionGuard,
    JinaV3DocumentEmbedder,
    JinaV3TextEmbedder,
)

CORPUS = Path(__file__).parent / "data" / "sample_corpus.jsonl"
QUERIES = [
    ("What is the capital of Germany?", None),
    ("How do cells get their energy?", {"field": "meta.lang", "operator": "in", "value": ["en"]}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default=os.environ.get("JINA_V3_MODEL", "jinaai/jina-embeddings-v3")
    )
    parser.add_argument("--split-length", type=int, default=8, help="words per split")
    parser.add_argument("--dimensions", type=int, default=32, help="Matryoshka size")
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()

    documents = [
        Document(id=row["id"], content=row["text"], meta=row["metadata"])
        for row in map(json.loads, CORPUS.read_text(encoding="utf-8").splitlines())
    ]
    store = InMemoryDocumentStore(embedding_similarity_function="cosine")

    indexing = Pipeline()
    indexing.add_component(
        "split", DocumentSplitter(split_by="word", split_length=args.split_length)
    )
    indexing.add_component(
        "embed",
        JinaV3DocumentEmbedder(
            model=args.model, dimensions=args.dimensions, late_chunking=True, progress_bar=False
        ),
    )
    indexing.add_component("guard", JinaV3DimensionGuard(document_store=store))
    indexing.add_component("write", DocumentWriter(store))
    indexing.connect("split", "embed")
    indexing.connect("embed.documents", "guard.documents")
    indexing.connect("guard.documents", "write.documents")
    result = indexing.run({"split": {"documents": documents}}, include_outputs_from={"embed"})
    usage = result["embed"]["meta"]["usage"]["total_tokens"]
    print(
        f"indexed {result['write']['documents_written']} splits of {len(documents)} documents "
        f"({args.dimensions}-d, {usage} tokens)"
    )

    querying = Pipeline()
    querying.add_component(
        "embed", JinaV3TextEmbedder(model=args.model, dimensions=args.dimensions)
    )
    querying.add_component("retrieve", InMemoryEmbeddingRetriever(store, top_k=args.k))
    querying.connect("embed.embedding", "retrieve.query_embedding")
    for query, filters in QUERIES:
        print(f"\nquery: {query}" + (f"   filters: {json.dumps(filters)}" if filters else ""))
        out = querying.run({"embed": {"text": query}, "retrieve": {"filters": filters}})
        for doc in out["retrieve"]["documents"]:
            print(f"  {doc.score:+.3f}  {doc.meta['source_id']:<15} {doc.content[:60]}")


if __name__ == "__main__":
    main()
