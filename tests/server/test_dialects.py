"""The RAG platforms' ways into `jina-v3 serve`: TEI's /embed, task-carrying model names, text
prefixes, and each client that installs here, against a real uvicorn server on 127.0.0.1.

Every vector is compared with the Embedder's for the same task (within 1e-5).
"""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("torch")

from jina_v3.errors import ConfigurationError
from jina_v3.server import TaskRouting, create_app
from jina_v3.server.dialects import DEFAULT_TASK_MODELS, PROMPT_NAMES
from tests._servers import ServerThread, serve_process

KEY = "dialect-key-456"
AUTH = {"Authorization": f"Bearer {KEY}"}
TEXTS = ["Berlin is the capital of Germany.", "Wie hoch ist der Mount Everest?"]
PREFIXES = {"query: ": "retrieval.query", "passage: ": "retrieval.passage"}


@pytest.fixture(scope="module")
def server(tiny_embedder):
    app = create_app(tiny_embedder, api_key=KEY, task_prefixes=PREFIXES)
    with ServerThread(app) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30.0, headers=AUTH) as c:
        yield c


def close(got, want) -> None:
    got, want = np.asarray(got, dtype=np.float32), np.asarray(want, dtype=np.float32)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5


# -- TEI ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["retrieval.query", "retrieval.passage", "query", "document"])
def test_tei_prompt_name_selects_the_task(client, tiny_embedder, prompt):
    resp = client.post("/embed", json={"inputs": TEXTS, "prompt_name": prompt})
    assert resp.status_code == 200, resp.text
    close(resp.json(), tiny_embedder.encode(TEXTS, task=PROMPT_NAMES[prompt]))


def test_tei_defaults_and_options(client, tiny_embedder):
    # a single string still answers a list of vectors; no prompt_name: the plain backbone
    one = client.post("/", json={"inputs": TEXTS[0]})
    assert one.status_code == 200, one.text
    close(one.json(), tiny_embedder.encode([TEXTS[0]]))
    raw = client.post("/embed", json={"inputs": TEXTS, "normalize": False, "dimensions": 16})
    close(raw.json(), tiny_embedder.encode(TEXTS, dimensions=16, normalized=False))


def test_tei_errors_name_what_is_served(client):
    resp = client.post("/embed", json={"inputs": TEXTS, "prompt_name": "clustering"})
    assert resp.status_code == 400
    body = resp.json()
    assert body["error_type"] == "Validation"
    assert all(name in body["error"] for name in ("retrieval.query", "retrieval.passage"))
    bad = client.post("/embed", json={"inputs": [1, 2]})
    assert bad.status_code == 422 and "inputs[0]" in bad.json()["error"]
    missing = client.post("/embed", json={"input": TEXTS})
    assert missing.status_code == 422 and "`inputs`" in missing.json()["error"]
    denied = httpx.post(client.base_url.join("/embed"), json={"inputs": TEXTS})
    assert denied.status_code == 401 and "error" in denied.json()


def test_tei_info(client):
    info = client.get("/info").json()
    assert info["model_id"] == "tiny-v3"
    assert info["max_client_batch_size"] == 2048
    assert "retrieval.query" in info["prompt_names"]


# -- OpenAI-style: the model name or a prefix carries the task --------------------------------


@pytest.mark.parametrize(("model", "task"), sorted(DEFAULT_TASK_MODELS.items()))
def test_task_model_names(client, tiny_embedder, model, task):
    resp = client.post("/v1/embeddings", json={"model": model, "input": TEXTS})
    assert resp.status_code == 200, resp.text
    close([d["embedding"] for d in resp.json()["data"]], tiny_embedder.encode(TEXTS, task=task))


def test_task_field_and_prefixes(client, tiny_embedder):
    field = client.post("/v1/embeddings", json={"input": TEXTS, "task": "retrieval.passage"})
    want = tiny_embedder.encode(TEXTS, task="retrieval.passage")
    close([d["embedding"] for d in field.json()["data"]], want)
    prefixed = client.post("/v1/embeddings", json={"input": [f"passage: {t}" for t in TEXTS]})
    close([d["embedding"] for d in prefixed.json()["data"]], want)
    # the same task from two sources is fine; TEI clients can prepend prefixes too
    both = client.post(
        "/v1/embeddings",
        json={"model": "jina-embeddings-v3-query", "input": [f"query: {t}" for t in TEXTS]},
    )
    close(
        [d["embedding"] for d in both.json()["data"]],
        tiny_embedder.encode(TEXTS, task="retrieval.query"),
    )
    tei = client.post("/embed", json={"inputs": [f"query:   {t}" for t in TEXTS]})
    close(tei.json(), tiny_embedder.encode(TEXTS, task="retrieval.query"))


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"model": "text-embedding-3-small", "input": "x"},
         ["jina-embeddings-v3-query", "tiny-v3"]),
        ({"model": "jina-embeddings-v3-query", "task": "retrieval.passage", "input": "x"},
         ["Conflicting", "retrieval.query", "retrieval.passage"]),
        ({"input": ["query: a", "passage: b"]}, ["same task", "'query: '"]),
        ({"input": ["query: a", "b"]}, ["same task"]),
    ],
)  # fmt: skip
def test_unknown_models_and_conflicts_are_400(client, payload, words):
    resp = client.post("/v1/embeddings", json=payload)
    assert resp.status_code == 400, resp.text
    assert all(w in resp.json()["detail"] for w in words)


