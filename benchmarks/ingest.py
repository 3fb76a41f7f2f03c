"""Connector overhead on ingestion: precomputed vectors into each embedded engine, once through
the connector's ``upsert(records)`` and once through the raw client, in the same run.

Engines: Milvus Lite, Qdrant ``:memory:``, Qdrant Edge, and (unless ``--no-pinecone``) the
Pinecone SDK against the Pinecone-API test server on 127.0.0.1 (``--pinecone-n`` points: the
pure-Python server parses every float, so it is the slow part there). Both paths write the
same points (ids, 1024-d float32 unit vectors, the same payload: text, document id, metadata)
into a collection of the same layout, with the same batch size; only the writes are timed.
After a warm-up, the two paths alternate in order across repetitions; figures are medians.

    python benchmarks/ingest.py [--n 20000] [--dims 1024] [--repeats 5] [--pinecone-n 5000]

About 11 minutes on a shared 2-core machine (Milvus Lite's indexing waits dominate);
``--engines qdrant_edge,qdrant_memory`` or a smaller ``--n`` for a quick look.

The last line printed is one JSON object with ``overhead_<engine>`` = connector_time /
raw_time - 1 per engine (target: <= 0.10), from the medians of process CPU time: every engine
here runs inside this process (Milvus Lite's server, Qdrant local, Edge, the Pinecone test
server's threads), so CPU time counts all the work of a path and, unlike wall time, not the
other programs sharing the machine. ``overhead_wall_<engine>`` gives the wall-clock ratio.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests._pinecone_server

from jina_v3.index.store import batched, record_payload  # noqa: E402
from jina_v3.store import EmbeddingSignature, Record, point_id  # noqa: E402

LANGS = ("en", "de", "fr", "es")
Timing = tuple[float, float]  # (wall seconds, process CPU seconds)


def _clock() -> Timing:
    return time.perf_counter(), time.process_time()


def _since(start: Timing) -> Timing:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def make_records(n: int, dims: int, seed: int = 0) -> list[Record]:
    """`n` records with random unit vectors and a realistic small payload."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dims), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        Record(
            id=point_id(f"doc-{i}"),
            vector=vectors[i],
            text=f"Passage {i}: a short paragraph of about one hundred characters, as chunks are.",
            metadata={"lang": LANGS[i % 4], "year": 2000 + i % 25, "tags": ["a", "b"]},
            document_id=f"doc-{i}",
        )
        for i in range(n)
    ]


class Engine:
    """One engine: `connector(records)` and `raw(records)` each write into a fresh collection
    and return the seconds the writes took."""

    name = ""
    repeats = 5  # default repetitions (the runs are noisy on a shared machine)

    def __init__(self, signature: EmbeddingSignature, workdir: Path) -> None:
        self.signature, self.workdir = signature, workdir

    def connector(self, records: list[Record]) -> Timing:
        raise NotImplementedError

    def raw(self, records: list[Record]) -> Timing:
        raise NotImplementedError

    def close(self) -> None:
        pass


class MilvusLite(Engine):
    """Each run gets its own Lite data path, closed after the timed writes: closing waits for
    Lite's background indexing, so no run pays for the previous one's (about 30 s per 20k
    1024-d points, outside the timings)."""

    name = "milvus_lite"

    def __init__(self, signature: EmbeddingSignature, workdir: Path) -> None:
        super().__init__(signature, workdir)
        from jina_v3.connectors.milvus import DEFAULT_BATCH_SIZE, MilvusStore

        self.store_cls, self.batch = MilvusStore, DEFAULT_BATCH_SIZE

    def _fresh(self) -> Any:
        run = f"c{uuid.uuid4().hex[:8]}"
        store = self.store_cls(run, uri=str(self.workdir / f"{run}.db"))
        store.ensure_collection(self.signature)
        return store

    def connector(self, records: list[Record]) -> Timing:
        store = self._fresh()
        start = _clock()
        store.upsert(records)
        elapsed = _since(start)
        store.close()
        return elapsed

    def raw(self, records: list[Record]) -> Timing:
        store = self._fresh()  # the same schema and index; written with the bare client
        client, name = store.client, store.collection
        start = _clock()
        for chunk in batched(records, self.batch):
            rows = [
                {
                    "id": r.id,
                    "vector": r.vector,
                    "text": r.text,
                    "document_id": r.document_id,
                    "chunk_index": -1,
                    "metadata": r.metadata,
                }
                for r in chunk
            ]
            client.upsert(name, rows)
        elapsed = _since(start)
        store.close()
        return elapsed


