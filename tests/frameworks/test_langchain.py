"""LangChain integration on real engines: the task on each side, late chunking per source
document, filters in the jina_v3 dialect, idempotent ids, the key never leaked, the splitter,
and langchain-qdrant's own store with JinaV3Embeddings unchanged."""

from __future__ import annotations

import asyncio
import pickle
import random
import uuid

import numpy as np
import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("torch")

from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.load import dumpd, dumps

from jina_v3 import AuthenticationError, ConfigurationError, DimensionMismatchError
from jina_v3.connectors.langchain import JinaV3Embeddings, JinaV3TextSplitter, JinaV3VectorStore
from tests.conftest import TINY_MODEL
from tests.connectors import _milvus_pinecone as milvus_pinecone
from tests.frameworks.conftest import CORPUS, DIMS, cosine, matching_query

SECRET = "sk-jina-never-shown-0042"


@pytest.fixture(scope="module", autouse=True)
def _stop_servers():
    yield
    milvus_pinecone.cleanup()


@pytest.fixture
def embeddings(tiny_embedder):
    return JinaV3Embeddings(embedder=tiny_embedder, dimensions=DIMS)


def _qdrant(name, tmp_path):
    from jina_v3.connectors.qdrant import QdrantStore

    return QdrantStore(name, location=":memory:")


def _edge(name, tmp_path):
    pytest.importorskip("qdrant_edge")
    from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

    return QdrantEdgeStore(name, path=tmp_path / "edge")


STORES = {
    "qdrant": _qdrant,
    "qdrant-edge": _edge,
    "milvus-lite": milvus_pinecone.FACTORIES["milvus-lite"],
    "pinecone": milvus_pinecone.FACTORIES["pinecone"],
}


def make_store(name, tmp_path):
    return STORES[name](f"lc_{uuid.uuid4().hex[:10]}", tmp_path)


# -- embeddings --------------------------------------------------------------------------------


def test_query_and_document_sides_use_their_tasks(embeddings, tiny_embedder):
    texts = [text for _, text, _ in CORPUS]
    passages = tiny_embedder.encode_passages(texts, dimensions=DIMS)
    query = tiny_embedder.encode_queries(texts[0], dimensions=DIMS)
    np.testing.assert_allclose(embeddings.embed_documents(texts), passages, atol=1e-6)
    np.testing.assert_allclose(embeddings.embed_query(texts[0]), query, atol=1e-6)
    assert abs(cosine(query, passages[0]) - 1.0) > 1e-3  # really two different tasks

    async def both():
        return await embeddings.aembed_documents(texts), await embeddings.aembed_query(texts[0])

    adocs, aquery = asyncio.run(both())
    np.testing.assert_allclose(adocs, passages, atol=1e-6)
    np.testing.assert_allclose(aquery, query, atol=1e-6)


def test_settings_and_embedder_are_exclusive(tiny_embedder):
    with pytest.raises(ConfigurationError, match="not both"):
        JinaV3Embeddings(embedder=tiny_embedder, dimensions=8, device="cpu")
    with pytest.raises(ConfigurationError, match="backend='api'") as conflict:
        JinaV3Embeddings(backend="api", api_key=SECRET, device="cpu")
    with pytest.raises(ConfigurationError, match="dimensions: Input should be greater") as bad:
        JinaV3Embeddings(backend="api", api_key=SECRET, dimensions=0)
    with pytest.raises(ConfigurationError, match="colour: Extra inputs") as unknown:
        JinaV3Embeddings(str(TINY_MODEL), colour=SECRET)
    for refused in (conflict, bad, unknown):
        assert SECRET not in str(refused.value)


# -- the key -----------------------------------------------------------------------------------


