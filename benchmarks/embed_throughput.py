"""Local embedder throughput on a full-size (random, seeded) jina-embeddings-v3 checkpoint.

Measured in one run, so the ratios hold on a noisy machine:
  1. this machine's bf16 matmul rate on a model-shaped GEMM (the ceiling),
  2. tokens/s at 8 x 512 and on a mixed-length passage corpus (median ~200 tokens, up to 2048),
  3. a 20-token query through `encode_queries` versus one bare forward of the same tokens,
  4. peak RSS with both retrieval adapters in use.
MFU = achieved model FLOP/s / measured matmul FLOP/s. Medians over repetitions.
The last line printed is one JSON object with every figure.

    python benchmarks/embed_throughput.py [--threads 1] [--repeats 3]
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


def build_checkpoint(folder: Path, seed: int = 0) -> None:
    """Write a seeded random bf16 checkpoint in the official layout, with the project's model."""
    import torch
    from safetensors.torch import save_file

    from jina_v3.local.checkpoint import official_name
    from jina_v3.local.model import JinaV3Config, JinaV3Model

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = JinaV3Model(JinaV3Config.from_dict(FULL_CONFIG))
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
    (folder / "config.json").write_text(json.dumps(FULL_CONFIG, indent=1))
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(TOKENIZER_DIR / name, folder / name)


def matmul_gflops(threads: int, repeats: int) -> float:
    """bf16 GEMM rate on the model's largest shape, (2048 x 1024) @ (1024 x 4096): the better of
    plain `torch.mm` and oneDNN with a prepacked weight (what the model uses), so that MFU is
    measured against the fastest kernel this machine offers."""
    import torch

    from jina_v3.local.model import _prepack

    torch.set_num_threads(threads)
    x = torch.randn(2048, 1024, dtype=torch.bfloat16)
    w = torch.randn(4096, 1024, dtype=torch.bfloat16)
    packed = _prepack(w)
    kernels = [lambda: torch.mm(x, w.t())]
    if packed.is_mkldnn:
        kernels.append(lambda: torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], ""))
    best = 0.0
    for kernel in kernels:
        kernel()
        rates = []
        for _ in range(max(5, repeats * 3)):
            start = time.perf_counter()
            for _ in range(4):
                kernel()
            rates.append(4 * 2 * 2048 * 1024 * 4096 / (time.perf_counter() - start) / 1e9)
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
    parser.add_argument("--checkpoint", type=Path, default=None, help="reuse/keep it here")
    parser.add_argument("--build-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_only:
        build_checkpoint(args.build_only)
        return

    tmp = None
    folder = args.checkpoint
    if folder is None:
        tmp = tempfile.mkdtemp(prefix="jv3-bench-")
        folder = Path(tmp) / "ckpt"
    if not (folder / "model.safetensors").exists():
        # a separate process, so building the weights does not count in this one's peak RSS
        subprocess.run([sys.executable, __file__, "--build-only", str(folder)], check=True)

    import numpy as np
    import torch

    from jina_v3 import Embedder
    from jina_v3.local.model import forward_flops_per_token

    ceiling = matmul_gflops(args.threads, args.repeats)
    embedder = Embedder(str(folder), dtype="bfloat16", threads=args.threads)
    backend = embedder.backend
    cfg = backend.config  # type: ignore[attr-defined]
    tok = backend.tokenizer  # type: ignore[attr-defined]
    passage = backend.instruction("retrieval.passage")  # type: ignore[attr-defined]

    def timed(fn) -> float:  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    # warm up both retrieval adapters (merged once, then reused)
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
    lengths = np.clip(rng.lognormal(np.log(200), 0.8, size=96), 16, 2048).astype(int)
    mixed = [text_of(tok, int(n), passage, seed=100 + i) for i, n in enumerate(lengths)]
    counts = backend.count_tokens(mixed, "retrieval.passage")  # type: ignore[attr-defined]
    flops = sum(n * forward_flops_per_token(cfg, n) for n in counts)
    t = statistics.median(
        timed(lambda: embedder.encode_passages(mixed)) for _ in range(max(1, args.repeats - 1))
    )
    tps_mixed = sum(counts) / t
    mfu_mixed = flops / t / (ceiling * 1e9)

    # 3. a 20-token query: the full call versus one bare forward of the same tokens
    query_prefix = backend.instruction("retrieval.query")  # type: ignore[attr-defined]
    query = text_of(tok, 20, query_prefix, seed=7)
    ids = torch.tensor(tok.encode(query_prefix + query).ids)
    net, task_id = backend.net, 0  # type: ignore[attr-defined]

    def bare() -> None:
        with torch.inference_mode():
            net(ids, [len(ids)], task_id)

    reps = 30
    call = statistics.median(timed(lambda: embedder.encode_queries([query])) for _ in range(reps))
    forward = statistics.median(timed(bare) for _ in range(reps))

    peak_rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    result = {
        "threads": args.threads,
        "matmul_gflops": round(ceiling, 1),
        "tokens_per_s_8x512": round(tps_512, 1),
        "mfu_8x512": round(mfu_512, 3),
        "mixed_corpus_tokens": int(sum(counts)),
        "mixed_median_tokens": int(np.median(counts)),
        "tokens_per_s_mixed": round(tps_mixed, 1),
        "mfu_mixed": round(mfu_mixed, 3),
        "query_tokens": len(ids),
        "query_latency_ms": round(call * 1e3, 2),
        "bare_forward_ms": round(forward * 1e3, 2),
        "query_latency_ratio": round(call / forward, 3),
        "peak_rss_gb": round(peak_rss_gb, 3),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
    }
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
