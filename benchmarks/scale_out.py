"""Scale-out on Ray Data: 1 and 2 CPU actors against the single-process pipeline, in one run.

Measured on this machine, in one run so that the ratios hold on a noisy one:
  1. Ray's fixed costs: start-up of a local instance, one job's overhead (actor pool, model
     load, read, chunk; a 1-document run on the tiny checkpoint), and the cost of one more
     batch (the tiny checkpoint, batches of one document: scheduling, transfer, the store's
     fetch / delete / upsert through the owner actor), against the same work in one process;
  2. throughput on the full-size random checkpoint (bf16, 1 thread per actor): the single
     process (`VectorIndex.ingest`), then `index_dataset` with 1 and with 2 CPU actors. Rates
     are steady-state (tokens between the first and the last batch summary, so model loading
     is left out) and end-to-end (the whole call);
  3. the model's FLOPs per token and this CPU's bf16 GEMM rate, so each actor's MFU and the
     GPU cluster size for 10 M passages per hour can be estimated (printed, and in the JSON).

The last line printed is one JSON object (`two_over_one_actor`, `ray_over_single_process`,
`startup_s`, ...).

    python benchmarks/scale_out.py [--passages 96] [--tokens 128] [--tiny] [--checkpoint DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny-v3"
sys.path.insert(0, str(Path(__file__).resolve().parent))

# 10 M passages an hour, at the default chunk size of 256 tokens (an upper bound per chunk)
TARGET_PASSAGES_PER_HOUR = 10_000_000
PASSAGE_TOKENS = 256
H100_BF16_PEAK = 989e12  # dense FLOP/s (SXM)
L4_BF16_PEAK = 121e12
GPU_MFU = (0.35, 0.5)  # what published stacks reach on this 24 x 1024 body


def passages(n: int, tokens: int, seed: int = 0) -> list[Any]:
    """`n` distinct documents of about `tokens` tokens each (one point each: no chunking)."""
    import random

    from jina_v3 import Document

    words = "the city of Berlin is capital and largest by area river museum old new".split()
    rng = random.Random(seed)
    # about 1.6 tokens per word with this vocabulary and the v3 tokenizer
    size = max(1, int(tokens / 1.6))
    return [
        Document(f"p{i}", " ".join(rng.choice(words) for _ in range(size)), {"n": i})
        for i in range(n)
    ]


class Clock:
    """A Progress that records when each batch's summary arrives."""

    def __new__(cls) -> Any:
        from jina_v3.progress import Progress

        class _Clock(Progress):
            def __init__(self) -> None:
                super().__init__(mode="off")
                self.marks: list[tuple[float, int]] = []

            def update(self, items: int = 0, *, points: int = 0, tokens: int = 0) -> None:
                super().update(items, points=points, tokens=tokens)
                self.marks.append((time.perf_counter(), tokens))

            def steady(self) -> float:
                """Tokens per second between the first and the last batch."""
                if len(self.marks) < 2:
                    return float("nan")
                span = self.marks[-1][0] - self.marks[0][0]
                return sum(t for _, t in self.marks[1:]) / span

        return _Clock()


def single(model: str, docs: list[Any], folder: Path, batch: int, threads: int) -> dict[str, Any]:
    from jina_v3 import Embedder, VectorIndex
    from jina_v3.connectors.uris import open_store

    started = time.perf_counter()
    embedder = Embedder(
        model, dtype="bfloat16" if model != str(TINY) else "float32", threads=threads
    )
    loaded = time.perf_counter()
    store = open_store(f"qdrant-edge:{folder}", "single")
    clock = Clock()
    try:
        index = VectorIndex(embedder, store, chunker=None, batch_size=batch)  # as chunk_tokens=None
        summary = index.ingest(docs, progress=clock)
    finally:
        store.close()
        embedder.close()
    wall = time.perf_counter() - started
    return {
        "tokens": summary.tokens,
        "wall_s": wall,
        "load_s": loaded - started,
        "tokens_per_s": summary.tokens / (time.perf_counter() - loaded),
        "steady_tokens_per_s": clock.steady(),
    }


