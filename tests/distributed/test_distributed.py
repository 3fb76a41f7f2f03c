"""index_dataset on one local Ray instance: the same points as the single-machine pipeline."""

from __future__ import annotations

import os

import pytest

from tests.conftest import TINY_MODEL
from tests.distributed.conftest import CORPUS, assert_same_points, points_of

pytestmark = [pytest.mark.ray, pytest.mark.slow]  # Ray jobs: seconds each

CHUNK_TOKENS = 48
BATCH = 4
SETTINGS = {
    "model": str(TINY_MODEL),
    "embedder_options": {"dtype": "float32"},
    "chunk_tokens": CHUNK_TOKENS,
    "batch_size": BATCH,
    "actors": 2,
}


def _documents():
    from jina_v3.sources import SkippedFile, read_corpus

    return [d for d in read_corpus([str(CORPUS)]) if not isinstance(d, SkippedFile)]


@pytest.fixture(scope="module")
def reference(milvus_uri, tiny_embedder):
    """`VectorIndex.ingest` as `jina-v3 index` runs it, into the Milvus server: its points."""
    from jina_v3 import VectorIndex
    from jina_v3.chunking import TextChunker
    from jina_v3.connectors.uris import open_store
    from jina_v3.store import point_id

    store = open_store(milvus_uri, "single")
    chunker = TextChunker.for_embedder(tiny_embedder, CHUNK_TOKENS)
    index = VectorIndex(tiny_embedder, store, chunker=chunker, batch_size=BATCH)
    docs = _documents()
    summary = index.ingest(docs)
    ids = [
        point_id(p.document.id, j)
        for batch in index._batches(docs)
        for p in batch
        for j in range(len(p.chunks))
    ]
    points = points_of(store, ids)
    store.close()
    assert summary.points == len(ids) == len(points) > 2 * len(docs)
    return ids, points, summary


def _check(uri, collection, reference, **extra):
    from jina_v3.connectors.uris import open_store
    from jina_v3.distributed import index_dataset

    ids, want, single = reference
    summary = index_dataset([str(CORPUS)], uri, collection=collection, **SETTINGS, **extra)
    assert (summary.documents, summary.indexed, summary.points) == (
        single.documents,
        single.indexed,
        single.points,
    )
    assert summary.tokens == single.tokens and summary.failed == 0
    assert summary.extra["blocks"] >= 2
    store = open_store(uri, collection)
    try:
        assert store.count() == len(ids)  # no duplicates, no stale points
        assert_same_points(points_of(store, ids), want)
    finally:
        store.close()
    return summary


def test_milvus_server_same_points_and_rerun_adds_nothing(ray_instance, milvus_uri, reference):
    from jina_v3.connectors.uris import open_store
    from jina_v3.distributed import index_dataset

    _check(milvus_uri, "dist", reference)
    again = index_dataset([str(CORPUS)], milvus_uri, collection="dist", **SETTINGS)
    assert (again.points, again.indexed, again.tokens) == (0, 0, 0)
    assert again.unchanged == reference[2].documents
    store = open_store(milvus_uri, "dist")
    assert store.count() == len(reference[0])
    store.close()


def test_qdrant_edge_is_written_by_one_owner_actor(ray_instance, reference, tmp_path):
    pytest.importorskip("qdrant_edge")
    _check(f"qdrant-edge:{tmp_path / 'edge'}", "dist", reference)


def test_pinecone_test_server_same_points(ray_instance, pinecone_server, reference, monkeypatch):
    pytest.importorskip("pinecone")
    # the workers have the variables from their own environment (see ray_instance)
    monkeypatch.setenv("PINECONE_API_KEY", pinecone_server.api_key)
    monkeypatch.setenv("PINECONE_CONTROLLER_HOST", pinecone_server.url)
    _check("pinecone:jv3-ray", "dist", reference)


