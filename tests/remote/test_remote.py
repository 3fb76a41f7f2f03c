"""The remote backend against our real server on 127.0.0.1: results equal the local backend's."""

from __future__ import annotations

import asyncio
import logging

import httpx
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("torch")

from jina_v3 import (
    AsyncEmbedder,
    AuthenticationError,
    ConfigurationError,
    Embedder,
    InputTooLongError,
)
from jina_v3.remote.backend import RemoteBackend
from jina_v3.remote.exchange import plan_document
from jina_v3.server import create_app
from jina_v3.tasks import TASKS
from jina_v3.types import EmbedSpec
from tests._servers import ServerThread

KEY = "jina_remote-test-key-0123456789"
TEXTS = [
    "Berlin is the capital of Germany.",
    "Die Hauptstadt Frankreichs ist Paris.",
    "東京は日本の首都です。",
    "A much longer sentence about vector databases, late chunking and Matryoshka sizes.",
    "x",
]


@pytest.fixture(scope="module")
def server(tiny_model_path):
    app = create_app(Embedder(str(tiny_model_path), dtype="float32"), api_key=KEY)
    with ServerThread(app) as srv:
        yield srv


@pytest.fixture
def remote(server):
    with Embedder(backend="api", model="tiny-v3", api_key=KEY, base_url=server.url) as emb:
        yield emb


@pytest.fixture
def remote_tok(server, tiny_model_path):
    """A remote embedder counting tokens with the (tiny) checkpoint's tokenizer."""
    backend = RemoteBackend(
        "tiny-v3", api_key=KEY, base_url=server.url, tokenizer=tiny_model_path / "tokenizer.json"
    )
    with Embedder(backend=backend) as emb:
        yield emb


def assert_same(local: np.ndarray, got: np.ndarray, embedding_type: str) -> None:
    assert got.shape == local.shape
    if embedding_type in ("float", "base64"):  # base64 arrives as strings, decodes to float32
        assert got.dtype == np.float32
        assert np.abs(got - local).max() <= 1e-5
    else:
        assert got.dtype == local.dtype
        assert np.array_equal(got, local)


@pytest.mark.parametrize("late_chunking", [False, True], ids=["plain", "late"])
@pytest.mark.parametrize("embedding_type", ["float", "base64", "binary", "ubinary"])
@pytest.mark.parametrize("dimensions", [None, 16, 64])
@pytest.mark.parametrize("task", [*TASKS, None])
def test_remote_equals_local(
    remote, tiny_embedder, task, dimensions, embedding_type, late_chunking
):
    kwargs = dict(
        task=task, dimensions=dimensions, embedding_type=embedding_type, late_chunking=late_chunking
    )
    assert_same(
        tiny_embedder.encode(TEXTS, **kwargs), remote.encode(TEXTS, **kwargs), embedding_type
    )


@pytest.mark.parametrize("normalized", [True, False])
def test_unnormalized_and_single_string(remote, tiny_embedder, normalized):
    got = remote.encode("one query", task="retrieval.query", normalized=normalized)
    local = tiny_embedder.encode("one query", task="retrieval.query", normalized=normalized)
    assert got.ndim == 1
    assert np.abs(got - local).max() <= 1e-5


def test_late_chunked_documents_one_request_each(remote, tiny_embedder, server):
    docs = [TEXTS[:3], TEXTS[3:], ["a single chunk"]]
    before = server.app.state.batcher.jobs
    got = remote.encode_late_chunked(docs, dimensions=32)
    local = tiny_embedder.encode_late_chunked(docs, dimensions=32)
    assert server.app.state.batcher.jobs - before == 3  # never two documents in one request
    for g, want in zip(got, local, strict=True):
        assert np.abs(g - want).max() <= 1e-5


def test_max_dimensions_from_the_server(remote, server):
    remote.encode(["x"])  # learned from a full-size answer: no request of its own
    assert remote.max_dimensions == 64
    with pytest.raises(ConfigurationError, match="1 to 64"):
        remote.encode(["x"], dimensions=128)
    v3 = RemoteBackend("jina-embeddings-v3", api_key=KEY, base_url="http://127.0.0.1:9")
    assert v3.max_dimensions == 1024  # known by name: no request at all