def distributed(
    model: str, docs: list[Any], folder: Path, batch: int, actors: int
) -> dict[str, Any]:
    from jina_v3.distributed import index_dataset

    dtype = "bfloat16" if model != str(TINY) else "float32"
    clock = Clock()
    started = time.perf_counter()
    summary = index_dataset(
        docs,
        f"qdrant-edge:{folder}",
        collection=f"ray{actors}",
        model=model,
        embedder_options={"dtype": dtype},
        chunk_tokens=None,
        batch_size=batch,
        actors=actors,
        threads=1,
        progress=clock,
    )
    wall = time.perf_counter() - started
    return {
        "tokens": summary.tokens,
        "points": summary.points,
        "blocks": summary.extra["blocks"],
        "wall_s": wall,
        "tokens_per_s": summary.tokens / wall,
        "steady_tokens_per_s": clock.steady(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=96)
    parser.add_argument("--tokens", type=int, default=128, help="tokens per passage")
    parser.add_argument("--batch", type=int, default=8, help="documents per batch (block)")
    parser.add_argument("--tiny", action="store_true", help="the tiny checkpoint throughout")
    parser.add_argument("--checkpoint", type=Path, default=None, help="reuse/keep it here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="jv3-scale-"))
    if args.tiny:
        model = str(TINY)
    else:
        folder = args.checkpoint or work / "ckpt"
        if not (folder / "model.safetensors").exists():
            script = Path(__file__).with_name("embed_throughput.py")
            subprocess.run([sys.executable, str(script), "--build-only", str(folder)], check=True)
        model = str(folder)

    from jina_v3.distributed import init_ray

    started = time.perf_counter()
    init_ray(num_cpus=2, log_to_driver=False)
    startup = time.perf_counter() - started
    import ray

    try:
        # 1. fixed costs, on the tiny checkpoint (its embedding costs next to nothing)
        few = passages(1, 16)
        distributed(str(TINY), few, work / "warm", 1, 1)  # first job: cold worker processes
        job = min(distributed(str(TINY), few, work / f"job{i}", 1, 1)["wall_s"] for i in (1, 2))
        many = passages(96, 16, seed=1)
        ray_small = distributed(str(TINY), many, work / "small", 1, 1)
        one_small = single(str(TINY), many, work / "small1", 1, 1)
        per_batch_ray = (ray_small["wall_s"] - job) / (len(many) - 1)
        per_batch_single = (one_small["wall_s"] - one_small["load_s"]) / len(many)

        # 2. throughput
        docs = passages(args.passages, args.tokens, seed=2)
        one_process = single(model, docs, work / "one", args.batch, 1)
        one_actor = distributed(model, docs, work / "a1", args.batch, 1)
        two_actors = distributed(model, docs, work / "a2", args.batch, 2)
    finally:
        ray.shutdown()

    # 3. FLOPs, MFU, and the GPU estimate
    from jina_v3.local.checkpoint import read_config
    from jina_v3.local.model import JinaV3Config, forward_flops_per_token

    cfg = JinaV3Config.from_dict(read_config(Path(model)))
    tokens_per_passage = one_process["tokens"] / len(docs)
    flops_here = forward_flops_per_token(cfg, max(1, round(tokens_per_passage)))
    from embed_throughput import matmul_gflops

    ceiling = matmul_gflops(1, 2) * 1e9
    per_actor = one_actor["steady_tokens_per_s"]
    mfu = per_actor * flops_here / ceiling
    full = JinaV3Config.from_dict(__import__("embed_throughput").FULL_CONFIG)
    flops_256 = forward_flops_per_token(full, PASSAGE_TOKENS)
    needed_tokens = TARGET_PASSAGES_PER_HOUR * PASSAGE_TOKENS / 3600
    needed_flops = needed_tokens * flops_256
    h100 = [needed_flops / (H100_BF16_PEAK * m) for m in GPU_MFU]
    l4 = [needed_flops / (L4_BF16_PEAK * m) for m in GPU_MFU]
    cpu_actors = None if args.tiny else round(needed_tokens / per_actor)

    result = {
        "model": "tiny-v3" if args.tiny else "full-size random v3 (bf16)",
        "passages": len(docs),
        "tokens_per_passage": round(tokens_per_passage, 1),
        "startup_s": round(startup, 2),
        "job_overhead_s": round(job, 2),
        "per_batch_overhead_s": round(per_batch_ray - per_batch_single, 4),
        "per_batch_ray_s": round(per_batch_ray, 4),
        "per_batch_single_process_s": round(per_batch_single, 4),
        "single_process_tokens_per_s": round(one_process["steady_tokens_per_s"], 1),
        "one_actor_tokens_per_s": round(one_actor["steady_tokens_per_s"], 1),
        "two_actors_tokens_per_s": round(two_actors["steady_tokens_per_s"], 1),
        "two_over_one_actor": round(
            two_actors["steady_tokens_per_s"] / one_actor["steady_tokens_per_s"], 3
        ),
        "ray_over_single_process": round(
            one_actor["steady_tokens_per_s"] / one_process["steady_tokens_per_s"], 3
        ),
        "two_over_one_actor_end_to_end": round(
            two_actors["tokens_per_s"] / one_actor["tokens_per_s"], 3
        ),
        "ray_over_single_process_end_to_end": round(
            one_actor["tokens_per_s"] / one_process["tokens_per_s"], 3
        ),
        "wall_s": {
            "single_process": round(one_process["wall_s"], 1),
            "one_actor": round(one_actor["wall_s"], 1),
            "two_actors": round(two_actors["wall_s"], 1),
        },
        "cpu_gemm_gflops_per_core": round(ceiling / 1e9, 1),
        "actor_mfu": round(mfu, 3),
        "gflop_per_token_at_256": round(flops_256 / 1e9, 3),
        "target_tokens_per_s": round(needed_tokens),
        "target_tflops": round(needed_flops / 1e12, 1),
        "h100_for_10m_per_hour": [round(x, 2) for x in h100],
        "l4_for_10m_per_hour": [round(x, 1) for x in l4],
        "cpu_actors_for_10m_per_hour": cpu_actors,
    }
    print(
        f"10 M passages/hour at {PASSAGE_TOKENS} tokens = {needed_tokens:,.0f} tokens/s = "
        f"{needed_flops / 1e12:.0f} TFLOP/s; at {GPU_MFU[0]:.0%}-{GPU_MFU[1]:.0%} MFU that is "
        f"{h100[1]:.1f}-{h100[0]:.1f} H100 or {l4[1]:.0f}-{l4[0]:.0f} L4 GPU actors "
        f"(one CPU actor here: {per_actor:,.0f} tokens/s, MFU {mfu:.2f})"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