def test_killed_actor_is_restarted_and_the_index_converges(
    ray_instance, milvus_uri, reference, tmp_path
):
    from tests.distributed._crash import CrashOnce

    marker = tmp_path / "crashed"
    factory = CrashOnce(str(TINY_MODEL), str(marker))
    settings = {k: v for k, v in SETTINGS.items() if k not in ("model", "embedder_options")}
    from jina_v3.connectors.uris import open_store
    from jina_v3.distributed import index_dataset

    ids, want, _ = reference
    summary = index_dataset(
        [str(CORPUS)], milvus_uri, collection="crash", embedder_factory=factory, **settings
    )
    assert marker.exists()  # an actor died mid-block ...
    assert summary.documents >= reference[2].documents  # ... and its block ran again
    store = open_store(milvus_uri, "crash")
    try:
        assert store.count() == len(ids)
        assert_same_points(points_of(store, ids), want)
    finally:
        store.close()


def test_a_transient_error_is_retried_by_ray(ray_instance, milvus_uri, reference, tmp_path):
    from jina_v3.distributed import index_dataset
    from tests.distributed._crash import FailOnce

    marker = tmp_path / "failed"
    settings = {k: v for k, v in SETTINGS.items() if k not in ("model", "embedder_options")}
    factory = FailOnce(str(TINY_MODEL), str(marker))
    summary = index_dataset(
        [str(CORPUS)], milvus_uri, collection="retry", embedder_factory=factory, **settings
    )
    assert marker.exists() and summary.points == len(reference[0])


def test_signature_mismatch_fails_on_the_driver(ray_instance, milvus_uri, reference):
    from jina_v3.distributed import index_dataset
    from jina_v3.errors import SignatureMismatchError

    settings = {**SETTINGS, "dimensions": 32}
    with pytest.raises(SignatureMismatchError):
        index_dataset([str(CORPUS)], milvus_uri, collection="single", **settings)


def test_a_missing_root_fails_before_ray_starts():
    from jina_v3.distributed import index_dataset
    from jina_v3.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="no such file"):
        index_dataset([os.path.join(str(CORPUS), "nope")], "qdrant::memory:")


def test_api_backed_actors_share_a_rate_limit_and_no_ray_file_or_log_holds_the_key(
    ray_instance, tiny_embedder, tmp_path, caplog, capfd
):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    from jina_v3.connectors.uris import open_store
    from jina_v3.distributed import index_dataset
    from jina_v3.server import create_app
    from tests._servers import ServerThread
    from tests.distributed.conftest import RAY_API_KEY, RAY_API_KEY_ENV, session_files

    uri = f"qdrant-edge:{tmp_path / 'edge'}"
    caplog.set_level("DEBUG")
    with ServerThread(create_app(tiny_embedder, api_key=RAY_API_KEY)) as server:
        settings = {
            "backend": "api",
            "api_key_env": RAY_API_KEY_ENV,  # read by name on the workers, never sent by Ray
            "embedder_options": {"base_url": server.url, "max_dimensions": 64},
            "tokens_per_minute": 10_000_000,
            "chunk_tokens": CHUNK_TOKENS,
            "batch_size": BATCH,
            "actors": 2,
        }
        summary = index_dataset([str(CORPUS)], uri, collection="api", **settings)
        again = index_dataset([str(CORPUS)], uri, collection="api", **settings)
    assert summary.points > summary.documents > 0 and summary.tokens > 0
    assert (again.points, again.unchanged) == (0, summary.documents)
    store = open_store(uri, "api")
    try:
        assert store.count() == summary.points
    finally:
        store.close()
    # nothing Ray wrote, and nothing the driver logged or printed, holds the key
    files = session_files(ray_instance)
    assert any(p.parent.name == "logs" for p in files)  # the scan sees the logs
    key = RAY_API_KEY.encode()
    assert [str(p) for p in files if key in p.read_bytes()] == []
    out, err = capfd.readouterr()
    assert RAY_API_KEY not in caplog.text + out + err


def test_a_library_error_in_a_worker_reaches_the_caller_as_itself(ray_instance, tmp_path):
    from jina_v3.distributed import index_dataset
    from jina_v3.errors import AuthenticationError
    from tests.distributed._crash import AlwaysFails

    settings = {k: v for k, v in SETTINGS.items() if k not in ("model", "embedder_options")}
    factory = AlwaysFails(str(TINY_MODEL), "AuthenticationError")
    with pytest.raises(AuthenticationError) as caught:
        index_dataset(
            [str(CORPUS)], f"qdrant-edge:{tmp_path / 'e'}", embedder_factory=factory, **settings
        )
    assert type(caught.value) is AuthenticationError  # not Ray's wrapper
    assert str(caught.value) == "injected"