def test_usage_reports_tokens(remote_tok, tiny_embedder):
    before = remote_tok.usage.total_tokens
    remote_tok.encode(TEXTS, task="retrieval.passage")
    expected = sum(tiny_embedder.backend.count_tokens(TEXTS, "retrieval.passage"))
    assert remote_tok.usage.total_tokens - before == expected
    assert remote_tok.usage.requests >= 1


def test_more_than_2048_inputs_are_split_and_kept_in_order(remote, tiny_embedder, server):
    texts = [f"input number {i}" for i in range(2100)]
    before = server.app.state.batcher.jobs
    got = remote.encode(texts, dimensions=8)
    assert server.app.state.batcher.jobs - before >= 2
    assert np.abs(got - tiny_embedder.encode(texts, dimensions=8)).max() <= 1e-5


def test_long_late_chunked_document_is_split_into_consecutive_groups(
    remote_tok, tiny_embedder, server
):
    tok = tiny_embedder.backend
    chunks = [f"Chunk {i} of a long document about many things. " * 6 for i in range(120)]
    total = tok.count_tokens([" ".join(chunks)], "retrieval.passage")[0]
    assert total > 8192
    before = server.app.state.batcher.jobs
    got = remote_tok.encode_late_chunked([chunks], task="retrieval.passage")[0]
    requests = server.app.state.batcher.jobs - before
    assert requests >= 2
    assert got.shape == (120, 64)
    # rebuild the groups the client must have sent: consecutive, each within 8192 tokens
    groups, start = [], 0
    backend = remote_tok.backend
    for part in plan_document(
        backend.model, chunks, EmbedSpec("retrieval.passage"), backend._counter
    ):
        groups.append(chunks[start : start + part.n_inputs])
        start += part.n_inputs
    assert start == 120 and len(groups) == requests
    expected = []
    for group in groups:
        assert tok.count_tokens([" ".join(group)], "retrieval.passage")[0] <= 8192
        expected.append(tiny_embedder.encode(group, task="retrieval.passage", late_chunking=True))
    assert np.abs(got - np.concatenate(expected)).max() <= 1e-5


def test_over_long_input_raises_input_too_long_with_the_right_index(remote, tiny_embedder):
    long = "word " * 9000
    texts = [f"short {i}" for i in range(5)] + [long]
    with pytest.raises(InputTooLongError) as info:
        remote.encode(texts)
    assert info.value.index == 5 and info.value.limit == 8194
    assert info.value.status_code == 400
    got = remote.encode(texts, truncate=True)
    assert np.abs(got - tiny_embedder.encode(texts, truncate=True)).max() <= 1e-5


def test_over_long_input_is_caught_before_sending_with_a_tokenizer(remote_tok, server):
    before = server.app.state.batcher.jobs
    with pytest.raises(InputTooLongError) as info:
        remote_tok.encode(["fine", "word " * 9000])
    assert info.value.index == 1
    assert server.app.state.batcher.jobs == before


async def test_async_embedder_matches_sync(server, tiny_embedder):
    docs = [TEXTS[:2], TEXTS[2:]]
    sync = Embedder(backend="api", model="tiny-v3", api_key=KEY, base_url=server.url)
    async with AsyncEmbedder(
        backend="api", model="tiny-v3", api_key=KEY, base_url=server.url, max_concurrency=2
    ) as aemb:
        many = [f"async text {i}" for i in range(300)]
        results = await asyncio.gather(
            aemb.encode_queries(TEXTS, dimensions=32),
            aemb.encode(many, task="classification", embedding_type="ubinary"),
            aemb.encode_late_chunked(docs),
        )
    assert np.array_equal(results[0], sync.encode_queries(TEXTS, dimensions=32))
    assert np.array_equal(
        results[1], sync.encode(many, task="classification", embedding_type="ubinary")
    )
    for a, s in zip(results[2], sync.encode_late_chunked(docs), strict=True):
        assert np.array_equal(a, s)
    assert np.abs(results[0] - tiny_embedder.encode_queries(TEXTS, dimensions=32)).max() <= 1e-5
    sync.close()


def test_wrong_key_is_an_authentication_error(server):
    emb = Embedder(backend="api", model="tiny-v3", api_key="wrong", base_url=server.url)
    with pytest.raises(AuthenticationError) as info:
        emb.encode(["x"], dimensions=8)
    assert info.value.status_code == 401 and "Bearer" in info.value.body


