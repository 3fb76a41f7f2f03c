"""The collection kinds of the matrix: every way the library writes a collection, each a
builder and the points it must store (computed here with the embedder, never read back).

Kinds differ in what the points carry (dense only, the keyword channel, late-chunked vectors,
a funnel vector, another Matryoshka size) and in who wrote them (`jina-v3 index`,
`VectorIndex`, LangChain, LlamaIndex, Haystack). Adding a kind is one entry in :data:`KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.matrix import _cli
from tests.matrix._stores import Location, Store

#: Every chunked kind chunks at this size: several chunks for the Markdown guide.
CHUNK_TOKENS = 32
#: The Matryoshka size of the library-written kinds (the tiny checkpoint's full size is 64).
DIMS = 32
FUNNEL = 8

#: The corpus every kind is written from: Markdown with sections, text, a .jsonl knowledge base.
CORPUS = {
    "guide.md": (
        "# Guide\n\n## Backups\n\nBackups run every night at two and keep thirty days of "
        "snapshots on the second disk.\n\n## Restore\n\nTo restore a snapshot, stop the "
        "service, copy the folder back and start it again. The printer in room 4 is not "
        "involved.\n"
    ),
    "notes/berlin.txt": "Berlin is the capital of Germany and its largest city by population.",
    "notes/printer.txt": "The printer reports error XJ-4471b after the paper jam in tray two.",
    "kb.jsonl": (
        '{"id": "faq-1", "text": "Reset your password under Settings, Account.", "lang": "en"}\n'
        '{"id": "faq-2", "text": "Passwort vergessen? Unter Einstellungen, Konto.", "lang": "de"}\n'
    ),
}


def write_corpus(folder: Path) -> Path:
    for name, text in CORPUS.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


@dataclass(frozen=True)
class Expected:
    """A point a kind must store."""

    document_id: str
    chunk_index: int | None
    text: str
    vector: np.ndarray
    metadata: dict[str, Any]


@dataclass
class Context:
    """What builders and operations share: the embedder, the folder the CLI runs in."""

    embedder: Any
    work: Path  # the CLI's working folder
    root: Path  # where the stores keep their data (tmpfs)

    def cli(self, *args: str, store: Store | None = None) -> _cli.Result:
        return _cli.run(*args, cwd=self.work, env=store.env() if store is not None else {})

    def documents(self, corpus: Path) -> list[Any]:
        from jina_v3.sources import read_corpus

        return list(read_corpus([corpus]))

    def keyword_encoder(self) -> Any:
        from jina_v3.index.keywords import encoder_for

        return encoder_for(self.embedder)


@dataclass(frozen=True)
class Kind:
    name: str
    #: `(context, store, location, corpus folder) -> None`: writes the collection.
    build: Callable[[Context, Store, Location, Path], None]
    #: `(context, corpus folder) -> {point id: Expected}`: what the collection holds.
    expected: Callable[[Context, Path], dict[str, Expected]]
    dimensions: int = DIMS
    hybrid: bool = False
    late_chunking: bool = False
    funnel: bool = False
    #: Written from the corpus files by the indexer (so `--prune` applies).
    indexed: bool = False
    #: Written by Haystack's own document stores: no jina-v3 signature, so jina-v3 and the
    #: jina-v3 framework stores refuse it.
    haystack: bool = False

    def holds(self, store: Store) -> bool:
        """Whether this kind can be written on `store` at all (a store that refuses it, such
        as hybrid on a store without a keyword channel, is a refusal cell: it holds)."""
        if self.funnel and not store.funnel:
            return False
        return store.haystack is not None if self.haystack else True

    def refused_on(self, store: Store) -> bool:
        """Whether writing this kind on `store` must be refused before anything is written."""
        return self.hybrid and not store.keyword_channel


# -- what the kinds store, computed directly ------------------------------------------------------


def _chunked(ctx: Context, corpus: Path, dims: int, late: bool) -> dict[str, Expected]:
    from jina_v3.chunking import TextChunker
    from jina_v3.store import point_id

    chunker = TextChunker.for_embedder(ctx.embedder, CHUNK_TOKENS)
    out = {}
    for doc in ctx.documents(corpus):
        chunks = [c for c in chunker(doc.text) if c.strip()] or [doc.text]
        if late:
            vectors = ctx.embedder.encode_late_chunked([chunks], dimensions=dims)[0]
        else:
            vectors = ctx.embedder.encode_passages(chunks, dimensions=dims)
        for j, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True)):
            out[point_id(doc.id, j)] = Expected(doc.id, j, chunk, vector, dict(doc.metadata))
    return out


def _whole(ctx: Context, corpus: Path, drop_lists: bool = False) -> dict[str, Expected]:
    """One point per document (the frameworks' kinds: a document is one text)."""
    from jina_v3.store import point_id

    docs = ctx.documents(corpus)
    vectors = ctx.embedder.encode_passages([d.text for d in docs], dimensions=DIMS)
    return {
        point_id(d.id): Expected(d.id, None, d.text, v, _metadata(d, drop_lists))
        for d, v in zip(docs, vectors, strict=True)
    }


def _metadata(doc: Any, drop_lists: bool) -> dict[str, Any]:
    # LlamaIndex keeps flat metadata only (no lists)
    return {k: v for k, v in doc.metadata.items() if not (drop_lists and isinstance(v, list))}


# -- builders -------------------------------------------------------------------------------------


def _by_cli(*flags: str) -> Callable[[Context, Store, Location, Path], None]:
    def build(ctx: Context, store: Store, where: Location, corpus: Path) -> None:
        args = ["index", str(corpus), "--store", where.uri, "--collection", where.collection]
        args += ["--chunk-tokens", str(CHUNK_TOKENS), "--dtype", "float32", "--quiet", *flags]
        result = ctx.cli(*args, store=store)
        if result.rc:
            raise Refused(result)

    return build


class Refused(Exception):
    """A builder's write was refused (the CLI's exit and its line)."""

    def __init__(self, result: _cli.Result) -> None:
        super().__init__(result.stderr)
        self.result = result


def _by_vector_index(funnel: int | None = None) -> Callable[..., None]:
    def build(ctx: Context, store: Store, where: Location, corpus: Path) -> None:
        from jina_v3 import VectorIndex
        from jina_v3.chunking import TextChunker

        options = {} if funnel is None else {"funnel_dimensions": funnel}
        with store.opened(where, **options) as target:
            chunker = TextChunker.for_embedder(ctx.embedder, CHUNK_TOKENS)
            index = VectorIndex(ctx.embedder, target, dimensions=DIMS, chunker=chunker)
            index.add(ctx.documents(corpus))

    return build


def _by_langchain(ctx: Context, store: Store, where: Location, corpus: Path) -> None:
    from jina_v3.connectors.langchain import JinaV3Embeddings, JinaV3VectorStore

    docs = ctx.documents(corpus)
    with store.opened(where) as target:
        embeddings = JinaV3Embeddings(embedder=ctx.embedder, dimensions=DIMS)
        JinaV3VectorStore(target, embeddings).add_texts(
            [d.text for d in docs],
            metadatas=[dict(d.metadata) for d in docs],
            ids=[d.id for d in docs],
        )


def _by_llama_index(ctx: Context, store: Store, where: Location, corpus: Path) -> None:
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    from jina_v3.connectors.llama_index import JinaV3Embedding, JinaV3VectorStore

    embed_model = JinaV3Embedding(embedder=ctx.embedder, dimensions=DIMS)
    nodes = []
    for doc in ctx.documents(corpus):
        node = TextNode(id_=doc.id, text=doc.text, metadata=_metadata(doc, drop_lists=True))
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc.id)
        nodes.append(node)
    embeddings = embed_model.get_text_embedding_batch([n.text for n in nodes])
    for node, embedding in zip(nodes, embeddings, strict=True):
        node.embedding = embedding
    with store.opened(where) as target:
        JinaV3VectorStore(target, embed_model=embed_model).add(nodes)