class QdrantMemory(Engine):
    name = "qdrant_memory"

    def __init__(self, signature: EmbeddingSignature, workdir: Path) -> None:
        super().__init__(signature, workdir)
        from qdrant_client import QdrantClient, models

        from jina_v3.connectors.qdrant import QdrantStore

        self.client = QdrantClient(location=":memory:")
        self.models = models
        self.store_cls = QdrantStore

    def _fresh(self) -> Any:
        store = self.store_cls(f"c{uuid.uuid4().hex[:8]}", client=self.client)
        store.ensure_collection(self.signature)
        return store

    def connector(self, records: list[Record]) -> Timing:
        store = self._fresh()
        start = _clock()
        store.upsert(records)
        elapsed = _since(start)
        self.client.delete_collection(store.collection)
        return elapsed

    def raw(self, records: list[Record]) -> Timing:
        store = self._fresh()
        name, batch = store.collection, store.batch_size
        start = _clock()
        for chunk in batched(records, batch):
            vectors = np.stack([r.vector for r in chunk])
            points = self.models.Batch(
                ids=[r.id for r in chunk],
                vectors=vectors.tolist(),
                payloads=[record_payload(r) for r in chunk],
            )
            self.client.upsert(collection_name=name, points=points, wait=True)
        elapsed = _since(start)
        self.client.delete_collection(name)
        return elapsed

    def close(self) -> None:
        self.client.close()


class QdrantEdge(Engine):
    name = "qdrant_edge"

    def __init__(self, signature: EmbeddingSignature, workdir: Path) -> None:
        super().__init__(signature, workdir)
        import qdrant_edge

        from jina_v3.connectors.qdrant.common import FULL
        from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

        self.edge, self.full, self.store_cls = qdrant_edge, FULL, QdrantEdgeStore
        self.root = workdir / "edge"

    def connector(self, records: list[Record]) -> Timing:
        store = self.store_cls(f"c{uuid.uuid4().hex[:8]}", path=self.root)
        store.ensure_collection(self.signature)
        start = _clock()
        store.upsert(records)
        elapsed = _since(start)
        store.close()
        shutil.rmtree(store.shard_path, ignore_errors=True)
        return elapsed

    def raw(self, records: list[Record]) -> Timing:
        from jina_v3.index.store import DOCUMENT_ID_KEY

        edge = self.edge
        path = self.root / f"raw{uuid.uuid4().hex[:8]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        params = edge.EdgeVectorParams(
            size=self.signature.dimensions, distance=edge.Distance.Cosine
        )
        shard = edge.EdgeShard.create(str(path), edge.EdgeConfig(vectors={self.full: params}))
        shard.update(
            edge.UpdateOperation.create_field_index(DOCUMENT_ID_KEY, edge.PayloadSchemaType.Keyword)
        )
        batch = self.store_cls("probe", path=self.root).batch_size
        start = _clock()
        for chunk in batched(records, batch):
            vectors = np.stack([r.vector for r in chunk]).tolist()
            points = [
                edge.Point(r.id, {self.full: vectors[i]}, record_payload(r))
                for i, r in enumerate(chunk)
            ]
            shard.update(edge.UpdateOperation.upsert_points(points))
        elapsed = _since(start)
        shard.close()
        shutil.rmtree(path, ignore_errors=True)
        return elapsed


