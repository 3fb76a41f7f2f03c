"""Retrieval-augmented generation, the retrieval half: find sources, build the prompt.

    python examples/rag.py "What can I eat in Lyon?" --model tests/fixtures/tiny-v3
    python examples/rag.py "Wo liegt Hamburg?" -k 3 --filter '{"lang": "de"}'
    JINA_API_KEY=jina_... python examples/rag.py "How do night trains work?" --api

It opens the collection that examples/index_corpus.py (or `jina-v3 index`) built, indexing
the sample corpus first if there is none; `VectorIndex.open` takes the dimensions and late
chunking from the collection's embedding signature, and the question is embedded with
`retrieval.query`. The hits become numbered sources in a prompt that asks the model to cite
them; the prompt is printed, ready for any LLM (pipe it into your client of choice). With
`--api` the question is embedded by the hosted Jina API (`JINA_API_KEY`, `JINA_API_BASE_URL`);
the collection must have been indexed with the API too (the signature check says so if not).
"""

from __future__ import annotations

import argparse
import json
import os
import textwrap
from pathlib import Path

from jina_v3 import Embedder, Hit, VectorIndex
from jina_v3.chunking import TextChunker
from jina_v3.connectors.uris import DEFAULT_COLLECTION, DEFAULT_STORE_URI, open_store
from jina_v3.sources import read_corpus, shown

DATA = Path(__file__).parent / "data"
PROMPT = """\
Answer the question using only the numbered sources below. Cite the sources you use as [1],
[2], ... after the sentences they support. If the sources do not contain the answer, say so.

{sources}

Question: {question}
Answer:"""


def build_prompt(question: str, hits: list[Hit]) -> str:
    """The question with its sources numbered [1]..[k], each with where it comes from."""
    blocks = []
    for number, hit in enumerate(hits, 1):
        source = str(hit.metadata.get("source", hit.document_id))
        where = shown(source)  # files as paths relative to the working directory
        if hit.document_id != source:  # a .jsonl line: the file and the line's id
            where = f"{where} › {shown(hit.document_id)}"
        if hit.chunk_index:
            where = f"{where}, part {hit.chunk_index + 1}"
        body = textwrap.indent(hit.text.strip(), "    ")
        blocks.append(f"[{number}] ({where})\n{body}")
    return PROMPT.format(sources="\n\n".join(blocks), question=question)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("question", nargs="?", default="Which city is the capital of Germany?")
    parser.add_argument("-k", type=int, default=4, help="sources in the prompt")
    parser.add_argument("--filter", default=None, help='metadata filter, e.g. \'{"lang": "en"}\'')
    parser.add_argument("--store", default=DEFAULT_STORE_URI, help="a store URI")
    parser.add_argument("--collection", default=DEFAULT_COLLECTION)
    parser.add_argument(
        "--model", default=os.environ.get("JINA_V3_MODEL", "jinaai/jina-embeddings-v3")
    )
    parser.add_argument("--api", action="store_true", help="embed with the hosted Jina API")
    parser.add_argument("--dimensions", type=int, default=None, help="only when indexing here")
    args = parser.parse_args()

    embedder = Embedder(backend="api") if args.api else Embedder(args.model)
    where = json.loads(args.filter) if args.filter else None
    with open_store(args.store, args.collection) as store:
        if store.read_signature() is None:
            print(f"no collection {args.collection!r} in {args.store}: indexing {DATA} first")
            chunker = TextChunker.for_embedder(embedder)
            index = VectorIndex(embedder, store, dimensions=args.dimensions, chunker=chunker)
            print(index.ingest(read_corpus([DATA])))
        index = VectorIndex.open(embedder, store)
        hits = index.search(args.question, k=args.k, filter=where)
    print(build_prompt(args.question, hits))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
