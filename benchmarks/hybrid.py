"""The keyword channel of hybrid search: what it costs on ingestion and at query time.

1. Ingestion: tokens/s of embedding passages (``encode_passages``) without and with the
   keyword channel's BM25 weights (``KeywordEncoder.documents``, the text tokenized once
   more), on the same texts; and the keyword weights alone. The default model is the tiny test
   checkpoint, whose dense side is far faster than the real model's, so its overhead is an
   upper bound; ``--model`` takes a real checkpoint (the real model embeds about 655 tokens/s
   per CPU thread here, see README "Scale-out on Ray").
2. Queries: p50/p95 latency of ``query`` (dense), ``query_keywords`` (keyword) and
   ``query_hybrid`` (both, fused by the engine) over ``--queries`` random queries, at each of
   ``--sizes`` points on Qdrant Edge (after ``optimize()``) and Milvus Lite (reopened after
   ``close()``, which waits for its background indexing): random unit vectors
   and texts of 8-40 words drawn from a multilingual word list, k = 10.

The last line printed is one JSON object with every figure.

    python benchmarks/hybrid.py [--sizes 10000,100000] [--stores qdrant_edge,milvus_lite]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TINY = ROOT / "tests" / "fixtures" / "tiny-v3"

from jina_v3.index.keywords import KeywordEncoder, encoder_for  # noqa: E402
from jina_v3.store import EmbeddingSignature, Record, point_id  # noqa: E402

WORDS = (
    "capital city river mountain library station market museum bridge harbour printer error "
    "report weather train ticket garden winter summer Hauptstadt Fluss Bibliothek Bahnhof "
    "Drucker Fehler Bericht Wetter Zug 首都 城市 图书馆 车站 打印机 错误 東京 日本 駅 図書館 "
    "العاصمة المدينة المكتبة XJ-4471b AB-1029 QX-77 ciudad museo bibliothèque gare"
).split()
DIMS, K = 256, 10


def texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(8, 40))) for _ in range(n)]


def ingestion(model: str, passages: int, repeats: int) -> dict[str, float]:
    from jina_v3 import Embedder

    embedder = Embedder(model, dtype="float32")
    encoder = encoder_for(embedder)
    corpus = texts(passages, seed=1)
    tokens = sum(embedder.backend.count_tokens(corpus, "retrieval.passage"))
    embedder.encode_passages(corpus[:8])  # warm-up

    def timed(fn: Any) -> float:
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - start)
        return statistics.median(runs)

    dense = timed(lambda: embedder.encode_passages(corpus))
    both = timed(lambda: (embedder.encode_passages(corpus), encoder.documents(corpus)))
    keywords = timed(lambda: encoder.documents(corpus))
    return {
        "passages": passages,
        "tokens": tokens,
        "dense_tokens_per_s": tokens / dense,
        "dense_and_keywords_tokens_per_s": tokens / both,
        "keywords_only_tokens_per_s": tokens / keywords,
        "keyword_overhead": keywords / dense,
    }


def make_store(kind: str, folder: Path) -> Any:
    if kind == "qdrant_edge":
        from jina_v3.connectors.qdrant_edge import QdrantEdgeStore

        return QdrantEdgeStore("bench", path=folder / "edge")
    from jina_v3.connectors.milvus import MilvusStore

    return MilvusStore("bench", uri=str(folder / "milvus.db"))


def latencies(
    kind: str, size: int, encoder: KeywordEncoder, queries: int, folder: Path
) -> dict[str, float]:
    store = make_store(kind, folder)
    store.ensure_collection(EmbeddingSignature("bench", DIMS, keywords=encoder.identity))
    rng = np.random.default_rng(size)
    start = time.perf_counter()
    for offset in range(0, size, 2000):
        n = min(2000, size - offset)
        vectors = rng.normal(size=(n, DIMS)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        batch = texts(n, seed=offset)
        weights = encoder.documents(batch)
        store.upsert(
            [
                Record(
                    point_id(str(offset + i)),
                    vectors[i],
                    batch[i],
                    {},
                    str(offset + i),
                    keywords=weights[i],
                )
                for i in range(n)
            ]
        )
    if kind == "qdrant_edge":
        store.optimize()  # HNSW built, as after an indexing run
    else:  # Milvus Lite indexes fresh writes in the background; close() waits for it
        store.close()
        store = make_store(kind, folder)
        store.ensure_collection(EmbeddingSignature("bench", DIMS, keywords=encoder.identity))
    insert_s = time.perf_counter() - start
    asks = [(rng.normal(size=DIMS).astype(np.float32), encoder.query(t)) for t in texts(queries, 7)]
    out: dict[str, float] = {"insert_s": insert_s}
    modes = {
        "dense": lambda v, q: store.query(v, k=K),
        "keyword": lambda v, q: store.query_keywords(q, k=K),
        "hybrid": lambda v, q: store.query_hybrid(v, q, k=K),
    }
    for mode, ask in modes.items():
        for v, q in asks[:5]:
            ask(v, q)  # warm-up
        times = []
        for v, q in asks:
            begin = time.perf_counter()
            ask(v, q)
            times.append((time.perf_counter() - begin) * 1000)
        times.sort()
        out[f"{mode}_p50_ms"] = times[len(times) // 2]
        out[f"{mode}_p95_ms"] = times[int(len(times) * 0.95) - 1]
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(TINY))
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--stores", default="qdrant_edge,milvus_lite")
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()

    result: dict[str, Any] = {"ingestion": ingestion(args.model, args.passages, args.repeats)}
    print(json.dumps(result["ingestion"]), flush=True)
    import tokenizers

    encoder = KeywordEncoder(tokenizers.Tokenizer.from_file(str(TINY / "tokenizer.json")))
    result["queries"] = {}
    for kind in args.stores.split(","):
        for size in map(int, args.sizes.split(",")):
            with tempfile.TemporaryDirectory(prefix="jv3-hybrid-") as folder:
                figures = latencies(kind, size, encoder, args.queries, Path(folder))
            result["queries"].setdefault(kind, {})[size] = figures
            print(kind, size, json.dumps(figures), flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
