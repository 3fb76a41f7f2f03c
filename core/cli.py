"""The `jina-v3` command line: `embed` (JSON in, JSON out) and `serve` (the HTTP server)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from jina_v3.errors import JinaV3Error


def _embed(args: argparse.Namespace) -> int:
    from jina_v3 import Embedder

    raw = open(args.file, encoding="utf-8").read() if args.file else sys.stdin.read()
    try:
        texts = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SystemExit(
            f"jina-v3 embed: input is not JSON ({exc}); expected a list of strings"
        ) from None
    if not isinstance(texts, list):
        raise SystemExit("jina-v3 embed: input must be a JSON list of strings")
    embedder = Embedder(
        args.model,
        dtype=args.dtype,
        window_tokens=args.window_tokens,
        window_overlap=args.window_overlap,
    )
    vectors = embedder.encode(
        texts,
        task=args.task,
        dimensions=args.dimensions,
        late_chunking=args.late_chunking,
        truncate=args.truncate,
    )
    # float32 values printed through float64 repr: full precision, round-trips exactly
    json.dump([[float(x) for x in row] for row in vectors], sys.stdout)
    sys.stdout.write("\n")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import logging

    from jina_v3 import Embedder
    from jina_v3.server import serve

    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env, "").strip()
        if not api_key:
            raise SystemExit(
                f"jina-v3 serve: --api-key-env names {args.api_key_env}, which is not set or empty"
            )
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(message)s")
    embedder = Embedder(args.model, dtype=args.dtype)
    serve(
        embedder,
        host=args.host,
        port=args.port,
        api_key=api_key,
        log_level=args.log_level,
        model_name=args.model_name,
        max_batch_tokens=args.max_batch_tokens,
        max_queue=args.max_queue,
        max_wait=args.max_wait_ms / 1000.0,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jina-v3", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    embed = commands.add_parser("embed", help="embed a JSON list of strings (FILE or stdin)")
    embed.add_argument("--model", required=True, help="checkpoint directory or hub id")
    embed.add_argument("--task", default=None, help="retrieval.query, retrieval.passage, ...")
    embed.add_argument("--dimensions", type=int, default=None)
    embed.add_argument("--late-chunking", action="store_true", help="inputs are chunks of one doc")
    embed.add_argument("--window-tokens", type=int, default=None)
    embed.add_argument("--window-overlap", type=int, default=None)
    embed.add_argument("--truncate", action="store_true", help="cut over-long inputs")
    embed.add_argument("--dtype", choices=["float32", "bfloat16"], default=None)
    embed.add_argument("file", nargs="?", help="JSON file (default: stdin)")
    embed.set_defaults(run=_embed)

    serve = commands.add_parser("serve", help="serve the Jina embeddings API on a local model")
    serve.add_argument("--model", required=True, help="checkpoint directory or hub id")
    serve.add_argument("--host", default="127.0.0.1", help="default: loopback only")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--api-key-env",
        metavar="NAME",
        default=None,
        help="environment variable holding the key clients must send as a Bearer token",
    )
    serve.add_argument("--dtype", choices=["float32", "bfloat16"], default=None)
    serve.add_argument("--model-name", default=None, help="name reported as `model`")
    serve.add_argument("--max-batch-tokens", type=int, default=16384)
    serve.add_argument("--max-queue", type=int, default=1024, help="waiting requests before 429")
    serve.add_argument(
        "--max-wait-ms",
        type=float,
        default=20.0,
        help="longest wait for concurrent requests to join a batch",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    serve.set_defaults(run=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except JinaV3Error as exc:
        print(f"jina-v3 {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
