"""Haystack components on real pipelines and real document stores (Qdrant local, Milvus Lite,
Pinecone through pinecone-haystack against the Pinecone-API test server)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import numpy as np
import pytest

pytest.importorskip("haystack")
pytest.importorskip("torch")

from haystack import Document, Pipeline
from haystack.components.preprocessors import DocumentCleaner, DocumentSplitter
from haystack.components.writers import DocumentWriter
from haystack.core.errors import SerializationError
from haystack.utils import Secret

from jina_v3 import ConfigurationError, DimensionMismatchError, InputTooLongError, ModelLoadError
from jina_v3.connectors.haystack import (
    JinaV3DimensionGuard,
    JinaV3DocumentEmbedder,
    JinaV3TextEmbedder,
    check_document_store,
)
from tests.conftest import TINY_MODEL
from tests.frameworks.conftest import CORPUS, DIMS, cosine, matching_query

MODULE = "jina_v3.connectors.haystack"
ENV_KEY = {"type": "env_var", "env_vars": ["JINA_API_KEY", "JINAAI_API_KEY"], "strict": True}


def _doc_embedder(embedder, **kw):
    return JinaV3DocumentEmbedder(embedder=embedder, dimensions=DIMS, progress_bar=False, **kw)


def _sources() -> list[Document]:
    return [
        Document(id=doc_id, content=text, meta={"lang": lang, "name": doc_id})
        for doc_id, text, lang in CORPUS
    ]


# -- settings and serialisation ----------------------------------------------------------------


def test_text_embedder_round_trip_exact_dict():
    component = JinaV3TextEmbedder(
        model="jinaai/jina-embeddings-v3", device="cpu", dtype="bfloat16", dimensions=256
    )
    data = component.to_dict()
    assert data == {
        "type": f"{MODULE}.JinaV3TextEmbedder",
        "init_parameters": {
            "model": "jinaai/jina-embeddings-v3",
            "backend": "local",
            "device": "cpu",
            "dtype": "bfloat16",
            "api_key": ENV_KEY,
            "base_url": None,
            "timeout": None,
            "max_retries": None,
            "dimensions": 256,
            "embedding_type": "float",
            "truncate": False,
            "prefix": "",
            "suffix": "",
        },
    }
    assert JinaV3TextEmbedder.from_dict(data).to_dict() == data


def test_document_embedder_round_trip_exact_dict():
    component = JinaV3DocumentEmbedder(
        api_key=Secret.from_env_var("MY_JINA_KEY"),
        base_url="http://127.0.0.1:9/v1",
        timeout=5.0,
        max_retries=2,
        dimensions=128,
        embedding_type="ubinary",
        truncate=True,
        prefix="p: ",
        suffix=" .",
        batch_size=8,
        progress_bar=False,
        meta_fields_to_embed=["title"],
        embedding_separator=" | ",
        late_chunking=True,
        source_id_field="parent",
        split_order_field="position",
    )
    data = component.to_dict()
    assert data == {
        "type": f"{MODULE}.JinaV3DocumentEmbedder",
        "init_parameters": {
            "model": None,
            "backend": "api",
            "device": None,
            "dtype": None,
            "api_key": {"type": "env_var", "env_vars": ["MY_JINA_KEY"], "strict": True},
            "base_url": "http://127.0.0.1:9/v1",
            "timeout": 5.0,
            "max_retries": 2,
            "dimensions": 128,
            "embedding_type": "ubinary",
            "truncate": True,
            "prefix": "p: ",
            "suffix": " .",
            "batch_size": 8,
            "progress_bar": False,
            "meta_fields_to_embed": ["title"],
            "embedding_separator": " | ",
            "late_chunking": True,
            "source_id_field": "parent",
            "split_order_field": "position",
        },
    }
    again = JinaV3DocumentEmbedder.from_dict(data)
    assert again.to_dict() == data
    assert again.api_key == Secret.from_env_var("MY_JINA_KEY")


def test_pipeline_round_trip_keeps_every_setting(tmp_path):
    from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

    store = QdrantDocumentStore(":memory:", embedding_dim=DIMS)
    pipeline = Pipeline()
    pipeline.add_component("embed", JinaV3DocumentEmbedder(model="m", dimensions=DIMS))
    pipeline.add_component("guard", JinaV3DimensionGuard(document_store=store))
    pipeline.connect("embed.documents", "guard.documents")
    data = pipeline.to_dict()
    # Haystack 3 loads only allowlisted modules: name ours
    assert Pipeline.from_dict(data, allowed_modules=[MODULE]).to_dict() == data
    guard = data["components"]["guard"]
    assert guard["type"] == f"{MODULE}.JinaV3DimensionGuard"
    assert guard["init_parameters"]["document_store"] == store.to_dict()


def test_no_key_in_any_serialised_form(monkeypatch):
    secret = "jina_" + uuid.uuid4().hex
    monkeypatch.setenv("JINA_API_KEY", secret)
    for cls in (JinaV3TextEmbedder, JinaV3DocumentEmbedder):
        component = cls(backend="api")
        pipeline = Pipeline()
        pipeline.add_component("c", component)
        for form in (json.dumps(component.to_dict()), pipeline.dumps(), repr(component)):
            assert secret not in form
        # a token secret refuses to serialise, as Haystack's own components do
        with pytest.raises(ValueError, match="Cannot serialize token-based secret"):
            cls(api_key=Secret.from_token(secret)).to_dict()


def test_a_warm_component_pickles_with_the_key_variable_name_only(monkeypatch):
    import pickle

    secret = "jina_" + uuid.uuid4().hex
    monkeypatch.setenv("JINA_API_KEY", secret)
    monkeypatch.setenv("MY_JINA_KEY", secret)
    url = "http://127.0.0.1:9/v1"
    for component in (
        JinaV3TextEmbedder(backend="api", base_url=url),  # the default Secret
        JinaV3DocumentEmbedder(api_key=Secret.from_env_var(["UNSET_KEY", "MY_JINA_KEY"])),
    ):
        component.warm_up()  # builds the embedder
        data = pickle.dumps(component)
        assert secret.encode() not in data
        monkeypatch.setenv("MY_JINA_KEY", "jina_rotated")
        monkeypatch.setenv("JINA_API_KEY", "jina_rotated")
        clone = pickle.loads(data)  # the key is read again where the pickle is loaded
        assert clone._loaded().backend.options.api_key.get() == "jina_rotated"
        monkeypatch.setenv("MY_JINA_KEY", secret)
        monkeypatch.setenv("JINA_API_KEY", secret)
    # a token travels as it was given, as Embedder(api_key=...) does
    component = JinaV3TextEmbedder(api_key=Secret.from_token(secret), base_url=url)
    component.warm_up()
    assert component._loaded().backend.options.api_key.get() == secret


def test_embedder_object_or_settings_never_both(tiny_embedder):
    with pytest.raises(ConfigurationError, match="not both"):
        JinaV3TextEmbedder(model="x", embedder=tiny_embedder)
    with pytest.raises(ConfigurationError, match="not both"):
        JinaV3DocumentEmbedder(embedder=tiny_embedder, api_key=Secret.from_env_var("K"))
    with pytest.raises(SerializationError, match="built from an Embedder"):
        _doc_embedder(tiny_embedder).to_dict()
    with pytest.raises(ConfigurationError, match="only apply to backend='api'"):
        JinaV3TextEmbedder(backend="local", base_url="http://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match="only apply to backend='local'"):
        JinaV3TextEmbedder(backend="api", dtype="float32")
    with pytest.raises(ConfigurationError, match="dimensions"):
        JinaV3TextEmbedder(dimensions=0)


def test_construction_does_no_io_and_warm_up_loads():
    component = JinaV3DocumentEmbedder(model="/nonexistent/checkpoint")  # nothing read yet
    with pytest.raises(ModelLoadError):
        component.warm_up()
    text = JinaV3TextEmbedder(model=str(TINY_MODEL), dtype="float32")
    text.warm_up()
    assert len(text.run("hello")["embedding"]) == 64
    text.close()
    assert text._sync is None  # released; a later warm_up() builds it again


def test_close_leaves_a_given_embedder_open(tiny_embedder):
    component = JinaV3TextEmbedder(embedder=tiny_embedder)
    component.close()
    asyncio.run(component.close_async())
    assert tiny_embedder.encode_queries("still open").shape == (64,)


# -- embedding behaviour -----------------------------------------------------------------------


def test_tasks_meta_and_inputs_untouched(tiny_embedder):
    docs = [Document(content=text, meta={"title": doc_id}) for doc_id, text, _ in CORPUS[:3]]
    embedder = _doc_embedder(tiny_embedder, meta_fields_to_embed=["title"], prefix="> ")
    out = embedder.run(docs)
    expected = tiny_embedder.encode_passages(
        [f"> {d.meta['title']}\n{d.content}" for d in docs], dimensions=DIMS
    )
    np.testing.assert_allclose([d.embedding for d in out["documents"]], expected, atol=1e-6)
    assert all(d.embedding is None for d in docs)  # new Document objects
    assert [d.id for d in out["documents"]] == [d.id for d in docs]
    assert out["meta"]["model"] == tiny_embedder.model_name
    usage = out["meta"]["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] > 0

    query = JinaV3TextEmbedder(embedder=tiny_embedder, dimensions=DIMS, suffix="?").run("city")
    np.testing.assert_allclose(
        query["embedding"], tiny_embedder.encode_queries("city?", dimensions=DIMS), atol=1e-6
    )
    assert query["meta"]["usage"]["total_tokens"] > 0
    with pytest.raises(TypeError, match="JinaV3DocumentEmbedder"):
        JinaV3TextEmbedder(embedder=tiny_embedder).run(docs)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="JinaV3TextEmbedder"):
        embedder.run("a string")  # type: ignore[arg-type]


def test_run_async_matches_run(tiny_embedder):
    docs = _sources()
    embedder = _doc_embedder(tiny_embedder, late_chunking=True)
    text = JinaV3TextEmbedder(embedder=tiny_embedder, dimensions=DIMS)
    sync_docs, sync_query = embedder.run(docs), text.run("capital")
    async_docs = asyncio.run(embedder.run_async(docs))
    async_query = asyncio.run(text.run_async("capital"))
    np.testing.assert_allclose(
        [d.embedding for d in async_docs["documents"]],
        [d.embedding for d in sync_docs["documents"]],
        atol=1e-6,
    )
    np.testing.assert_allclose(async_query["embedding"], sync_query["embedding"], atol=1e-6)
    assert async_docs["meta"]["usage"] == sync_docs["meta"]["usage"]


def test_late_chunking_never_crosses_a_source(tiny_embedder):
    splitter = DocumentSplitter(split_by="word", split_length=4)
    splits = splitter.run(_sources())["documents"]
    by_source: dict[str, list[Document]] = {}
    for split in splits:
        by_source.setdefault(split.meta["source_id"], []).append(split)
    assert all(len(v) > 1 for v in by_source.values())

    embedder = _doc_embedder(tiny_embedder, late_chunking=True, batch_size=5)
    rng = np.random.default_rng(0)
    shuffled = [splits[i] for i in rng.permutation(len(splits))]  # sources interleaved
    together = {d.id: d.embedding for d in embedder.run(shuffled)["documents"]}
    for members in by_source.values():
        alone = embedder.run(members)["documents"]
        direct = tiny_embedder.encode_late_chunked([[d.content for d in members]], dimensions=DIMS)
        for doc, row in zip(alone, direct[0], strict=True):
            np.testing.assert_array_equal(together[doc.id], doc.embedding)
            np.testing.assert_allclose(doc.embedding, row, atol=1e-6)
    # a split without a source is embedded alone, as a one-chunk document
    lone = Document(content="A lone split without a source.")
    vector = embedder.run([lone, *splits[:3]])["documents"][0].embedding
    direct = tiny_embedder.encode_late_chunked([[lone.content]], dimensions=DIMS)[0][0]
    np.testing.assert_allclose(vector, direct, atol=1e-6)


def test_late_chunking_leaves_out_an_empty_split_and_names_documents(tiny_embedder, caplog):
    # a blank paragraph is a whitespace split, which the cleaner empties
    indexing = Pipeline()
    indexing.add_component("split", DocumentSplitter(split_by="passage", split_length=1))
    indexing.add_component("clean", DocumentCleaner(keep_id=True))
    indexing.add_component("embed", _doc_embedder(tiny_embedder, late_chunking=True))
    indexing.connect("split", "clean")
    indexing.connect("clean", "embed")
    sources = [
        Document(id="berlin", content="Berlin is big.\n\n   \n\nIt is old and green."),
        Document(id="paris", content="Paris is old.\n\nIt is pretty."),
    ]
    with caplog.at_level(logging.WARNING, logger="jina_v3.connectors"):
        out = indexing.run({"split": {"documents": sources}})["embed"]["documents"]
    blank = [d for d in out if not d.content.strip()]
    assert len(blank) == 1 and blank[0].embedding is None
    warnings = [r.getMessage() for r in caplog.records if r.name == "jina_v3.connectors"]
    assert len(warnings) == 1 and blank[0].id in warnings[0] and "'berlin'" in warnings[0]
    for source in ("berlin", "paris"):  # the others: embedded together as before
        kept = [d for d in out if d.meta["source_id"] == source and d.content.strip()]
        direct = tiny_embedder.encode_late_chunked([[d.content for d in kept]], dimensions=DIMS)
        np.testing.assert_allclose([d.embedding for d in kept], direct[0], atol=1e-6)

    late = _doc_embedder(tiny_embedder, late_chunking=True)
    odd = Document(id="odd", content="A split.", meta={"source_id": ["a", "b"]})
    with pytest.raises(ConfigurationError, match=r"document 'odd'.*source_id_field"):
        late.run([Document(content="Fine."), odd])
    huge = Document(id="huge", content="word " * 9000)
    with pytest.raises(InputTooLongError, match="Document 'huge' has") as caught:
        _doc_embedder(tiny_embedder).run([Document(content="Fine."), huge])
    assert caught.value.index == 1 and caught.value.tokens > caught.value.limit


def test_binary_embedding_type(tiny_embedder):
    embedder = _doc_embedder(tiny_embedder, embedding_type="ubinary")
    out = embedder.run([Document(content="bits")])["documents"][0].embedding
    assert len(out) == DIMS // 8 and all(isinstance(v, int) and 0 <= v <= 255 for v in out)


# -- end to end on the three document stores ---------------------------------------------------


def _qdrant_setup(tmp_path, pinecone_env, dims=DIMS):
    from haystack_integrations.components.retrievers.qdrant import QdrantEmbeddingRetriever
    from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

    store = QdrantDocumentStore(":memory:", embedding_dim=dims, similarity="cosine")
    return store, QdrantEmbeddingRetriever, lambda score: score


def _milvus_setup(tmp_path, pinecone_env, dims=DIMS):
    pytest.importorskip("milvus_lite")
    from milvus_haystack import MilvusDocumentStore, MilvusEmbeddingRetriever

    store = MilvusDocumentStore(
        connection_args={"uri": str(tmp_path / "m.db")},
        index_params={"metric_type": "COSINE", "index_type": "AUTOINDEX", "params": {}},
        drop_old=True,
    )
    return store, MilvusEmbeddingRetriever, lambda score: 2 * score - 1  # (1 + cos) / 2


def _pinecone_setup(tmp_path, pinecone_env, dims=DIMS):
    from haystack_integrations.components.retrievers.pinecone import PineconeEmbeddingRetriever
    from haystack_integrations.document_stores.pinecone import PineconeDocumentStore

    store = PineconeDocumentStore(
        index=f"hs-{uuid.uuid4().hex[:8]}", namespace="t", dimension=dims, show_progress=False
    )
    return store, PineconeEmbeddingRetriever, lambda score: score


STORES = {"qdrant": _qdrant_setup, "milvus": _milvus_setup, "pinecone": _pinecone_setup}


def _pipelines(store, retriever_cls, late_chunking: bool):
    indexing = Pipeline()
    indexing.add_component("split", DocumentSplitter(split_by="word", split_length=6))
    indexing.add_component(
        "embed",
        JinaV3DocumentEmbedder(
            model=str(TINY_MODEL),
            dtype="float32",
            dimensions=DIMS,
            late_chunking=late_chunking,
            progress_bar=False,
        ),
    )
    indexing.add_component("guard", JinaV3DimensionGuard(document_store=store))
    indexing.add_component("write", DocumentWriter(store))
    indexing.connect("split", "embed")
    indexing.connect("embed.documents", "guard.documents")
    indexing.connect("guard.documents", "write.documents")

    querying = Pipeline()
    querying.add_component(
        "embed", JinaV3TextEmbedder(model=str(TINY_MODEL), dtype="float32", dimensions=DIMS)
    )
    querying.add_component("retrieve", retriever_cls(document_store=store, top_k=50))
    querying.connect("embed.embedding", "retrieve.query_embedding")
    return indexing, querying


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", sorted(STORES))
def test_indexing_and_query_pipelines(name, mode, tmp_path, pinecone_env, tiny_embedder):
    store, retriever_cls, to_cosine = STORES[name](tmp_path, pinecone_env)
    late = name != "milvus"  # late chunking on two stores, independent splits on the third
    indexing, querying = _pipelines(store, retriever_cls, late)

    loop = asyncio.new_event_loop()  # one loop: the stores' async clients are bound to it

    def run(pipeline, data, mode=mode):
        if mode == "async":
            return loop.run_until_complete(pipeline.run_async(data))
        return pipeline.run(data)

    # milvus-haystack 0.1 has no async API, so its DocumentWriter cannot run_async
    index_mode = "sync" if name == "milvus" else mode
    result = run(indexing, {"split": {"documents": _sources()}}, index_mode)
    written = result["write"]["documents_written"]
    splits = DocumentSplitter(split_by="word", split_length=6).run(_sources())["documents"]
    assert written == len(splits)

    # the passage side, computed directly: retrieval.passage (late-chunked per source)
    if late:
        groups: dict[str, list[Document]] = {}
        for split in splits:
            groups.setdefault(split.meta["source_id"], []).append(split)
        arrays = tiny_embedder.encode_late_chunked(
            [[d.content for d in g] for g in groups.values()], dimensions=DIMS
        )
        passages = {
            d.id: row
            for g, a in zip(groups.values(), arrays, strict=True)
            for d, row in zip(g, a, strict=True)
        }
    else:
        rows = tiny_embedder.encode_passages([d.content for d in splits], dimensions=DIMS)
        passages = {d.id: row for d, row in zip(splits, rows, strict=True)}

    texts = [d.content for d in splits]
    target = matching_query(tiny_embedder, texts, np.stack([passages[d.id] for d in splits]))
    query_text = texts[target]
    query = tiny_embedder.encode_queries(query_text, dimensions=DIMS)  # retrieval.query
    wrong_task = tiny_embedder.encode_passages(query_text, dimensions=DIMS)

    hits = run(querying, {"embed": {"text": query_text}})["retrieve"]["documents"]
    assert len(hits) == len(splits)
    assert hits[0].id == splits[target].id and hits[0].content == query_text
    for hit in hits:
        expected = cosine(query, passages[hit.id])
        assert to_cosine(hit.score) == pytest.approx(expected, abs=1e-4)
    top = hits[0]
    assert abs(cosine(wrong_task, passages[top.id]) - to_cosine(top.score)) > 1e-3

    # a metadata filter is obeyed: the other language only
    other = "de" if splits[target].meta["lang"] == "en" else "en"
    filters = {"field": "meta.lang", "operator": "==", "value": other}
    filtered = run(querying, {"embed": {"text": query_text}, "retrieve": {"filters": filters}})
    docs = filtered["retrieve"]["documents"]
    assert docs and all(d.meta["lang"] == other for d in docs)
    best = max((d for d in splits if d.meta["lang"] == other), key=lambda d: passages[d.id] @ query)
    assert docs[0].id == best.id
    loop.run_until_complete(querying.close_async())
    loop.close()


# -- the dimension guard, per store ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STORES))
def test_dimension_mismatch_is_refused_before_writing(name, tmp_path, pinecone_env, tiny_embedder):
    store, _, _ = STORES[name](tmp_path, pinecone_env, dims=16)
    if name == "milvus":  # Milvus sizes a new collection from its first write: make one
        seed = JinaV3DocumentEmbedder(embedder=tiny_embedder, dimensions=16, progress_bar=False)
        store.write_documents(seed.run([Document(content="seed")])["documents"])
    before = store.count_documents()
    pipeline = Pipeline()
    pipeline.add_component("embed", _doc_embedder(tiny_embedder))
    pipeline.add_component("guard", JinaV3DimensionGuard(document_store=store))
    pipeline.add_component("write", DocumentWriter(store))
    pipeline.connect("embed.documents", "guard.documents")
    pipeline.connect("guard.documents", "write.documents")
    with pytest.raises(Exception) as info:
        pipeline.run({"embed": {"documents": _sources()}})
    error = info.value
    while not isinstance(error, DimensionMismatchError) and error.__cause__ is not None:
        error = error.__cause__
    assert isinstance(error, DimensionMismatchError)
    assert "16-d" in str(error) and f"{DIMS}-d" in str(error) and "dimensions=16" in str(error)
    assert store.count_documents() == before
    check_document_store(store, 16)  # the right size passes