def test_the_key_never_leaks(monkeypatch):
    given = JinaV3Embeddings(api_key=SECRET, base_url="http://127.0.0.1:9")
    assert given.backend == "api" and given.api_key.get_secret_value() == SECRET
    for shown in (repr(given), str(given), given.model_dump_json(), dumps(given)):
        assert SECRET not in shown
    assert dumpd(given)["kwargs"]["api_key"] == {
        "lc": 1,
        "type": "secret",
        "id": ["JINA_API_KEY"],
    }
    with pytest.raises(TypeError, match="api_key=") as refused:
        pickle.dumps(given)
    assert SECRET not in str(refused.value)

    # a key from the environment travels as the variable's name and is read again on load
    monkeypatch.setenv("JINAAI_API_KEY", SECRET)
    from_env = JinaV3Embeddings(backend="api", base_url="http://127.0.0.1:9")
    assert from_env.api_key.get_secret_value() == SECRET
    assert dumpd(from_env)["kwargs"]["api_key"]["id"] == ["JINAAI_API_KEY"]
    data = pickle.dumps(from_env)
    assert SECRET.encode() not in data
    restored = pickle.loads(data)
    assert restored.api_key.get_secret_value() == SECRET
    assert restored.base_url == "http://127.0.0.1:9"


def test_pickles_carry_settings_only(tiny_embedder):
    local = JinaV3Embeddings(str(TINY_MODEL), dtype="float32", dimensions=DIMS)
    vector = local.embed_query("Berlin")  # the model is loaded: it does not travel
    restored = pickle.loads(pickle.dumps(local))
    np.testing.assert_allclose(restored.embed_query("Berlin"), vector, atol=1e-6)
    with pytest.raises(TypeError, match="embedder="):
        pickle.dumps(JinaV3Embeddings(embedder=tiny_embedder))


def test_a_refused_key_is_not_in_the_error(tiny_model_path):
    pytest.importorskip("fastapi")
    from jina_v3 import Embedder
    from jina_v3.server import create_app
    from tests._servers import ServerThread

    app = create_app(Embedder(str(tiny_model_path), dtype="float32"), api_key="the-right-key")
    with ServerThread(app) as server:
        wrong = JinaV3Embeddings(api_key=SECRET, base_url=server.url, max_retries=0)
        with pytest.raises(AuthenticationError) as refused:
            wrong.embed_query("hello")
        wrong.close()
    assert SECRET not in str(refused.value) and SECRET not in repr(refused.value)


# -- the vector store on each engine -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STORES))
def test_vector_store_tasks_filters_and_ids(name, tmp_path, embeddings, tiny_embedder):
    vectorstore = JinaV3VectorStore(make_store(name, tmp_path), embeddings)
    ids = [doc_id for doc_id, _, _ in CORPUS]
    texts = [text for _, text, _ in CORPUS]
    metadatas = [{"lang": lang} for _, _, lang in CORPUS]
    assert vectorstore.add_texts(texts, metadatas, ids=ids) == ids
    passages = tiny_embedder.encode_passages(texts, dimensions=DIMS)  # retrieval.passage
    target = matching_query(tiny_embedder, texts, passages)
    query = tiny_embedder.encode_queries(texts[target], dimensions=DIMS)  # retrieval.query
    by_id = dict(zip(ids, passages, strict=True))

    hits = vectorstore.similarity_search_with_score(texts[target], k=5)
    assert hits[0][0].id == ids[target] and len(hits) == 5
    assert hits[0][0] == Document(
        id=ids[target], page_content=texts[target], metadata=metadatas[target]
    )
    for document, score in hits:
        assert score == pytest.approx(cosine(query, by_id[document.id]), abs=1e-4)
    wrong_task = tiny_embedder.encode_passages(texts[target], dimensions=DIMS)
    assert abs(cosine(wrong_task, passages[target]) - hits[0][1]) > 1e-3
    by_vector = vectorstore.similarity_search_by_vector(query.tolist(), k=5)
    assert [d.id for d in by_vector] == [d.id for d, _ in hits]

    # filters in the jina_v3 dialect, through the retriever too
    other = "de" if metadatas[target]["lang"] == "en" else "en"
    retriever = vectorstore.as_retriever(search_kwargs={"k": 5, "filter": {"lang": other}})
    filtered = retriever.invoke(texts[target])
    assert filtered and all(d.metadata["lang"] == other for d in filtered)
    best = max((i for i, m in enumerate(metadatas) if m["lang"] == other),
               key=lambda i: passages[i] @ query)  # fmt: skip
    assert filtered[0].id == ids[best]

    async def async_twins():
        return (
            await vectorstore.asimilarity_search_with_score(texts[target], k=5),
            await retriever.ainvoke(texts[target]),
        )

    async_hits, async_filtered = asyncio.run(async_twins())
    assert [d.id for d, _ in async_hits] == [d.id for d, _ in hits]
    np.testing.assert_allclose([s for _, s in async_hits], [s for _, s in hits], atol=1e-5)
    assert [d.id for d in async_filtered] == [d.id for d in filtered]

    mmr = vectorstore.max_marginal_relevance_search(texts[target], k=3, fetch_k=5)
    assert len({d.id for d in mmr}) == 3 and mmr[0].id == ids[target]

    # ids: adding again replaces, get_by_ids keeps the asked order, delete removes
    vectorstore.add_texts(["Berlin has a new text."], [{"lang": "en"}], ids=["berlin"])
    assert vectorstore.store.count() == len(CORPUS)
    got = vectorstore.get_by_ids(["reef", "missing", "berlin"])
    assert [d.id for d in got] == ["reef", "berlin"]
    assert got[1].page_content == "Berlin has a new text."
    vectorstore.delete(["berlin", "never-added"])
    assert vectorstore.store.count() == len(CORPUS) - 1
    vectorstore.close()


