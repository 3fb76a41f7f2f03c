"""Local embedder throughput on a full-size (random, seeded) jina-embeddings-v3 checkpoint.

Measured in one run, so the ratios hold on a noisy machine:
  1. this machine's matmul rate (in the model's dtype) on a model-shaped GEMM (the ceiling),
  2. tokens/s at 8 x 512 and on a mixed-length passage corpus (median ~200 tokens, up to 2048),
  3. the adapters' cost: a bare forward of the 8 x 512 batch with the passage adapter on the
     default model (one shared weight, adapters as a side path) versus the same forward with
     `merge_adapters=True` (a merged copy per task, the speed option), interleaved
     (`merge_speedup_8x512`; `merged_copy_gb` is what that option costs per task used),
  4. a 20-token query through `encode_queries` versus one bare forward of the same tokens,
  5. one call mixing 32 queries and 8 passages versus two single-task calls on the same rows
     (`mixed_task_ratio`, below 1 when mixing pays),
  6. peak RSS with both retrieval adapters in use (read before the merged model of 3 exists).
MFU = achieved model FLOP/s / measured matmul FLOP/s. Medians over repetitions.
The last line printed is one JSON object with every figure.

    python benchmarks/embed_throughput.py [--threads 1] [--repeats 3]

On a CPU without native bf16 (AVX2 only) bf16 runs far below fp32; `--dtype float32`, fewer
`--layers` and `--passages` give a reduced run that still measures every ratio.

What was traded: the default model keeps ONE copy of its weights for all tasks (the adapters
ride in each layer's GEMM as extra input columns), where it used to keep a merged copy per task
used. With both retrieval tasks in use that is ~1.2 GB less at full size in bf16 (measured
peak RSS 1.36 GB against 2.94 GB with short inputs, 2026-12-06, AVX2 EPYC), and mixed-task
batches become possible. The price is the side path: ~2 % more GEMM FLOPs plus a copy of each
layer's input, measured here at 3-6 % of a forward (`merge_speedup_8x512` 1.06 in a reduced fp32
run); `merge_adapters=True` buys it back with a merged copy per task (`merged_copy_gb` each).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKENIZER_DIR = ROOT / "tests" / "fixtures" / "tiny-v3"  # any v3-layout tokenizer will do
FULL_CONFIG = {
    "_name_or_path": "random-full-size-v3",
    "architectures": ["XLMRobertaModel"],
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
    "vocab_size": 250002,
    "type_vocab_size": 1,
    "layer_norm_eps": 1e-5,
    "hidden_act": "gelu",
    "position_embedding_type": "rotary",
    "rotary_emb_base": 20000.0,
    "pad_token_id": 1,
    "lora_adaptations": [
        "retrieval.query",
        "retrieval.passage",
        "separation",
        "classification",
        "text-matching",
    ],
    "lora_rank": 4,
    "lora_alpha": 1,
    "task_instructions": {
        "retrieval.query": "Represent the query for retrieving evidence documents: ",
        "retrieval.passage": "Represent the document for retrieval: ",
        "separation": "",
        "classification": "",
        "text-matching": "",
    },
    "matryoshka_dimensions": [32, 64, 128, 256, 512, 768, 1024],
    "torch_dtype": "bfloat16",
}


def build_checkpoint(folder: Path, layers: int = 24, seed: int = 0) -> None:
    """Write a seeded random bf16 checkpoint in the official layout, with the project's model."""
    import torch
    from safetensors.torch import save_file

    from jina_v3.local.checkpoint import official_name
    from jina_v3.local.model import JinaV3Config, JinaV3Model

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = {**FULL_CONFIG, "num_hidden_layers": layers}
    model = JinaV3Model(JinaV3Config.from_dict(config))
    tensors = {}
    for name, param in model.named_parameters():
        if name.endswith(("norm1.weight", "norm2.weight", "emb_ln.weight")):  # LayerNorm gains
            value = torch.ones(param.shape)
        elif name.endswith("bias"):
            value = torch.zeros(param.shape)
        else:
            value = torch.randn(param.shape) * 0.02
        tensors[official_name(name)] = value.to(torch.bfloat16)
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(TOKENIZER_DIR / name, folder / name)