def test_env_vars_for_key_and_base_url(server, monkeypatch):
    monkeypatch.setenv("JINAAI_API_KEY", KEY)
    monkeypatch.setenv("JINA_API_BASE_URL", server.url + "/v1")
    emb = Embedder(backend=RemoteBackend("tiny-v3"))
    assert emb.encode(["x"], dimensions=8).shape == (1, 8)
    monkeypatch.delenv("JINAAI_API_KEY")
    monkeypatch.setenv("JINA_API_KEY", KEY)
    assert RemoteBackend("tiny-v3").url == server.url + "/v1/embeddings"


def test_missing_key_names_both_ways_to_set_it():
    with pytest.raises(ConfigurationError) as info:
        Embedder(backend="api")
    assert "api_key=" in str(info.value) and "JINA_API_KEY" in str(info.value)


def test_key_never_in_repr_logs_or_errors(server, caplog):
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log every request at DEBUG
    emb = Embedder(backend="api", model="tiny-v3", api_key=KEY, base_url=server.url)
    emb.encode(["x"], dimensions=8)
    for text in (repr(emb), str(emb), repr(emb.backend), str(vars(emb.backend))):
        assert KEY not in text
    bad = Embedder(backend="api", model="tiny-v3", api_key=KEY + "-bad", base_url=server.url)
    with pytest.raises(AuthenticationError) as info:
        bad.encode(["x"], dimensions=8)
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert KEY not in caplog.text
    assert "127.0.0.1" in caplog.text  # the logs were captured at all


def test_given_http_clients_are_used_and_left_open(server, tiny_embedder):
    seen = []
    with httpx.Client(event_hooks={"request": [seen.append]}) as client:
        backend = RemoteBackend("tiny-v3", api_key=KEY, base_url=server.url, http_client=client)
        emb = Embedder(backend=backend)
        emb.encode(["x"], dimensions=8)
        emb.close()
        assert not client.is_closed and len(seen) >= 1
        with pytest.raises(ConfigurationError, match="closed"):
            emb.encode(["x"], dimensions=8)

    async def run():
        hooks = []

        async def hook(request):
            hooks.append(request)

        async with httpx.AsyncClient(event_hooks={"request": [hook]}) as aclient:
            backend = RemoteBackend(
                "tiny-v3", api_key=KEY, base_url=server.url, http_client=aclient
            )
            emb = AsyncEmbedder(backend=backend)
            out = await emb.encode(["x"], dimensions=8)
            await emb.aclose()
            assert not aclient.is_closed
        return out, hooks

    out, hooks = asyncio.run(run())
    assert len(hooks) == 1
    assert np.abs(out - tiny_embedder.encode(["x"], dimensions=8)).max() <= 1e-5


def test_over_long_late_chunk_raises_input_too_long(remote):
    # one chunk alone over the context: its group cannot be made smaller
    with pytest.raises(InputTooLongError) as info:
        remote.encode(["intro", "word " * 9000], late_chunking=True)
    assert info.value.limit == 8194 and info.value.tokens > 8194
    assert info.value.status_code == 400


def test_pickled_backend_works_without_its_connections(server, tiny_embedder):
    import pickle

    backend = RemoteBackend("tiny-v3", api_key=KEY, base_url=server.url)
    Embedder(backend=backend).encode(["before"], dimensions=8)
    clone = pickle.loads(pickle.dumps(backend))
    assert clone._client is None and repr(clone) == repr(backend)
    out = Embedder(backend=clone).encode(["after"], dimensions=8)
    assert np.abs(out - tiny_embedder.encode(["after"], dimensions=8)).max() <= 1e-5
    with httpx.Client() as given:
        with pytest.raises(TypeError):
            pickle.dumps(RemoteBackend("tiny-v3", api_key=KEY, http_client=given))


def test_unknown_model_size_is_learned_from_a_response():
    from tests._servers import FaultServer

    with FaultServer(dims=8) as srv:  # no GET /v1/models: the size comes from a response
        backend = RemoteBackend("other-model", api_key=KEY, base_url=srv.url)
        assert backend.max_dimensions == 1024  # the documented fallback until then
        Embedder(backend=backend).encode(["x"])
        assert backend.max_dimensions == 8
