"""Throughput of `jina-v3 serve`: many small concurrent requests vs one client sending batches.

Starts the server (a subprocess on a free loopback port) on a seeded random checkpoint of
v3's full shapes in bf16 (built with ``benchmarks/embed_throughput.py``), or on ``--model``;
then, in the same run and on the same texts:

- concurrent: ``--clients`` (16) clients, each sending one short text per request;
- batched: one client sending the texts in batches of ``--batch`` (64).

Each mode runs ``--repeats`` times after a warm-up; the medians are compared. The last line
of output is one JSON object with ``concurrent_over_batched``, ``concurrent_texts_per_s`` and
``batched_texts_per_s`` (target: concurrent_over_batched >= 0.8).

    python benchmarks/server_throughput.py [--texts 256] [--repeats 3]
    python benchmarks/server_throughput.py --model tests/fixtures/tiny-v3 --texts 1024

The full-size model costs what the real one does per token. The tiny test checkpoint makes a
quick smoke run, but there the model is nearly free and HTTP per request dominates (one text
per request cannot reach 0.8 of 64-text batches on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
WORDS = (
    "vector database late chunking retrieval passage query multilingual embedding model "
    "Berlin Paris Tokyo river mountain library science music history ocean garden"
).split()


def short_texts(n: int) -> list[str]:
    """Short, distinct sentences (6-12 words), like search queries or titles."""
    out = []
    for i in range(n):
        k = 6 + i % 7
        out.append(" ".join(WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(k)) + f" #{i}")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(model: str, dtype: str, extra: list[str]) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "jina_v3.cli", "serve", "--model", model, "--port", str(port)]
    cmd += ["--dtype", dtype, "--log-level", "warning", *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("server did not start within 300 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def run_concurrent(url: str, texts: list[str], clients: int, task: str) -> float:
    """`clients` workers, each its own connection, one text per request; returns seconds."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for t in texts:
        queue.put_nowait(t)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def worker() -> None:
            while True:
                try:
                    text = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                resp = await client.post("/v1/embeddings", json={"input": [text], "task": task})
                resp.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return time.perf_counter() - start


async def run_batched(url: str, texts: list[str], batch: int, task: str) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        start = time.perf_counter()
        for i in range(0, len(texts), batch):
            resp = await client.post(
                "/v1/embeddings", json={"input": texts[i : i + batch], "task": task}
            )
            resp.raise_for_status()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint (default: full-size random)")
    parser.add_argument("--dtype", default=None, choices=["float32", "bfloat16"])
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--task", default="retrieval.passage")
    parser.add_argument("--server-arg", action="append", default=[], help="passed to serve")
    args = parser.parse_args()

    texts = short_texts(args.texts)
    workdir = tempfile.TemporaryDirectory(prefix="jina-v3-bench-")
    full_size = args.model is None
    if full_size:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from embed_throughput import build_checkpoint

        args.model = str(Path(workdir.name) / "random-full-size-v3")
        build_checkpoint(Path(args.model))
    args.dtype = args.dtype or ("bfloat16" if full_size else "float32")
    with workdir, server(args.model, args.dtype, args.server_arg) as url:
        # warm-up: both code paths, and the model's kernels
        asyncio.run(run_batched(url, texts[: args.batch * 2], args.batch, args.task))
        asyncio.run(run_concurrent(url, texts[: args.clients * 4], args.clients, args.task))
        before = httpx.get(url + "/healthz").json()
        concurrent, batched = [], []
        for _ in range(args.repeats):  # interleaved, so drift on a shared machine hits both
            concurrent.append(asyncio.run(run_concurrent(url, texts, args.clients, args.task)))
            batched.append(asyncio.run(run_batched(url, texts, args.batch, args.task)))
        after = httpx.get(url + "/healthz").json()

    n = len(texts)
    c_rate = n / statistics.median(concurrent)
    b_rate = n / statistics.median(batched)
    requests = after["requests"] - before["requests"]
    batches = after["batches"] - before["batches"]
    for name, times in (("concurrent", concurrent), ("batched", batched)):
        print(f"{name:>10}: " + " ".join(f"{n / t:8.1f}" for t in times) + "  texts/s")
    print(f"server: {requests} requests ran as {batches} model batches")
    print(
        json.dumps(
            {
                "concurrent_over_batched": round(c_rate / b_rate, 3),
                "concurrent_texts_per_s": round(c_rate, 1),
                "batched_texts_per_s": round(b_rate, 1),
                "texts": n,
                "clients": args.clients,
                "batch": args.batch,
                "repeats": args.repeats,
                "model": Path(args.model).name,
                "dtype": args.dtype,
                "requests_per_model_batch": round(requests / max(batches, 1), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
