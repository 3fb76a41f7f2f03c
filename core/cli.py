"""The `jina-v3` command line: `embed` (JSON in, JSON out) and `serve` (the HTTP server)."""

from __future__ import annotations

import argparse
import json
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
