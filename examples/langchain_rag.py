"""A LangChain RAG chain with jina-embeddings-v3: load, split, index, retrieve, answer.

    python examples/langchain_rag.py --model jinaai/jina-embeddings-v3   # the real weights
    python examples/langchain_rag.py --model tests/fixtures/tiny-v3      # offline smoke run

JinaV3TextSplitter cuts each document into chunks counted in the model's tokens ->
JinaV3VectorStore over Qdrant Edge (MilvusStore, PineconeStore or QdrantStore work the same)
embeds each document's chunks together (late chunking, retrieval.passage) -> the retriever
embeds the question with retrieval.query, filters in the jina_v3 dialect -> a prompt -> a chat
model. The chat model is langchain_core's fake one, so the example needs no LLM; put your own
(``ChatOpenAI``, ``ChatAnthropic`` ...) in its place for real answers. (The tiny test checkpoint
has random weights: it runs the whole chain, but its rankings mean nothing.)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough

from jina_v3.connectors.langchain import JinaV3Embeddings, JinaV3TextSplitter, JinaV3VectorStore
from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

CORPUS = Path(__file__).parent / "data" / "sample_corpus.jsonl"

PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "Answer from the context only; cite the sources.\n\nContext:\n{context}"),
        ("human", "{question}"),
    ]
)


def load() -> list[Document]:
    """One LangChain document per corpus line; `source` names it for late chunking."""
    rows = map(json.loads, CORPUS.read_text(encoding="utf-8").splitlines())
    return [
        Document(page_content=row["text"], metadata={"source": row["id"], **row["metadata"]})
        for row in rows
    ]


def context(documents: list[Document]) -> str:
    return "\n".join(f"[{d.metadata['source']}] {d.page_content}" for d in documents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default=os.environ.get("JINA_V3_MODEL", "jinaai/jina-embeddings-v3")
    )
    parser.add_argument("--dimensions", type=int, default=32, help="Matryoshka size")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--chunk-tokens", type=int, default=16, help="tokens per chunk")
    args = parser.parse_args()

    embeddings = JinaV3Embeddings(args.model, dimensions=args.dimensions)
    documents = load()
    chunks = JinaV3TextSplitter.for_embeddings(embeddings, args.chunk_tokens).split_documents(
        documents
    )
    with tempfile.TemporaryDirectory() as folder:
        store = QdrantEdgeStore("langchain_rag", path=folder)
        vectorstore = JinaV3VectorStore(store, embeddings, late_chunking=True)
        vectorstore.add_documents(chunks)
        print(f"indexed {len(chunks)} chunks of {len(documents)} documents ({args.dimensions}-d)")

        question = "What is the capital of Germany?"
        retriever = vectorstore.as_retriever(
            search_kwargs={"k": args.k, "filter": {"topic": "geography"}}
        )
        print(f"\nquestion: {question}")
        for document in retriever.invoke(question):
            print(f"  {document.metadata['source']:<12} {document.page_content[:60]}")

        llm = FakeListChatModel(responses=["Berlin [berlin]."])  # your chat model here
        chain = (
            {"context": retriever | context, "question": RunnablePassthrough()}
            | PROMPT
            | llm
            | StrOutputParser()
        )
        print(f"\nanswer: {chain.invoke(question)}")
        vectorstore.close()


if __name__ == "__main__":
    main()