@pytest.mark.parametrize("name", ["milvus-lite", "pinecone", "qdrant-edge"])
def test_late_chunking_per_source_document(name, tmp_path, embeddings, tiny_embedder):
    splitter = JinaV3TextSplitter.for_embeddings(embeddings, max_tokens=8)
    sources = [Document(page_content=text, metadata={"source": doc_id, "lang": lang})
               for doc_id, text, lang in CORPUS]  # fmt: skip
    chunks = splitter.split_documents(sources)
    assert len(chunks) > len(sources)
    shuffled = chunks[:]
    random.Random(7).shuffle(shuffled)  # the chunks of one document need not arrive together
    vectorstore = JinaV3VectorStore(make_store(name, tmp_path), embeddings, late_chunking=True)
    if name == "pinecone":  # the async twin: the same flow with the AsyncEmbedder
        ids = asyncio.run(vectorstore.aadd_documents(shuffled))
    else:
        ids = vectorstore.add_documents(shuffled)
    assert vectorstore.store.read_signature().late_chunking is True

    # the reference: each source document's chunks in order, one late-chunked pass each
    arrays = tiny_embedder.encode_late_chunked(
        [[c.page_content for c in chunks if c.metadata["source"] == s.metadata["source"]]
         for s in sources],
        dimensions=DIMS,
    )  # fmt: skip
    reference = {}
    for source, array in zip(sources, arrays, strict=True):
        mine = [c for c in chunks if c.metadata["source"] == source.metadata["source"]]
        for chunk, row in zip(mine, array, strict=True):
            reference[(chunk.metadata["source"], chunk.metadata["start_index"])] = row
    vectors = {
        i: reference[(c.metadata["source"], c.metadata["start_index"])]
        for i, c in zip(ids, shuffled, strict=True)
    }
    texts = [c.page_content for c in shuffled]
    target = matching_query(tiny_embedder, texts, np.stack([vectors[i] for i in ids]))
    query = tiny_embedder.encode_queries(texts[target], dimensions=DIMS)
    hits = vectorstore.similarity_search_with_score(texts[target], k=4)
    assert hits[0][0].id == ids[target]
    for document, score in hits:
        assert score == pytest.approx(cosine(query, vectors[document.id]), abs=1e-4)
    # a chunk embedded on its own differs: the document's context is really in the vector
    alone = tiny_embedder.encode_passages(texts[target], dimensions=DIMS)
    assert abs(cosine(query, alone) - hits[0][1]) > 1e-4
    vectorstore.close()


def test_signature_is_checked_on_every_use(tmp_path, tiny_embedder):
    store = _edge("sig", tmp_path)
    first = JinaV3VectorStore(store, JinaV3Embeddings(embedder=tiny_embedder, dimensions=DIMS))
    first.add_texts(["Berlin is big."], ids=["b"])
    other = JinaV3VectorStore(store, JinaV3Embeddings(embedder=tiny_embedder, dimensions=16))
    with pytest.raises(DimensionMismatchError, match="dimensions=32"):
        other.similarity_search("Berlin")
    with pytest.raises(DimensionMismatchError):
        other.add_texts(["Paris is big."])
    assert first.get_by_ids(["b"])[0].page_content == "Berlin is big."  # nothing lost
    store.close()


