"""A LlamaIndex ingestion pipeline, retriever and query engine with jina-embeddings-v3.

    python examples/llama_index_query.py --model jinaai/jina-embeddings-v3   # the real weights
    python examples/llama_index_query.py --model tests/fixtures/tiny-v3      # offline smoke run

IngestionPipeline: SentenceSplitter -> JinaV3LateChunking (each document's nodes embedded in
one pass, retrieval.passage) -> JinaV3VectorStore over an in-memory Qdrant (MilvusStore,
PineconeStore or QdrantEdgeStore work the same). Queries use retrieval.query through
JinaV3Embedding. The query engine runs with LlamaIndex's MockLLM so the example needs no LLM;
pass your own `llm=` for real answers. (The tiny test checkpoint has random weights: it runs
the whole pipeline, but its rankings mean nothing.)
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.llms import MockLLM
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

from jina_v3.connectors.llama_index import JinaV3Embedding, JinaV3LateChunking, JinaV3VectorStore
from jina_v3.connectors.qdrant import QdrantStore

CORPUS = Path(__file__).parent / "data" / "sample_corpus.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default=os.environ.get("JINA_V3_MODEL", "jinaai/jina-embeddings-v3")
    )
    parser.add_argument("--dimensions", type=int, default=32, help="Matryoshka size")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--chunk-size", type=int, default=24, help="tokens per node")
    args = parser.parse_args()

    documents = [
        Document(
            text=row["text"],
            id_=row["id"],
            metadata=row["metadata"],
            excluded_embed_metadata_keys=list(row["metadata"]),  # embed the text alone
        )
        for row in map(json.loads, CORPUS.read_text(encoding="utf-8").splitlines())
    ]
    embed_model = JinaV3Embedding(args.model, dimensions=args.dimensions)
    vector_store = JinaV3VectorStore(
        QdrantStore("sample_corpus", location=":memory:"),
        embed_model=embed_model,
        late_chunking=True,
    )
    pipeline = IngestionPipeline(
        transformations=[
            SentenceSplitter(chunk_size=args.chunk_size, chunk_overlap=0),
            JinaV3LateChunking(embed_model),
        ],
        vector_store=vector_store,
    )
    nodes = pipeline.run(documents=documents)
    print(f"ingested {len(nodes)} nodes of {len(documents)} documents ({args.dimensions}-d)")

    index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed_model)
    query = "What is the capital of Germany?"
    print(f"\nquery: {query}")
    for hit in index.as_retriever(similarity_top_k=args.k).retrieve(query):
        print(f"  {hit.score:+.3f}  {hit.node.ref_doc_id:<15} {hit.node.get_content()[:60]}")

    filters = MetadataFilters(filters=[MetadataFilter(key="topic", value="geography")])
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=args.k, filters=filters)
    response = engine.query(query)
    sources = [n.node.ref_doc_id for n in response.source_nodes]
    print(f"\nquery engine (topic = geography): sources {sources}")


if __name__ == "__main__":
    main()