class PineconeTestServer(Engine):
    name = "pinecone_test_server"

    def __init__(self, signature: EmbeddingSignature, workdir: Path) -> None:
        super().__init__(signature, workdir)
        import pinecone

        from jina_v3.connectors.pinecone import PineconeStore
        from tests._pinecone_server import PineconeTestServer as Server

        self.server = Server().start()
        self.pc = pinecone.Pinecone(api_key=self.server.api_key, host=self.server.url)
        self.store_cls = PineconeStore
        self.requests_per_run: int | None = None

    def _fresh(self) -> tuple[Any, str]:
        name = f"c{uuid.uuid4().hex[:8]}"
        store = self.store_cls(name, client=self.pc, api_key=self.server.api_key)
        store.ensure_collection(self.signature)
        return store, name

    def _upserts(self) -> int:
        return sum(1 for r in self.server.requests if r[1] == "/vectors/upsert")

    def connector(self, records: list[Record]) -> Timing:
        store, name = self._fresh()
        before = self._upserts()
        start = _clock()
        store.upsert(records)
        elapsed = _since(start)
        self.requests_per_run = self._upserts() - before
        self.pc.indexes.delete(name, timeout=-1)
        store.close()
        return elapsed

    def raw(self, records: list[Record]) -> Timing:
        from jina_v3.connectors.pinecone.store import _metadata

        store, name = self._fresh()
        index = store.index
        # the same number of requests the connector needed to stay under 2 MB per request
        requests = self.requests_per_run or math.ceil(len(records) / 80)
        size = math.ceil(len(records) / requests)
        start = _clock()
        for chunk in batched(records, size):
            vectors = [
                {"id": r.id, "values": r.vector.tolist(), "metadata": _metadata(r)[0]}
                for r in chunk
            ]
            index.upsert(vectors=vectors, namespace="")
        elapsed = _since(start)
        self.pc.indexes.delete(name, timeout=-1)
        store.close()
        return elapsed

    def close(self) -> None:
        self.pc.close()
        self.server.stop()


def measure(engine: Engine, records: list[Record], repeats: int) -> dict[str, Any]:
    runs: dict[str, list[Timing]] = {"connector": [], "raw": []}
    paths: dict[str, Callable[[list[Record]], Timing]] = {
        "connector": engine.connector,
        "raw": engine.raw,
    }
    for path in paths.values():  # warm-up, not counted: imports, engine start, caches
        path(records[: min(len(records), 2000)])
    for rep in range(repeats):
        order = ("connector", "raw") if rep % 2 == 0 else ("raw", "connector")
        for path in order:
            gc.collect()
            runs[path].append(paths[path](records))

    def median(path: str, i: int) -> float:
        return statistics.median(t[i] for t in runs[path])

    wall = (median("connector", 0), median("raw", 0))
    cpu = (median("connector", 1), median("raw", 1))
    return {
        "connector_s": round(wall[0], 3),
        "raw_s": round(wall[1], 3),
        "connector_cpu_s": round(cpu[0], 3),
        "raw_cpu_s": round(cpu[1], 3),
        "connector_runs_s": [round(t[0], 3) for t in runs["connector"]],
        "raw_runs_s": [round(t[0], 3) for t in runs["raw"]],
        "points_per_s_connector": round(len(records) / wall[0]),
        "overhead_wall": round(wall[0] / wall[1] - 1, 4),
        "overhead_cpu": round(cpu[0] / cpu[1] - 1, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--dims", type=int, default=1024)
    parser.add_argument(
        "--repeats", type=int, default=None, help="repetitions per path (default 5)"
    )
    parser.add_argument(
        "--pinecone-n", type=int, default=5_000, help="points for the (slow, pure-Python) server"
    )
    parser.add_argument("--no-pinecone", action="store_true")
    parser.add_argument("--engines", default="", help="comma-separated subset of engine names")
    args = parser.parse_args()

    engines: list[type[Engine]] = [MilvusLite, QdrantMemory, QdrantEdge]
    if not args.no_pinecone:
        engines.append(PineconeTestServer)
    if args.engines:
        wanted = set(args.engines.split(","))
        engines = [e for e in engines if e.name in wanted]
    signature = EmbeddingSignature(model="jina-embeddings-v3", dimensions=args.dims)
    records = make_records(args.n, args.dims)
    result: dict[str, Any] = {"n": args.n, "dims": args.dims}
    if PineconeTestServer in engines:
        result["pinecone_n"] = min(args.n, args.pinecone_n)
    workdir = Path(tempfile.mkdtemp(prefix="jv3-ingest-", dir=_fast_tmp()))
    try:
        for engine_cls in engines:
            engine = engine_cls(signature, workdir)
            subset = records[: args.pinecone_n] if engine_cls is PineconeTestServer else records
            try:
                figures = measure(engine, subset, args.repeats or engine.repeats)
                figures["repeats"] = args.repeats or engine.repeats
            finally:
                engine.close()
            print(f"{engine_cls.name}: {json.dumps(figures)}", flush=True)
            result[engine_cls.name] = figures
            result[f"overhead_{engine_cls.name}"] = figures["overhead_cpu"]
            result[f"overhead_wall_{engine_cls.name}"] = figures["overhead_wall"]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result))


def _fast_tmp() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() else None


if __name__ == "__main__":
    main()
