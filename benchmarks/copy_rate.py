"""What moving a collection costs (`jina-v3 copy`), against re-embedding it.

The points are those of ``benchmarks/default_store.py``: 1024-d float32 unit vectors with a
small realistic payload, written into a Qdrant Edge store. Per size (``--sizes``):

- ``copy_per_s``: points / wall time of ``copy_collection`` (read pages, upsert, and the
  check at the end) from that store into a new one of each destination kind;
- ``write_per_s``: the same without the check (its sampled queries are a fixed cost, large
  on Milvus Lite while it indexes fresh writes);
- ``scroll_per_s``: points / wall time of reading the source alone, with vectors.

Beside them, ``embed_per_s``: the rate at which the local model embeds the same texts as
passages (the full-size random checkpoint of ``benchmarks/embed_throughput.py``, 1024
dimensions, ``--dtype`` float32 by default: bf16 compute was 7x slower on this CPU; all
cores, ``--threads``), measured on a sample of
``--embed-sample`` texts: what re-indexing the corpus would cost instead.
``copy_over_embed`` is the ratio. The texts are short (about 30 tokens);
``embed_per_s_256_tokens`` scales the measured tokens/s to 256-token chunks.

The last line printed is one JSON object.

    python benchmarks/copy_rate.py [--sizes 10000,100000] [--to qdrant_edge,milvus_lite]

(Not ``copy.py``: a script folder is first on ``sys.path``, so a ``copy.py`` there would
shadow the standard library's ``copy`` for every script beside it.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from default_store import make_records, open_store, signature  # a sibling script

from jina_v3.index.transfer import copy_collection, pages

HERE = Path(__file__).resolve().parent


def measure_copy(n: int, kinds: list[str], workdir: Path) -> dict[str, Any]:
    records = make_records(n, 1024)
    source = open_store("qdrant_edge", workdir / f"source-{n}")
    source.ensure_collection(signature(1024))
    for start in range(0, n, 5000):
        source.upsert(records[start : start + 5000])
    texts = [r.text for r in records[:1000]]
    del records
    out: dict[str, Any] = {"texts": texts}
    start = time.perf_counter()
    read = sum(len(page) for page in pages(source, page=256))
    out["scroll_per_s"] = round(read / (time.perf_counter() - start))
    for kind in kinds:
        destination = open_store(kind, workdir / f"{kind}-{n}")
        start = time.perf_counter()
        summary = copy_collection(source, destination, page=256)
        seconds = time.perf_counter() - start
        assert summary.points == n and destination.count() == n
        out[f"copy_{kind}_per_s"] = round(n / seconds)
        out[f"copy_{kind}_s"] = round(seconds, 1)
        out[f"write_{kind}_per_s"] = round(summary.rate)  # the pages alone, without the check
        destination.close()
    source.close()
    return out


def measure_embedding(
    texts: list[str], sample: int, folder: Path, threads: int, dtype: str
) -> dict[str, float]:
    from jina_v3 import Embedder

    builder = str(HERE / "embed_throughput.py")

    if not (folder / "model.safetensors").exists():
        subprocess.run([sys.executable, builder, "--build-only", str(folder)], check=True)
    embedder = Embedder(str(folder), dtype=dtype, threads=threads)
    batch = texts[:sample]
    embedder.encode_passages(batch[:8])  # warm-up
    start = time.perf_counter()
    embedder.encode_passages(batch)
    seconds = time.perf_counter() - start
    tokens = sum(embedder.backend.count_tokens(batch, "retrieval.passage"))
    return {
        "embed_per_s": round(len(batch) / seconds, 1),
        "embed_tokens_per_s": round(tokens / seconds),
        "embed_per_s_256_tokens": round(tokens / seconds / 256, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--to", default="qdrant_edge,milvus_lite", help="destination kinds")
    parser.add_argument("--embed-sample", type=int, default=64)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--checkpoint", type=Path, default=None, help="reuse/keep it here")
    args = parser.parse_args()
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    work = Path(tempfile.mkdtemp(prefix="jv3-copy-", dir=shm))
    results: dict[str, Any] = {}
    try:
        texts: list[str] = []
        for n in map(int, args.sizes.split(",")):
            figures = measure_copy(n, args.to.split(","), work)
            texts = figures.pop("texts")
            results[str(n)] = figures
            print(n, figures, flush=True)
        folder = args.checkpoint or work / "ckpt"
        embedding = measure_embedding(texts, args.embed_sample, folder, args.threads, args.dtype)
        print(embedding, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratios = {
        size: {
            key.replace("_per_s", "_over_embed"): round(value / embedding["embed_per_s"])
            for key, value in figures.items()
            if key.startswith("copy_") and key.endswith("_per_s")
        }
        for size, figures in results.items()
    }
    print(json.dumps({"copy": results, "embedding": embedding, "ratios": ratios}))


if __name__ == "__main__":
    main()