def matmul_gflops(threads: int, repeats: int, dtype_name: str, clock=time.perf_counter) -> float:  # type: ignore[no-untyped-def]
    """GEMM rate on the model's largest shape, (2048 x 1024) @ (1024 x 4096): the better of
    plain `torch.mm` and oneDNN with a prepacked weight (what the model uses in bf16), so that
    MFU is measured against the fastest kernel this machine offers."""
    import torch

    from jina_v3.local.model import _prepack

    torch.set_num_threads(threads)
    dtype = torch.bfloat16 if dtype_name == "bfloat16" else torch.float32
    x = torch.randn(2048, 1024, dtype=dtype)
    w = torch.randn(4096, 1024, dtype=dtype)
    packed = _prepack(w)
    kernels = [lambda: torch.mm(x, w.t())]
    if packed.is_mkldnn:
        kernels.append(lambda: torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], ""))
    best = 0.0
    for kernel in kernels:
        kernel()
        rates = []
        for _ in range(max(5, repeats * 3)):
            start = clock()
            for _ in range(4):
                kernel()
            rates.append(4 * 2 * 2048 * 1024 * 4096 / (clock() - start) / 1e9)
        best = max(best, statistics.median(rates))
    return best


def text_of(tokenizer, n_tokens: int, prefix: str, seed: int) -> str:  # type: ignore[no-untyped-def]
    """A text that tokenises to exactly `n_tokens` tokens with `prefix` and <s> </s>."""
    import random

    words = ["the", "city", "of", "Berlin", "is", "capital", "and", "largest", "by", "area"]
    rng = random.Random(seed)
    target = n_tokens - len(tokenizer.encode(prefix).ids)  # <s> and </s> counted there
    text_words: list[str] = []
    while True:
        text = " ".join(text_words)
        have = len(tokenizer.encode(prefix + text).ids) - len(tokenizer.encode(prefix).ids)
        if have >= target:
            return text
        text_words.append(rng.choice(words))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", choices=["bfloat16", "float32"], default="bfloat16")
    parser.add_argument("--layers", type=int, default=24, help="fewer for a reduced run")
    parser.add_argument("--passages", type=int, default=96, help="of the mixed corpus")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time with this thread's CPU time (with --threads 1 on a busy shared machine: "
        "leaves out the time other processes had the core)",
    )
    parser.add_argument("--checkpoint", type=Path, default=None, help="reuse/keep it here")
    parser.add_argument("--build-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_only:
        build_checkpoint(args.build_only, args.layers)
        return

    tmp = None
    folder = args.checkpoint
    if folder is None:
        tmp = tempfile.mkdtemp(prefix="jv3-bench-")
        folder = Path(tmp) / "ckpt"
    if not (folder / "model.safetensors").exists():
        # a separate process, so building the weights does not count in this one's peak RSS
        build = [
            sys.executable,
            __file__,
            "--build-only",
            str(folder),
            "--layers",
            str(args.layers),
        ]
        subprocess.run(build, check=True)

    import numpy as np
    import torch

    from jina_v3 import Embedder
    from jina_v3.local.model import forward_flops_per_token
    from jina_v3.types import EmbedSpec

    embedder = Embedder(str(folder), dtype=args.dtype, threads=args.threads)
    backend = embedder.backend
    cfg = backend.config  # type: ignore[attr-defined]
    tok = backend.tokenizer  # type: ignore[attr-defined]
    passage = backend.instruction("retrieval.passage")  # type: ignore[attr-defined]

    clock = time.thread_time if args.cpu_time else time.perf_counter
    ceiling = matmul_gflops(args.threads, args.repeats, args.dtype, clock)

    def timed(fn) -> float:  # type: ignore[no-untyped-def]
        start = clock()
        fn()
        return clock() - start

    # warm up both retrieval adapters (nothing is merged: this is only the first call's cost)
    embedder.encode_queries(["warm up"])
    embedder.encode_passages(["warm up"])

    # 1. 8 x 512
    texts = [text_of(tok, 512, passage, seed=i) for i in range(8)]
    assert backend.count_tokens(texts, "retrieval.passage") == [512] * 8  # type: ignore[attr-defined]
    t = statistics.median(
        timed(lambda: embedder.encode_passages(texts)) for _ in range(args.repeats)
    )
    tps_512 = 8 * 512 / t
    mfu_512 = tps_512 * forward_flops_per_token(cfg, 512) / (ceiling * 1e9)

    # 2. mixed passages: lognormal lengths, median ~200 tokens, clipped to [16, 2048]
    rng = np.random.default_rng(0)
    lengths = np.clip(rng.lognormal(np.log(200), 0.8, size=args.passages), 16, 2048).astype(int)
    mixed = [text_of(tok, int(n), passage, seed=100 + i) for i, n in enumerate(lengths)]
    counts = backend.count_tokens(mixed, "retrieval.passage")  # type: ignore[attr-defined]
    flops = sum(n * forward_flops_per_token(cfg, n) for n in counts)
    t = statistics.median(
        timed(lambda: embedder.encode_passages(mixed)) for _ in range(max(1, args.repeats - 1))
    )
    tps_mixed = sum(counts) / t
    mfu_mixed = flops / t / (ceiling * 1e9)

    net = backend.net  # type: ignore[attr-defined]

    # 4. a 20-token query: the full call versus one bare forward of the same tokens
    query_prefix = backend.instruction("retrieval.query")  # type: ignore[attr-defined]
    query = text_of(tok, 20, query_prefix, seed=7)
    ids = torch.tensor(tok.encode(query_prefix + query).ids)

    def bare() -> None:
        with torch.inference_mode():
            net(ids, [len(ids)], 0)

    reps = 30
    call = statistics.median(timed(lambda: embedder.encode_queries([query])) for _ in range(reps))
    forward = statistics.median(timed(bare) for _ in range(reps))

    # 5. queries and passages in one call (the server's batcher does this) versus one per task
    queries = [text_of(tok, 20, query_prefix, seed=200 + i) for i in range(32)]
    passages = mixed[:8]
    query_spec = EmbedSpec("retrieval.query", None, True, "float")
    passage_spec = EmbedSpec("retrieval.passage", None, True, "float")
    embed, embed_many = backend.embed, backend.embed_many  # type: ignore[attr-defined]
    one_call, two_calls = [], []
    for _ in range(max(3, args.repeats)):
        one_call.append(
            timed(lambda: embed_many([(queries, query_spec), (passages, passage_spec)]))
        )
        two_calls.append(timed(lambda: (embed(queries, query_spec), embed(passages, passage_spec))))
    mixed_task_ratio = statistics.median(one_call) / statistics.median(two_calls)

    peak_rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    # 3. the side path against merged weights: the same 8 x 512 forward, interleaved
    merged_net = Embedder(str(folder), dtype=args.dtype, merge_adapters=True).backend.net  # type: ignore[attr-defined]
    batch = torch.tensor([t for text in texts for t in tok.encode(passage + text).ids])

    def bare_512(model) -> None:  # type: ignore[no-untyped-def]
        with torch.inference_mode():
            model(batch, [512] * 8, 1)

    bare_512(merged_net)  # builds its merged copy
    shared_times, merged_times = [], []
    for _ in range(args.repeats):
        shared_times.append(timed(lambda: bare_512(net)))
        merged_times.append(timed(lambda: bare_512(merged_net)))
    merge_speedup = statistics.median(shared_times) / statistics.median(merged_times)
    c, f = cfg.hidden_size, cfg.intermediate_size
    linear_weights = cfg.num_hidden_layers * (4 * c * c + 2 * c * f)
    merged_copy_gb = linear_weights * (2 if args.dtype == "bfloat16" else 4) / 1024**3
    result = {
        "threads": args.threads,
        "clock": "thread CPU time" if args.cpu_time else "wall",
        "dtype": args.dtype,
        "layers": args.layers,
        "matmul_gflops": round(ceiling, 1),
        "tokens_per_s_8x512": round(tps_512, 1),
        "mfu_8x512": round(mfu_512, 3),
        "mixed_corpus_tokens": int(sum(counts)),
        "mixed_median_tokens": int(np.median(counts)),
        "tokens_per_s_mixed": round(tps_mixed, 1),
        "mfu_mixed": round(mfu_mixed, 3),
        "merge_speedup_8x512": round(merge_speedup, 3),
        "merged_copy_gb": round(merged_copy_gb, 3),
        "query_tokens": len(ids),
        "query_latency_ms": round(call * 1e3, 2),
        "bare_forward_ms": round(forward * 1e3, 2),
        "query_latency_ratio": round(call / forward, 3),
        "mixed_task_ms": round(statistics.median(one_call) * 1e3, 1),
        "two_single_task_ms": round(statistics.median(two_calls) * 1e3, 1),
        "mixed_task_ratio": round(mixed_task_ratio, 3),
        "peak_rss_gb": round(peak_rss_gb, 3),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
    }
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