def _by_haystack(ctx: Context, store: Store, where: Location, corpus: Path) -> None:
    from haystack import Document

    from jina_v3.connectors.haystack import JinaV3DocumentEmbedder

    docs = [
        Document(id=d.id, content=d.text, meta=_metadata(d, drop_lists=True))
        for d in ctx.documents(corpus)
    ]
    embedder = JinaV3DocumentEmbedder(embedder=ctx.embedder, dimensions=DIMS, progress_bar=False)
    with store.haystack_opened(where, DIMS) as target:
        target.document_store.write_documents(embedder.run(docs)["documents"])


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "cli",
            _by_cli(),
            lambda ctx, corpus: _chunked(ctx, corpus, 64, late=False),
            dimensions=64,
            indexed=True,
        ),
        Kind(
            "cli-hybrid",
            _by_cli("--hybrid"),
            lambda ctx, corpus: _chunked(ctx, corpus, 64, late=False),
            dimensions=64,
            hybrid=True,
            indexed=True,
        ),
        Kind(
            "cli-late",
            _by_cli("--late-chunking"),
            lambda ctx, corpus: _chunked(ctx, corpus, 64, late=True),
            dimensions=64,
            late_chunking=True,
            indexed=True,
        ),
        Kind(
            "cli-16d",
            _by_cli("--dimensions", "16"),
            lambda ctx, corpus: _chunked(ctx, corpus, 16, late=False),
            dimensions=16,
            indexed=True,
        ),
        Kind(
            "vectorindex",
            _by_vector_index(),
            lambda ctx, corpus: _chunked(ctx, corpus, DIMS, late=False),
            indexed=True,
        ),
        Kind(
            "vectorindex-funnel",
            _by_vector_index(funnel=FUNNEL),
            lambda ctx, corpus: _chunked(ctx, corpus, DIMS, late=False),
            funnel=True,
            indexed=True,
        ),
        Kind("langchain", _by_langchain, lambda ctx, corpus: _whole(ctx, corpus)),
        Kind("llamaindex", _by_llama_index, lambda ctx, corpus: _whole(ctx, corpus, True)),
        Kind(
            "haystack", _by_haystack, lambda ctx, corpus: _whole(ctx, corpus, True), haystack=True
        ),
    )
}
