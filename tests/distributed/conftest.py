"""One local Ray instance (2 CPUs, loopback) for the session; the engines; point readers."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "examples" / "data" / "docs"


#: The API key of the API-backed tests: in the environment of the Ray processes only (as a
#: cluster's nodes have it), never in the driver's (workers read it by name).
RAY_API_KEY = f"jv3-ray-{secrets.token_hex(8)}"
RAY_API_KEY_ENV = "JV3_RAY_KEY"


@pytest.fixture(scope="session")
def pinecone_server():
    """The Pinecone-API test server that the Ray workers' environment points at."""
    from tests._pinecone_server import PineconeTestServer

    with PineconeTestServer() as server:
        yield server


@pytest.fixture(scope="session")
def ray_instance(pinecone_server):
    pytest.importorskip("ray")
    pytest.importorskip("torch")
    from jina_v3.distributed import init_ray

    nodes = {
        RAY_API_KEY_ENV: RAY_API_KEY,
        "PINECONE_API_KEY": pinecone_server.api_key,
        "PINECONE_CONTROLLER_HOST": pinecone_server.url,
    }
    saved = {name: os.environ.get(name) for name in nodes}
    os.environ.update(nodes)  # the local instance (its raylet, so its workers) inherits them
    try:
        started = init_ray(num_cpus=2, log_to_driver=False)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value
    import ray

    yield ray
    if started:
        ray.shutdown()


def session_files(ray: Any) -> list[Path]:
    """Every regular file of the running Ray session (logs included)."""
    from ray._private.worker import global_worker

    root = Path(global_worker.node.get_session_dir_path())
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory):
    """A `milvus-lite server` on loopback (a Lite file cannot be shared by processes)."""
    pytest.importorskip("milvus_lite")
    pytest.importorskip("pymilvus")
    port = _free_port()
    data = tmp_path_factory.mktemp("milvus-lite")
    command = Path(sys.executable).with_name("milvus-lite")
    argv = [str(command), "server", "--data-dir", str(data), "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*argv, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("milvus-lite server did not start")
                time.sleep(0.2)
        yield f"milvus:http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def vectors_of(store: Any, ids: list[str]) -> dict[str, np.ndarray]:
    """The stored vectors, read through each engine's own client."""
    name = type(store).__name__
    if name == "MilvusStore":
        rows = store.client.get(store.collection, ids=ids, output_fields=["vector"])
        return {r["id"]: np.asarray(r["vector"], np.float32) for r in rows}
    if name == "PineconeStore":
        found = store.client.fetch(ids).vectors or {}
        return {i: np.asarray(v.values, np.float32) for i, v in found.items()}
    if name == "QdrantEdgeStore":
        out = {}
        for record in store.client._open().retrieve(ids, with_payload=False, with_vector=True):
            vector = record.vector
            if isinstance(vector, dict):
                vector = next(iter(vector.values()))
            out[str(record.id)] = np.asarray(vector, np.float32)
        return out
    raise AssertionError(f"no vector reader for {name}")


def points_of(store: Any, ids: list[str]) -> dict[str, tuple[Any, ...]]:
    """Every point among `ids`: (vector, text, metadata, document id, chunk, content hash)."""
    vectors = vectors_of(store, ids)
    out = {}
    for hit in store.fetch(ids):
        payload = (hit.text, dict(hit.metadata), hit.document_id, hit.chunk_index)
        out[hit.id] = (vectors[hit.id], *payload, hit.content_hash)
    return out


def assert_same_points(got: dict[str, tuple[Any, ...]], want: dict[str, tuple[Any, ...]]) -> None:
    assert sorted(got) == sorted(want)
    for point, expected in want.items():
        np.testing.assert_allclose(got[point][0], expected[0], atol=1e-5, err_msg=point)
        assert got[point][1:] == expected[1:], point
