"""Which embedded, persistent store should `jina-v3 index` default to: Qdrant Edge or Milvus Lite?

Both are measured through our connectors' public API only (``ensure_collection``, ``upsert``,
``query``, ``close``, and Edge's ``optimize``), on the same points: random 1024-d float32 unit
vectors (``--dims 256`` for the smaller Matryoshka size) with a realistic small payload, at
10k and 100k points (``--sizes``). Per store and size, in a fresh child process each:

- ``insert_per_s``: points / wall time of ``upsert(records)`` into a new collection;
- ``settle_s``: what the store needs before it searches at full speed and is safe on disk:
  Edge's ``optimize()`` (HNSW build) plus ``close()``; Milvus Lite's ``close()``, which waits
  for its background indexing of the fresh writes (tens of seconds at these sizes);
- ``ingest_per_s``: points / (insert + settle), the figure an indexing run sees end to end;
- ``reopen_s``: a new store object on the same path in the same process, through
  ``ensure_collection`` (the signature check) and the first query;
- ``reopen_process_s``: the same in a new process (imports not counted), as the next
  ``jina-v3 search`` run sees it;
- ``query_p50_ms`` / ``query_p95_ms``: ``query(k=10)`` latency over 50 random queries (after 5
  warm-up ones) on the reopened, settled store;
- ``fresh_query_p50_ms``: the same over 20 queries right after the writes, before settling
  (Edge without ``optimize()`` searches exhaustively; Milvus Lite is still indexing);
- ``disk_mb``: the store's allocated size on disk after closing (as ``du`` counts it).

The last line printed is one JSON object: ``results[store][size]`` with the figures above, and
``ratios[size]`` with ``edge_over_milvus_<figure>`` (for rates, > 1 means Edge is faster; for
times and latencies, < 1 means Edge is faster).

    python benchmarks/default_store.py [--sizes 10000,100000] [--dims 1024] [--stores ...]

About 1 minute at 10k and 7-8 minutes at 100k on a shared 2-core machine (there, Edge's
``optimize()`` takes 3-4 minutes and Milvus Lite's inserts about 2).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from jina_v3.store import EmbeddingSignature, Record, point_id

STORES = ("qdrant_edge", "milvus_lite")
LANGS = ("en", "de", "fr", "es", "zh", "ja")
TOPICS = ("cities", "science", "food", "travel")
COLLECTION = "bench"
QUERIES, FRESH_QUERIES, WARMUP, K = 50, 20, 5, 10


def signature(dims: int) -> EmbeddingSignature:
    return EmbeddingSignature(model="jinaai/jina-embeddings-v3", dimensions=dims)


def unit_vectors(n: int, dims: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dims), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def make_records(n: int, dims: int) -> list[Record]:
    """`n` chunks of `n // 4` documents: random unit vectors and a small realistic payload."""
    vectors = unit_vectors(n, dims, seed=0)
    records = []
    for i in range(n):
        doc, chunk = f"docs/{LANGS[i % 6]}/doc-{i // 4}.md", i % 4
        records.append(
            Record(
                id=point_id(doc, chunk),
                vector=vectors[i],
                text=f"Chunk {chunk} of document {i // 4}: a short paragraph of prose, "
                "about as long as the chunks an indexing run writes.",
                metadata={"source": doc, "lang": LANGS[i % 6], "topic": TOPICS[i % 4]},
                document_id=doc,
                chunk_index=chunk,
            )
        )
    return records


def open_store(kind: str, path: Path) -> Any:
    if kind == "qdrant_edge":
        from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

        return QdrantEdgeStore(COLLECTION, path=path)
    from jina_v3.connectors.milvus import MilvusStore

    path.mkdir(parents=True, exist_ok=True)  # Milvus Lite does not create the folder
    return MilvusStore(COLLECTION, uri=str(path / "store.db"))


def timed_open(kind: str, path: Path, dims: int, query: np.ndarray) -> tuple[Any, float]:
    """A new store on `path`, checked and answering its first query; (store, seconds)."""
    start = time.perf_counter()
    store = open_store(kind, path)
    store.ensure_collection(signature(dims))
    hits = store.query(query, k=K)
    elapsed = time.perf_counter() - start
    if len(hits) != K:
        raise RuntimeError(f"{kind}: the reopened store answered {len(hits)} hits, not {K}")
    return store, elapsed


def disk_mb(path: Path) -> float:
    # allocated blocks, as du counts them: Edge preallocates sparse segment files
    total = sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file())
    return round(total / 2**20, 1)


def measure_one(kind: str, n: int, dims: int, workdir: Path) -> dict[str, Any]:
    """All figures for one store at one size (run in its own process)."""
    records = make_records(n, dims)
    queries = unit_vectors(QUERIES + WARMUP + 1, dims, seed=1)
    path = workdir / f"{kind}-{n}"

    store = open_store(kind, path)
    store.ensure_collection(signature(dims))
    start = time.perf_counter()
    store.upsert(records)
    insert_s = time.perf_counter() - start
    del records
    # right after the writes: Edge searches its appendable segments exhaustively until
    # optimize(); Milvus Lite is still indexing in the background
    fresh = []
    for i, query in enumerate(queries[: FRESH_QUERIES + WARMUP]):
        start = time.perf_counter()
        store.query(query, k=K)
        if i >= WARMUP:
            fresh.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    if kind == "qdrant_edge":
        store.optimize()
    store.close()
    settle_s = time.perf_counter() - start

    store, reopen_s = timed_open(kind, path, dims, queries[-1])
    latencies = []
    for i, query in enumerate(queries[:-1]):
        start = time.perf_counter()
        store.query(query, k=K)
        if i >= WARMUP:
            latencies.append((time.perf_counter() - start) * 1000)
    store.close()

    child = subprocess.run(
        [sys.executable, __file__, "--reopen", f"{kind}:{dims}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    )
    reopen_process_s = float(child.stdout.strip().splitlines()[-1])
    quantiles = statistics.quantiles(latencies, n=20)
    return {
        "insert_s": round(insert_s, 3),
        "insert_per_s": round(n / insert_s),
        "settle_s": round(settle_s, 3),
        "ingest_per_s": round(n / (insert_s + settle_s)),
        "reopen_s": round(reopen_s, 3),
        "reopen_process_s": round(reopen_process_s, 3),
        "fresh_query_p50_ms": round(statistics.median(fresh), 2),
        "query_p50_ms": round(statistics.median(latencies), 2),
        "query_p95_ms": round(quantiles[18], 2),
        "disk_mb": disk_mb(path),
    }


def ratios(edge: dict[str, Any], milvus: dict[str, Any]) -> dict[str, float]:
    names = {
        "insert": "insert_per_s",
        "ingest": "ingest_per_s",
        "settle_s": "settle_s",
        "reopen_s": "reopen_s",
        "reopen_process_s": "reopen_process_s",
        "fresh_query_p50": "fresh_query_p50_ms",
        "query_p50": "query_p50_ms",
        "query_p95": "query_p95_ms",
        "disk": "disk_mb",
    }
    return {
        f"edge_over_milvus_{short}": round(edge[key] / milvus[key], 3)
        for short, key in names.items()
        if milvus[key]
    }


def child_reopen(spec: str) -> None:
    kind, dims, path = spec.split(":", 2)
    open_store(kind, Path(path))  # imports the engine's client: not part of the timing
    query = unit_vectors(1, int(dims), seed=2)[0]
    store, elapsed = timed_open(kind, Path(path), int(dims), query)
    store.close()
    print(elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated point counts")
    parser.add_argument("--dims", type=int, default=1024, choices=[256, 1024])
    parser.add_argument("--stores", default=",".join(STORES), help="comma-separated subset")
    parser.add_argument("--workdir", default=None, help="where the stores go (default: a tmp dir)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # KIND:N:DIMS:WORKDIR, in a child
    parser.add_argument("--reopen", help=argparse.SUPPRESS)  # KIND:DIMS:PATH, in a child
    args = parser.parse_args()
    if args.reopen:
        return child_reopen(args.reopen)
    if args.one:
        kind, n, dims, workdir = args.one.split(":", 3)
        print(json.dumps(measure_one(kind, int(n), int(dims), Path(workdir))))
        return None

    sizes = [int(s) for s in args.sizes.split(",")]
    stores = [s for s in args.stores.split(",") if s]
    unknown = set(stores) - set(STORES)
    if unknown:
        parser.error(f"unknown stores {sorted(unknown)}; choose from {', '.join(STORES)}")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="jina-v3-store-bench-"))
    results: dict[str, dict[str, Any]] = {kind: {} for kind in stores}
    try:
        for n in sizes:
            for kind in stores:
                start = time.perf_counter()
                child = subprocess.run(
                    [sys.executable, __file__, "--one", f"{kind}:{n}:{args.dims}:{workdir}"],
                    check=True,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                figures = json.loads(child.stdout.strip().splitlines()[-1])
                results[kind][str(n)] = figures
                took = time.perf_counter() - start
                print(f"{kind} @ {n}: {json.dumps(figures)} ({took:.0f} s)", flush=True)
                shutil.rmtree(workdir / f"{kind}-{n}", ignore_errors=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    summary: dict[str, Any] = {
        "dims": args.dims,
        "cpus": os.cpu_count(),
        "queries": QUERIES,
        "k": K,
        "results": results,
    }
    if set(STORES) <= set(stores):
        summary["ratios"] = {
            str(n): ratios(results["qdrant_edge"][str(n)], results["milvus_lite"][str(n)])
            for n in sizes
        }
    print(json.dumps(summary))
    return None


if __name__ == "__main__":
    main()