def test_models_lists_the_task_names(client):
    ids = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    assert ids["jina-embeddings-v3-query"]["tasks"] == ["retrieval.query"]
    assert "tiny-v3" in ids


def test_routing_is_checked_when_the_app_is_made(tiny_embedder):
    with pytest.raises(ConfigurationError, match="clustering"):
        create_app(tiny_embedder, task_models={"m-cluster": "clustering"})
    with pytest.raises(ConfigurationError, match="non-empty"):
        TaskRouting(prefixes={"": "retrieval.query"})


# -- the clients, unchanged ----------------------------------------------------------------


def test_haystack_tei_embedder(server, tiny_embedder):
    hf = pytest.importorskip("haystack_integrations.components.embedders.huggingface_api")
    from haystack.utils import Secret

    embedder = hf.HuggingFaceAPITextEmbedder(
        api_type="text_embeddings_inference",
        api_params={"url": server.url},
        token=Secret.from_token(KEY),
        prefix="query: ",  # the server maps it to retrieval.query and removes it
        normalize=True,
    )
    got = embedder.run(text=TEXTS[1])["embedding"]
    close([got], tiny_embedder.encode([TEXTS[1]], task="retrieval.query"))


async def test_llama_index_tei_embedding(server, tiny_embedder):
    tei = pytest.importorskip("llama_index.embeddings.text_embeddings_inference")
    embed = tei.TextEmbeddingsInference(
        model_name="jina-embeddings-v3",
        base_url=server.url,
        auth_token=KEY,
        query_instruction="query:",  # LlamaIndex joins with a space: "query: <text>"
        text_instruction="passage:",
    )
    close(
        [embed.get_query_embedding(TEXTS[0])],
        tiny_embedder.encode([TEXTS[0]], task="retrieval.query"),
    )
    close(
        await embed.aget_text_embedding_batch(TEXTS),
        tiny_embedder.encode(TEXTS, task="retrieval.passage"),
    )


def test_openai_sdk(server, tiny_embedder):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY)
    for model, task in [("jina-embeddings-v3-query", "retrieval.query"),
                        ("jina-embeddings-v3-passage", "retrieval.passage")]:  # fmt: skip
        want = tiny_embedder.encode(TEXTS, task=task)
        floats = client.embeddings.create(model=model, input=TEXTS, encoding_format="float")
        close([d.embedding for d in floats.data], want)
        # asked for explicitly, base64 comes back as the strings (float32 little-endian)
        b64 = client.embeddings.create(model=model, input=TEXTS, encoding_format="base64")
        close([np.frombuffer(base64.b64decode(d.embedding), "<f4") for d in b64.data], want)
    # by default the SDK asks for base64 itself and decodes it
    default = client.embeddings.create(model="jina-embeddings-v3-query", input=TEXTS[0])
    close([default.data[0].embedding], tiny_embedder.encode([TEXTS[0]], task="retrieval.query"))
    with pytest.raises(openai.BadRequestError, match="jina-embeddings-v3-passage"):
        client.embeddings.create(model="text-embedding-3-small", input="x")


def test_litellm(server, tiny_embedder):
    litellm = pytest.importorskip("litellm")
    resp = litellm.embedding(
        model="openai/jina-embeddings-v3-passage",
        api_base=f"{server.url}/v1",
        api_key=KEY,
        input=TEXTS,
    )
    got = [d["embedding"] for d in resp.data]
    close(got, tiny_embedder.encode(TEXTS, task="retrieval.passage"))


# -- the RAG platforms' own requests, replayed as their code sends them -------------------------