def test_bad_input_is_refused_before_anything_is_written(tmp_path, embeddings):
    vectorstore = JinaV3VectorStore(_qdrant("bad", tmp_path), embeddings)
    with pytest.raises(ConfigurationError, match="reserved"):
        vectorstore.add_texts(["a"], [{"text": "clash"}])
    with pytest.raises(ConfigurationError, match="one of each"):
        vectorstore.add_texts(["a", "b"], ids=["only-one"])
    with pytest.raises(ConfigurationError, match="late_chunking=True needs JinaV3Embeddings"):
        JinaV3VectorStore(_qdrant("fake", tmp_path), DeterministicFakeEmbedding(size=4),
                          late_chunking=True)  # fmt: skip
    with pytest.raises(ConfigurationError, match="store='nowhere' is not a store URI"):
        JinaV3VectorStore.from_texts(["a"], embeddings, store="nowhere")
    with pytest.raises(ConfigurationError, match="jina_v3 store"):
        JinaV3VectorStore(object(), embeddings)
    assert vectorstore.similarity_search("a", k=1) == []


def test_from_texts(tmp_path, embeddings):
    vectorstore = JinaV3VectorStore.from_texts(
        ["Berlin is big.", "Paris is old."], embeddings, ids=["b", "p"], store=_edge("ft", tmp_path)
    )
    assert {d.id for d in vectorstore.similarity_search("Berlin", k=2)} == {"b", "p"}
    vectorstore.close()


# -- the splitter ------------------------------------------------------------------------------


def test_splitter_counts_model_tokens_and_keeps_offsets(tiny_embedder):
    splitter = JinaV3TextSplitter.for_embeddings(tiny_embedder, max_tokens=12)
    text = "# Berlin\n\nBerlin is the capital of Germany and its largest city. " * 3
    documents = splitter.create_documents([text], [{"source": "berlin"}])
    tokenizer = tiny_embedder.backend.tokenizer
    heading = "# Berlin\n\n"  # a heading is never a chunk alone: it joins its section
    for document in documents:
        offset = document.metadata["start_index"]
        assert text[offset : offset + len(document.page_content)] == document.page_content
        section = document.page_content.removeprefix(heading)  # the budget is the section's
        assert len(tokenizer.encode(section, add_special_tokens=False).ids) <= 12
        assert document.metadata["source"] == "berlin"
    assert documents[0].page_content.startswith(heading + "Berlin")  # Markdown-aware
    assert splitter.split_text(text) == [d.page_content for d in documents]


# -- LangChain's own Qdrant store, unchanged ---------------------------------------------------


def test_langchain_qdrant_store_with_jina_embeddings(embeddings, tiny_embedder):
    qdrant = pytest.importorskip("langchain_qdrant")
    texts = [text for _, text, _ in CORPUS]
    store = qdrant.QdrantVectorStore.from_texts(
        texts, embeddings, location=":memory:", collection_name="lc-qdrant"
    )
    passages = tiny_embedder.encode_passages(texts, dimensions=DIMS)
    target = matching_query(tiny_embedder, texts, passages)
    query = tiny_embedder.encode_queries(texts[target], dimensions=DIMS)
    hits = store.similarity_search_with_score(texts[target], k=5)
    assert hits[0][0].page_content == texts[target]
    by_text = dict(zip(texts, passages, strict=True))
    for document, score in hits:
        assert score == pytest.approx(cosine(query, by_text[document.page_content]), abs=1e-4)


def test_a_missing_langchain_names_the_extra(monkeypatch):
    import importlib
    import sys

    from jina_v3.errors import MissingDependencyError

    for name in [m for m in sys.modules if m.startswith("jina_v3.connectors.langchain")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "langchain_core", None)
    with pytest.raises(MissingDependencyError, match=r"jina-v3-connectors\[langchain\]"):
        importlib.import_module("jina_v3.connectors.langchain")
