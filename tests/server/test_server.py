"""The Jina-compatible server on 127.0.0.1: schema, limits, auth, batching, shutdown."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import signal
import subprocess
import threading
import time

import httpx
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("torch")

from jina_v3 import Embedder
from jina_v3.server import create_app
from jina_v3.tasks import TASKS
from tests._servers import ServerThread, serve_process

KEY = "test-server-key-123"
AUTH = {"Authorization": f"Bearer {KEY}"}
# The Jina API's documented example request (five multilingual inputs), with dimensions
# within the tiny checkpoint's 64.
SEED_EXAMPLE = {
    "model": "jina-embeddings-v3",
    "task": "text-matching",
    "dimensions": 32,
    "late_chunking": True,
    "embedding_type": "float",
    "input": [
        "Organic skincare for sensitive skin with aloe vera and chamomile: Imagine the soothing "
        "embrace of nature with our organic skincare range.",
        "New makeup trends focus on bold colors and innovative techniques: Step into the world "
        "of cutting-edge beauty with this seasons makeup trends.",
        "Bio-Hautpflege für empfindliche Haut mit Aloe Vera und Kamille: Erleben Sie die "
        "wohltuende Wirkung unserer Bio-Hautpflege.",
        "Neue Make-up-Trends setzen auf kräftige Farben und innovative Techniken: Tauchen Sie "
        "ein in die Welt der modernen Schönheit.",
        "Cuidado de la piel orgánico para piel sensible con aloe vera y manzanilla: Descubre el "
        "poder de la naturaleza con nuestra línea de cuidado de la piel orgánico.",
    ],
}


@pytest.fixture(scope="module")
def server(tiny_model_path):
    app = create_app(Embedder(str(tiny_model_path), dtype="float32"), api_key=KEY)
    with ServerThread(app) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30.0) as c:
        yield c


def post(client, payload, headers=AUTH, **kw):
    return client.post("/v1/embeddings", json=payload, headers=headers, **kw)


def rows(resp) -> np.ndarray:
    data = sorted(resp.json()["data"], key=lambda d: d["index"])
    return np.asarray([d["embedding"] for d in data], dtype=np.float32)


# -- the hosted API's schema ----------------------------------------------------------------


def test_seed_example_returns_five_embeddings(client, tiny_embedder):
    resp = post(client, SEED_EXAMPLE)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["object"] == "list" and body["model"] == "jina-embeddings-v3"  # as sent
    assert [d["index"] for d in body["data"]] == [0, 1, 2, 3, 4]
    assert all(d["object"] == "embedding" and len(d["embedding"]) == 32 for d in body["data"])
    local = tiny_embedder.encode(
        SEED_EXAMPLE["input"], task="text-matching", dimensions=32, late_chunking=True
    )
    assert np.abs(rows(resp) - local).max() <= 1e-5
    expected_tokens = tiny_embedder.backend.count_tokens([" ".join(SEED_EXAMPLE["input"])])[0]
    assert body["usage"] == {"total_tokens": expected_tokens, "prompt_tokens": expected_tokens}


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_seed_example_with_curl(server, tiny_embedder):
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "--max-time",
            "30",
            "-X",
            "POST",
            f"{server.url}/v1/embeddings",
            "-H",
            "Content-Type: application/json",
            "-H",
            f"Authorization: Bearer {KEY}",
            "-d",
            json.dumps(SEED_EXAMPLE),
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )
    body = json.loads(out.stdout)
    assert len(body["data"]) == 5
    got = np.asarray([d["embedding"] for d in body["data"]], dtype=np.float32)
    local = tiny_embedder.encode(
        SEED_EXAMPLE["input"], task="text-matching", dimensions=32, late_chunking=True
    )
    assert np.abs(got - local).max() <= 1e-5


def test_models_and_healthz(client):
    models = client.get("/v1/models", headers=AUTH).json()
    entry = models["data"][0]
    assert entry["id"] == "tiny-v3" and entry["dimensions"] == 64
    assert entry["tasks"] == list(TASKS)
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["model"] == "tiny-v3"


@pytest.mark.parametrize("route", ["/v1/embeddings", "/embeddings"])
@pytest.mark.parametrize(
    ("sent", "answered"),
    [
        ("jina-embeddings-v3", "jina-embeddings-v3"),
        ("jinaai/jina-embeddings-v3", "jinaai/jina-embeddings-v3"),
        ("jina-embeddings-v3-query", "jina-embeddings-v3-query"),
        ("tiny-v3", "tiny-v3"),
        (None, "tiny-v3"),  # no `model`: the served one
    ],
)
def test_the_answer_names_the_model_the_client_sent(client, tiny_embedder, route, sent, answered):
    # the hosted API echoes the requested model; clients (Dify) compare it with theirs
    payload = {"input": ["Berlin"], **({"model": sent} if sent else {})}
    resp = client.post(route, json=payload, headers=AUTH)
    assert resp.status_code == 200, resp.text
    assert resp.json()["model"] == answered
    task = "retrieval.query" if sent == "jina-embeddings-v3-query" else None
    assert np.abs(rows(resp) - tiny_embedder.encode(["Berlin"], task=task)).max() <= 1e-5


def test_tei_health(client, tiny_embedder):
    # TEI's probe: 200 and an empty body, no key needed (as /healthz)
    ok = client.get("/health")
    assert ok.status_code == 200 and ok.content == b""
    app = create_app(tiny_embedder, api_key=KEY)
    with ServerThread(app) as srv:
        app.state.batcher.stop()  # what shutting down does: nothing more is embedded
        down = httpx.get(f"{srv.url}/health")
        assert down.status_code == 503
        assert down.json()["error_type"] == "Backend" and "not embedding" in down.json()["error"]


@pytest.mark.parametrize("etype", ["float", "base64", "binary", "ubinary"])
def test_embedding_types_match_local(client, tiny_embedder, etype):
    texts = ["one short text", "ein zweiter Text", "tercero"]
    resp = post(client, {"model": "tiny-v3", "input": texts, "embedding_type": etype})
    assert resp.status_code == 200, resp.text
    got = [d["embedding"] for d in resp.json()["data"]]
    local = tiny_embedder.encode(texts, embedding_type=etype)
    if etype == "base64":
        decoded = np.stack([np.frombuffer(base64.b64decode(s), "<f4") for s in got])
        assert local.dtype == np.float32  # encode returns what the strings carry
        assert np.abs(decoded - local).max() <= 1e-5
    else:
        assert np.array_equal(np.asarray(got, dtype=local.dtype), local)


def test_embedding_type_list_returns_one_entry_per_type(client, tiny_embedder):
    texts = ["alpha", "beta"]
    resp = post(client, {"input": texts, "embedding_type": ["float", "ubinary"], "dimensions": 16})
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert set(data[0]["embedding"]) == {"float", "ubinary"}
    floats = np.asarray([d["embedding"]["float"] for d in data], np.float32)
    assert np.abs(floats - tiny_embedder.encode(texts, dimensions=16)).max() <= 1e-5
    packed = np.asarray([d["embedding"]["ubinary"] for d in data], np.uint8)
    assert np.array_equal(
        packed, tiny_embedder.encode(texts, dimensions=16, embedding_type="ubinary")
    )


def test_normalized_false_gives_raw_mean_pool(client, tiny_embedder):
    resp = post(client, {"input": ["raw vector"], "normalized": False, "task": "separation"})
    local = tiny_embedder.encode(["raw vector"], task="separation", normalized=False)
    assert np.abs(rows(resp) - local).max() <= 1e-5
    assert abs(float(np.linalg.norm(local[0])) - 1.0) > 1e-3  # really not normalised


# -- what existing clients send ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "payload", "headers"),
    [
        # jina-haystack's JinaTextEmbedder / JinaDocumentEmbedder: a requests.Session with
        # these headers, `input` + `model` + the set parameters
        (
            "haystack",
            {"input": ["a query"], "model": "jina-embeddings-v3", "task": "retrieval.query",
             "dimensions": 16, "late_chunking": False},
            {**AUTH, "Accept-Encoding": "identity", "Content-type": "application/json"},
        ),
        # LlamaIndex's JinaEmbedding: `encoding_type`, and None for unset options
        (
            "llamaindex",
            {"input": ["a query"], "model": "jina-embeddings-v3", "encoding_type": "float",
             "task": "retrieval.query", "dimensions": 16, "late_chunking": None},
            {**AUTH, "Accept-Encoding": "identity"},
        ),
        # LangChain's JinaEmbeddings: only `input` and `model`
        ("langchain", {"input": ["a query"], "model": "jina-embeddings-v3"}, AUTH),
        # OpenAI-style clients pointed at a Jina-compatible URL
        (
            "openai",
            {"input": "a query", "model": "jina-embeddings-v3", "encoding_format": "float"},
            AUTH,
        ),
        # objects instead of strings (the API's multimodal form)
        ("objects", {"input": [{"text": "a query"}], "model": "jina-embeddings-v3"}, AUTH),
    ],
)  # fmt: skip
def test_known_client_payloads(client, tiny_embedder, name, payload, headers):
    resp = client.post("/v1/embeddings", content=json.dumps(payload), headers=headers)
    assert resp.status_code == 200, (name, resp.text)
    task = payload.get("task")
    dims = payload.get("dimensions")
    local = tiny_embedder.encode(["a query"], task=task, dimensions=dims)
    assert np.abs(rows(resp) - local).max() <= 1e-5


# -- auth, limits and error codes --------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}], ids=str
)
def test_bearer_auth_required(client, headers):
    resp = post(client, {"input": ["x"]}, headers=headers)
    assert resp.status_code == 401
    assert "detail" in resp.json() and KEY not in resp.text
    assert client.get("/v1/models", headers=headers).status_code == 401


def test_no_key_configured_means_open(tiny_embedder):
    with ServerThread(create_app(tiny_embedder)) as srv:
        resp = httpx.post(f"{srv.url}/v1/embeddings", json={"input": ["x"]}, timeout=30)
        assert resp.status_code == 200


@pytest.mark.parametrize(
    ("payload", "status", "words"),
    [
        ({"input": ["x"] * 2049}, 400, "2048"),
        ({"input": []}, 400, "empty"),
        ({"model": "other-model", "input": ["x"]}, 400, "other-model"),
        ({"input": ["x"], "task": "clustering"}, 422, "separation"),
        ({"input": ["x"], "task": "nope"}, 422, "retrieval.query"),
        ({"input": ["x"], "dimensions": 0}, 422, "dimensions"),
        ({"input": ["x"], "dimensions": 65}, 422, "64"),
        ({"input": ["x"], "dimensions": "16"}, 422, "dimensions"),
        ({"input": ["x"], "dimensions": True}, 422, "dimensions"),
        ({"input": ["x"], "embedding_type": "int4"}, 422, "embedding_type"),
        ({"input": ["x"], "normalized": "yes"}, 422, "normalized"),
        ({"input": [1, 2]}, 422, "input[0]"),
        ({"input": [{"image": "http://x/y.png"}]}, 400, "image"),
        ({"texts": ["x"]}, 422, "input"),
        ([1, 2, 3], 422, "object"),
    ],
)
def test_invalid_requests(client, payload, status, words):
    resp = post(client, payload)
    assert resp.status_code == status, resp.text
    assert words in resp.json()["detail"]


def test_malformed_json_is_400(client):
    resp = client.post(
        "/v1/embeddings",
        content=b'{"input": ["x"',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert resp.status_code == 400
    assert "JSON" in resp.json()["detail"]


def test_over_long_input_needs_truncate(client, tiny_embedder):
    long = "word " * 9000  # over 8194 tokens with the tiny tokenizer too
    assert tiny_embedder.backend.count_tokens([long])[0] > 8194
    resp = post(client, {"input": ["short", long]})
    assert resp.status_code == 400
    assert "Input 1 has" in resp.json()["detail"] and "truncate" in resp.json()["detail"]
    resp = post(client, {"input": ["short", long], "truncate": True})
    assert resp.status_code == 200
    local = tiny_embedder.encode(["short", long], truncate=True)
    assert np.abs(rows(resp) - local).max() <= 1e-5
    assert (
        resp.json()["usage"]["total_tokens"]
        == tiny_embedder.backend.count_tokens(["short"])[0] + 8194
    )


def test_late_chunking_over_the_context_is_400(client):
    chunks = ["word " * 3000] * 3
    resp = post(client, {"input": chunks, "late_chunking": True})
    assert resp.status_code == 400
    assert "Late chunking" in resp.json()["detail"]


def test_body_too_large_is_413(tiny_embedder):
    app = create_app(tiny_embedder, max_body_bytes=1000)
    with ServerThread(app) as srv:
        resp = httpx.post(f"{srv.url}/v1/embeddings", json={"input": ["x" * 2000]}, timeout=30)
        assert resp.status_code == 413
        assert "1000 bytes" in resp.json()["detail"]
        # chunked upload without Content-Length is cut off as well
        resp = httpx.post(
            f"{srv.url}/v1/embeddings",
            content=iter([b'{"input": ["', b"x" * 2000, b'"]}']),
            timeout=30,
        )
        assert resp.status_code == 413


def test_unknown_route_keeps_the_error_shape(client):
    resp = client.get("/v1/nothing")
    assert resp.status_code == 404 and "detail" in resp.json()


# -- dynamic batching, back-pressure, shutdown ---------------------------------------------


def test_concurrent_small_requests_are_merged(server, tiny_embedder):
    texts = [f"concurrent request number {i}" for i in range(64)]
    batcher = server.app.state.batcher
    before_batches, before_jobs = batcher.batches, batcher.jobs

    async def run():
        async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=AUTH) as c:
            resps = await asyncio.gather(
                *(
                    c.post("/v1/embeddings", json={"input": [t], "task": "retrieval.passage"})
                    for t in texts
                )
            )
        return resps

    resps = asyncio.run(run())
    assert all(r.status_code == 200 for r in resps)
    got = np.concatenate([rows(r) for r in resps])
    local = tiny_embedder.encode(texts, task="retrieval.passage")
    assert np.abs(got - local).max() <= 1e-5
    jobs, batches = batcher.jobs - before_jobs, batcher.batches - before_batches
    assert jobs == 64
    assert batches < 64, f"no request was merged ({batches} batches for 64 requests)"


def test_concurrent_requests_of_different_tasks_share_batches(server, tiny_embedder):
    texts = [f"mixed request number {i}" for i in range(48)]
    tasks = [TASKS[i % len(TASKS)] for i in range(len(texts))]
    batcher = server.app.state.batcher
    before_batches, before_jobs = batcher.batches, batcher.jobs
    forwards: list[list[int | None]] = []
    hook = batcher.backend.net.register_forward_pre_hook(
        lambda module, args: forwards.append(list(args[2]))
    )  # the tasks of every forward the server's model runs
    try:

        async def run():
            async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=AUTH) as c:
                return await asyncio.gather(
                    *(
                        c.post("/v1/embeddings", json={"input": [t], "task": task})
                        for t, task in zip(texts, tasks, strict=True)
                    )
                )

        resps = asyncio.run(run())
    finally:
        hook.remove()
    assert all(r.status_code == 200 for r in resps)
    for resp, text, task in zip(resps, texts, tasks, strict=True):
        local = tiny_embedder.encode([text], task=task)
        assert np.abs(rows(resp) - local).max() <= 1e-5
    jobs, batches = batcher.jobs - before_jobs, batcher.batches - before_batches
    assert jobs == 48
    assert batches < 48, f"no request was merged ({batches} batches for 48 requests)"
    assert any(len(set(tasks)) > 1 for tasks in forwards), "no forward mixed tasks"


def test_full_queue_answers_429_with_retry_after(tiny_embedder):
    backend = tiny_embedder.backend
    app = create_app(tiny_embedder, max_queue=2)
    with ServerThread(app) as srv:

        async def run():
            async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
                # hold the model so the worker cannot drain the queue
                with backend._lock:
                    first = asyncio.ensure_future(c.post("/v1/embeddings", json={"input": ["a"]}))
                    deadline = time.monotonic() + 10
                    while app.state.batcher.in_flight == 0 and time.monotonic() < deadline:
                        await asyncio.sleep(0.01)
                    more = [
                        asyncio.ensure_future(c.post("/v1/embeddings", json={"input": [f"b{i}"]}))
                        for i in range(4)
                    ]
                    deadline = time.monotonic() + 10
                    while sum(f.done() for f in more) < 2 and time.monotonic() < deadline:
                        await asyncio.sleep(0.01)
                    rejected = [f.result() for f in more if f.done()]
                return await first, rejected, await asyncio.gather(*more)

        first, rejected, answers = asyncio.run(run())
    assert first.status_code == 200
    assert len(rejected) == 2
    for resp in rejected:
        assert resp.status_code == 429
        assert int(resp.headers["Retry-After"]) >= 1
        assert "detail" in resp.json()
    assert sorted(r.status_code for r in answers) == [200, 200, 429, 429]


def test_serve_cli_and_graceful_shutdown(tiny_model_path):
    """SIGTERM while requests are in flight: they complete, then the process exits 0."""
    texts = [f"graceful shutdown text {i} " * 10 for i in range(160)]  # about 1 s of work
    with serve_process(tiny_model_path, api_key=KEY) as (proc, url):
        assert (
            httpx.post(f"{url}/v1/embeddings", json={"input": ["x"]}, timeout=10).status_code == 401
        )
        results: list[httpx.Response] = []

        def send():
            results.append(
                httpx.post(f"{url}/v1/embeddings", json={"input": texts}, headers=AUTH, timeout=120)
            )

        senders = [threading.Thread(target=send) for _ in range(2)]
        for t in senders:
            t.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            health = httpx.get(f"{url}/healthz", timeout=5).json()
            if health["in_flight"] or health["queued"]:
                break
            time.sleep(0.005)
        else:
            pytest.fail("the requests never reached the batcher")
        proc.terminate()
        for t in senders:
            t.join(120)
        # uvicorn re-raises the captured SIGTERM once it has shut down cleanly
        assert proc.wait(60) in (0, -signal.SIGTERM)
        out = proc.stdout.read().decode() if proc.stdout else ""
        assert "Traceback" not in out, out[-2000:]
    assert [r.status_code for r in results] == [200, 200]
    assert all(len(r.json()["data"]) == len(texts) for r in results)


def test_serve_refuses_an_unset_key_variable(tiny_model_path, monkeypatch):
    from jina_v3.cli import main

    monkeypatch.delenv("JINA_V3_UNSET_KEY", raising=False)
    with pytest.raises(SystemExit, match="JINA_V3_UNSET_KEY"):
        main(["serve", "--model", str(tiny_model_path), "--api-key-env", "JINA_V3_UNSET_KEY"])


# -- the hosted API's own client libraries, unchanged, pointed at our URL ------------------


def test_jina_haystack_embedders(server, tiny_embedder):
    jina = pytest.importorskip("haystack_integrations.components.embedders.jina")
    from haystack import Document
    from haystack.utils import Secret

    url = f"{server.url}/v1/embeddings"
    text = jina.JinaTextEmbedder(
        api_key=Secret.from_token(KEY), base_url=url, task="retrieval.query", dimensions=32
    )
    out = text.run("Which city is the capital of Germany?")
    local = tiny_embedder.encode_queries(["Which city is the capital of Germany?"], dimensions=32)
    assert np.abs(np.asarray(out["embedding"], np.float32) - local[0]).max() <= 1e-5
    assert out["meta"]["model"] == "jina-embeddings-v3"  # what it sent, as the hosted API
    assert out["meta"]["usage"]["total_tokens"] > 0

    docs = [Document(content=t) for t in SEED_EXAMPLE["input"]]
    embedder = jina.JinaDocumentEmbedder(
        api_key=Secret.from_token(KEY),
        base_url=url,
        task="retrieval.passage",
        late_chunking=True,
        batch_size=5,
    )
    got = np.asarray([d.embedding for d in embedder.run(docs)["documents"]], np.float32)
    local = tiny_embedder.encode(
        SEED_EXAMPLE["input"], task="retrieval.passage", late_chunking=True
    )
    assert np.abs(got - local).max() <= 1e-5


async def test_llamaindex_jina_embedding(server, tiny_embedder):
    jinaai = pytest.importorskip("llama_index.embeddings.jinaai")
    pytest.importorskip("aiohttp")  # its async path
    model = jinaai.JinaEmbedding(
        api_key=KEY, task="text-matching", dimensions=16, encoding_queries="binary"
    )
    # the class takes no base URL; its API caller is where the hosted URL lives
    model._api = jinaai.base._JinaAPICaller(
        model="jina-embeddings-v3", api_key=KEY, base_url=f"{server.url}/v1"
    )
    texts = ["first passage", "zweiter Absatz"]
    got = await asyncio.to_thread(model.get_text_embedding_batch, texts)
    local = tiny_embedder.encode(texts, task="text-matching", dimensions=16)
    assert np.abs(np.asarray(got, np.float32) - local).max() <= 1e-5
    got_async = await model.aget_text_embedding_batch(texts)
    assert np.abs(np.asarray(got_async, np.float32) - local).max() <= 1e-5
    # binary queries: LlamaIndex unpacks our int8 bytes back to the sign bits
    bits = await asyncio.to_thread(model.get_query_embedding, "a query")
    want = tiny_embedder.encode(["a query"], task="text-matching", dimensions=16)[0] > 0
    assert np.array_equal(np.asarray(bits, bool), want)