@pytest.mark.parametrize("base", ["", "/v1"])  # the README's base URL, and the API's own form
def test_dify_jina_plugin(server, tiny_embedder, base):
    # models/jina text_embedding.py: requests.post(base_url + "/embeddings",
    # data=json.dumps(...)), `task` only for the model name jina-embeddings-v3; saving the
    # model embeds ["ping"] as a document and reads data, usage.total_tokens
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    for texts, task in ((["ping"], "retrieval.passage"), (TEXTS, "retrieval.query")):
        body = json.dumps({"model": "jina-embeddings-v3", "input": texts, "task": task})
        resp = httpx.post(f"{server.url}{base}/embeddings", headers=headers, content=body)
        assert resp.status_code == 200, resp.text
        doc = resp.json()
        assert doc["model"] == "jina-embeddings-v3" and doc["usage"]["total_tokens"] > 0
        close([d["embedding"] for d in doc["data"]], tiny_embedder.encode(texts, task=task))


def test_dify_openai_compatible_plugin(server, tiny_embedder):
    # models/openai_api_compatible: POST {endpoint_url}/embeddings with `model`, `input`
    # (max_chunks texts, each "<prefix> <text>": the plugin adds the space) and, when set,
    # encoding_format; the server maps the prefixes (--task-prefix 'query: =...')
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    for prefix, task in (("query:", "retrieval.query"), ("passage:", "retrieval.passage")):
        payload = {"model": "jina-embeddings-v3", "input": [f"{prefix} {t}" for t in TEXTS]}
        for extra in ({}, {"encoding_format": "float"}):
            resp = httpx.post(
                f"{server.url}/v1/embeddings", headers=headers, json={**payload, **extra}
            )
            assert resp.status_code == 200, resp.text
            assert resp.json()["model"] == "jina-embeddings-v3"
            got = [d["embedding"] for d in resp.json()["data"]]
            close(got, tiny_embedder.encode(TEXTS, task=task))


def test_ragflow_huggingface_provider_sends_no_key(server, tiny_embedder):
    # rag/llm/embedding_model.py HuggingFaceEmbed: POST {base_url}/embed, {"inputs": ...},
    # Content-Type only (no Authorization), a list of vectors back
    headers = {"Content-Type": "application/json"}
    with ServerThread(create_app(tiny_embedder)) as keyless:
        assert httpx.get(f"{keyless.url}/info").json()["model_type"] == {
            "embedding": {"pooling": "mean"}
        }
        many = httpx.post(f"{keyless.url}/embed", json={"inputs": TEXTS}, headers=headers)
        close(many.json(), tiny_embedder.encode(TEXTS))
        one = httpx.post(f"{keyless.url}/embed", json={"inputs": TEXTS[0]}, headers=headers)
        close([one.json()[0]], tiny_embedder.encode(TEXTS[:1]))
    # so a server with a key refuses it: the README's recipe serves it without one
    refused = httpx.post(f"{server.url}/embed", json={"inputs": TEXTS}, headers=headers)
    assert refused.status_code == 401


def test_ragflow_openai_compatible_provider(server, tiny_embedder):
    # OpenAIEmbed: the openai SDK, encoding_format="float", extra_body={"drop_params": True}
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key=KEY, base_url=f"{server.url}/v1")
    model = "jina-embeddings-v3-text-matching"
    res = client.embeddings.create(
        input=TEXTS, model=model, encoding_format="float", extra_body={"drop_params": True}
    )
    assert res.model == model  # the name it asked for, as the hosted API answers
    close([d.embedding for d in res.data], tiny_embedder.encode(TEXTS, task="text-matching"))


# -- `jina-v3 serve` flags -----------------------------------------------------------------


def test_serve_task_flags(tiny_model_path, tiny_embedder):
    flags = (
        "--task-model",
        "v3-q=retrieval.query",
        "--task-prefix",
        "search_query: =retrieval.query",
    )
    with serve_process(tiny_model_path, extra=flags) as (_, url):
        named = httpx.post(f"{url}/v1/embeddings", json={"model": "v3-q", "input": TEXTS})
        want = tiny_embedder.encode(TEXTS, task="retrieval.query")
        close([d["embedding"] for d in named.json()["data"]], want)
        prefixed = httpx.post(
            f"{url}/embed", json={"inputs": [f"search_query: {t}" for t in TEXTS]}
        )
        close(prefixed.json(), want)
        # the flag replaces the default names
        gone = httpx.post(
            f"{url}/v1/embeddings", json={"model": "jina-embeddings-v3-query", "input": "x"}
        )
        assert gone.status_code == 400 and "v3-q" in gone.json()["detail"]


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (("--task-prefix", "q=clustering"), "Did you mean"),
        (("--task-model", "noequals"), "KEY=TASK"),
    ],
)
def test_serve_refuses_bad_task_flags(tiny_model_path, tmp_path, flags, words):
    from tests.cli.conftest import cli

    done = cli("serve", "--model", str(tiny_model_path), *flags, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
