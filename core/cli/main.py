"""The `jina-v3` command line: `index`, `search`, `info` and `delete` (a corpus in a vector
store), `embed` (JSON in, JSON out), `serve` (the HTTP server) and `mcp` (tools for agents).

Every error is one line on stderr and a non-zero exit (2 for the library's own errors);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jina_v3.errors import (
    InputTooLongError,
    JinaV3Error,
    ModelLoadError,
    SignatureMismatchError,
)

MODEL_ENV = "JINA_V3_MODEL"
_CLI_ADVICE = (
    f"Pass --model PATH of a local checkpoint directory (or set {MODEL_ENV}), or use the "
    "hosted API: set JINA_API_KEY (index/search: --api; embed: --backend api)."
)

# The library's Python fixes (a mismatched collection, a store without hybrid search), as
# the CLI's flags.
_CLI_FIXES = (
    ("pass dimensions=", "pass --dimensions "),
    ("use a new collection name", "use a new --collection NAME"),
    ("pass recreate=True", "pass --recreate"),
    ("build the index with the collection's settings", "use the collection's --model and flags"),
    ("pass hybrid=False", "drop --hybrid"),
    (
        "use QdrantEdgeStore, QdrantStore, PineconeStore or a Milvus Lite MilvusStore",
        "use a qdrant-edge:, qdrant:, pinecone: or milvus-lite: --store",
    ),
)


def _fail(command: str, message: str) -> SystemExit:
    return SystemExit(f"jina-v3 {command}: {message}")


def _read_input(path: str | None) -> str:
    if path is None or path == "-":
        return sys.stdin.read()
    file = Path(path)
    try:
        return file.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise _fail("embed", f"{path} is a directory; pass a JSON file (or - for stdin)") from None
    except FileNotFoundError:
        raise _fail("embed", f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise _fail(
            "embed", f"{path} is not UTF-8 text (byte {exc.start} is invalid); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise _fail("embed", f"cannot read {path}: {exc.strerror or exc}") from None


def _model(args: argparse.Namespace) -> str | None:
    model = args.model or os.environ.get(MODEL_ENV)
    if model is None and getattr(args, "backend", "local") == "local":
        raise _fail(args.command, f"no model: pass --model PATH_OR_HUB_ID or set {MODEL_ENV}")
    return model


def _embed(args: argparse.Namespace) -> int:
    from jina_v3 import Embedder

    raw = _read_input(args.file)
    try:
        texts = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _fail("embed", f"input is not JSON ({exc}); expected a list of strings") from None
    if not isinstance(texts, list):
        raise _fail("embed", "input must be a JSON list of strings")
    local = {
        "dtype": args.dtype,
        "window_tokens": args.window_tokens,
        "window_overlap": args.window_overlap,
    }
    options = {k: v for k, v in local.items() if v is not None}
    embedder = Embedder(_model(args), backend=args.backend, **options)
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


def api_key_from_env(args: argparse.Namespace) -> str | None:
    """The key clients must send (``serve``, ``mcp --http``): the variable ``--api-key-env``
    names, which must be set; None without the flag."""
    if not args.api_key_env:
        return None
    api_key = os.environ.get(args.api_key_env, "").strip()
    if not api_key:
        name = args.api_key_env
        raise _fail(args.command, f"--api-key-env names {name}, which is not set or empty")
    return api_key


def _serve(args: argparse.Namespace) -> int:
    from jina_v3 import Embedder
    from jina_v3.server import ConnectionLimits, TaskRouting, serve
    from jina_v3.server.dialects import DEFAULT_TASK_MODELS

    api_key = api_key_from_env(args)
    limits = ConnectionLimits(args.header_timeout, args.keep_alive_timeout, args.max_connections)
    models = _pairs(args.task_model, "--task-model") if args.task_model else DEFAULT_TASK_MODELS
    routing = TaskRouting(models, _pairs(args.task_prefix or [], "--task-prefix"))  # checked now
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(message)s")
    embedder = Embedder(_model(args), dtype=args.dtype)
    serve(
        embedder,
        host=args.host,
        port=args.port,
        api_key=api_key,
        log_level=args.log_level,
        model_name=args.model_name,
        task_models=routing.models,
        task_prefixes=routing.prefixes,
        max_batch_tokens=args.max_batch_tokens,
        max_queue=args.max_queue,
        max_wait=args.max_wait_ms / 1000.0,
        body_timeout=args.body_timeout,
        limits=limits,
    )
    return 0


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    """``KEY=TASK`` flags as a mapping (split at the last '=': a prefix may contain one)."""
    from jina_v3.errors import ConfigurationError

    pairs = {}
    for value in values:
        key, sep, task = value.rpartition("=")
        if not sep or not key:
            raise ConfigurationError(
                f"{flag} takes KEY=TASK (e.g. {flag} 'query: =retrieval.query'), got {value!r}"
            )
        pairs[key] = task
    return pairs


def build_parser() -> argparse.ArgumentParser:
    from jina_v3.cli.collection import add_collection_commands
    from jina_v3.cli.index import add_commands
    from jina_v3.cli.mcp import add_mcp_command

    base = argparse.ArgumentParser(add_help=False)
    base.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    common = argparse.ArgumentParser(add_help=False, parents=[base])
    common.add_argument(
        "--model", default=None, help=f"checkpoint directory or hub id (default: ${MODEL_ENV})"
    )
    common.add_argument("--dtype", choices=["float32", "bfloat16"], default=None)
    parser = argparse.ArgumentParser(
        prog="jina-v3",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument(
        "--verbose", action="store_true", help="with --version: Python's and the engines' too"
    )
    commands = parser.add_subparsers(dest="command")
    add_commands(commands, base)
    add_collection_commands(commands, base)
    add_mcp_command(commands, base)

    embed = commands.add_parser(
        "embed", parents=[common], help="embed a JSON list of strings (FILE or stdin)"
    )
    embed.add_argument(
        "--backend",
        choices=["local", "api"],
        default="local",
        help="api: the hosted Jina API, with the key in JINA_API_KEY",
    )
    embed.add_argument("--task", default=None, help="retrieval.query, retrieval.passage, ...")
    embed.add_argument("--dimensions", type=int, default=None)
    embed.add_argument("--late-chunking", action="store_true", help="inputs are chunks of one doc")
    embed.add_argument("--window-tokens", type=int, default=None)
    embed.add_argument("--window-overlap", type=int, default=None)
    embed.add_argument("--truncate", action="store_true", help="cut over-long inputs")
    embed.add_argument("file", nargs="?", help="JSON file (default: stdin)")
    embed.set_defaults(run=_embed)

    serve = commands.add_parser(
        "serve", parents=[common], help="serve the Jina embeddings API on a local model"
    )
    serve.add_argument("--host", default="127.0.0.1", help="default: loopback only")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--api-key-env",
        metavar="NAME",
        default=None,
        help="environment variable holding the key clients must send as a Bearer token",
    )
    serve.add_argument("--model-name", default=None, help="name reported as `model`")
    serve.add_argument(
        "--task-model",
        action="append",
        metavar="NAME=TASK",
        help="a model name that selects a task, for clients that send no task (repeatable; "
        "replaces the default jina-embeddings-v3-query, -passage, ...)",
    )
    serve.add_argument(
        "--task-prefix",
        action="append",
        metavar="PREFIX=TASK",
        help="a text prefix that selects a task and is removed before embedding (repeatable)",
    )
    serve.add_argument("--max-batch-tokens", type=int, default=16384)
    serve.add_argument("--max-queue", type=int, default=1024, help="waiting requests before 429")
    serve.add_argument(
        "--max-wait-ms",
        type=float,
        default=20.0,
        help="longest wait for concurrent requests to join a batch",
    )
    serve.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        help="seconds a client has to send its request headers",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        default=60.0,
        help="seconds a client has to send its request body",
    )
    serve.add_argument(
        "--keep-alive-timeout", type=int, default=5, help="seconds an idle connection stays open"
    )
    serve.add_argument(
        "--max-connections", type=int, default=1024, help="connections served at once (then 503)"
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    serve.set_defaults(run=_serve)
    return parser


def describe(exc: BaseException, command: str = "") -> str:
    """One line for an error, with the CLI's own advice (the flags of `command`) where the
    library gives Python's."""
    if isinstance(exc, ModelLoadError) and exc.advice:
        return f"ModelLoadError: {exc.reason} {_CLI_ADVICE}"
    if isinstance(exc, SignatureMismatchError):
        return f"{type(exc).__name__}: {_mismatch_advice(exc, command)}"
    if isinstance(exc, InputTooLongError):
        return f"{type(exc).__name__}: {_too_long(exc, command)}"
    if isinstance(exc, JinaV3Error):
        message = str(exc)
        for python, flag in _CLI_FIXES:
            message = message.replace(python, flag)
        return f"{type(exc).__name__}: {message}"
    detail = " ".join(str(exc).split()) or "no details"
    return f"{type(exc).__name__}: {detail} (run with --debug for the traceback)"


#: Where `copy` and `import` go instead of a collection with other settings (their points
#: keep the settings they were embedded with: no flag of theirs changes them).
_MOVE_FIXES = {
    "copy": "copy into a new collection with --to-collection NAME, or into another store (DST_URI)",
    "import": "import into a new --collection NAME, or into another --store URI",
}


def _mismatch_advice(exc: SignatureMismatchError, command: str) -> str:
    """A collection that does not match, worded for `command`: every setting that differs,
    and the fixes that command has (``search`` adopts the collection's dimensions and
    chunking, so only its model can differ; ``index`` matches with flags or rebuilds)."""
    from jina_v3.index.store import REBUILD_FIX, describe_differences

    name = exc.collection or "NAME"
    reindex = (
        f"re-index it with this model: jina-v3 index PATH --collection {name} --recreate "
        "(same --store; this deletes its data)"
    )
    rebuild = (
        reindex
        if command in ("search", "mcp")  # these never drop data: re-index is the way
        else _MOVE_FIXES.get(command)
        or "pass --recreate to drop and rebuild it (this deletes its data), or use a new "
        "--collection NAME"
    )
    if not exc.differences:  # not comparable (no signature, another layout): rebuild only
        return str(exc).replace(REBUILD_FIX, rebuild)
    user = "this server" if command == "mcp" else f"this {command or 'run'}"
    found = describe_differences(exc.differences, user)
    head = f"Collection {name!r} was built with other embedding settings: {found}."
    if "model" in exc.differences:
        model = exc.differences["model"][0]
        match = [f"use its model {model!r} (drop or change --model, --api or ${MODEL_ENV})"]
    else:
        match = []
    if command != "search":
        for key, (stored, _) in exc.differences.items():
            if key == "dimensions":
                match.append(f"pass --dimensions {stored}")
            elif key == "late_chunking":
                match.append("pass --late-chunking" if stored else "drop --late-chunking")
            elif key == "keywords":  # the keyword channel (hybrid search)
                match.append("pass --hybrid" if stored else "drop --hybrid")
    if set(exc.differences) - {"model", "dimensions", "late_chunking", "keywords"}:
        match = []  # normalisation, tasks, the stored type: no flag sets them
    if command in _MOVE_FIXES:
        match = []  # the points keep the settings they were embedded with
    fix = f"{' and '.join(match)} to match it, or {rebuild}" if match else rebuild
    return f"{head} Fix: {fix}."


def _too_long(exc: InputTooLongError, command: str) -> str:
    """Where an input is over the context from the CLI: a query on `search`, an input of
    `embed` (which has --truncate); `index` chunks every document under --chunk-tokens."""
    if command == "search":
        what, fix = "The query", "shorten it"
    elif command == "index":
        what, fix = "A chunk", "pass a smaller --chunk-tokens"
    else:
        what = f"Input {exc.index}" if exc.index >= 0 else "The late-chunked input"
        fix = "shorten it, or pass --truncate to cut it at the limit"
    if exc.tokens >= 0 and exc.limit >= 0:
        return f"{what} has {exc.tokens} tokens, over the model's limit of {exc.limit}: {fix}."
    return f"{what} is over the model's context: {fix}."


@contextmanager
def _loggers_of_one_run(*names: str) -> Iterator[None]:
    """The loggers `names` ("": the root) as they were, once the run ends: what a run sets
    up lasts that run, so `main()` called again in this process sets up its own (its notes
    under its command's name, on the stderr of the moment) and a caller's logging is left
    as it was."""
    loggers = [logging.getLogger(name or None) for name in names]
    saved = [(list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    try:
        yield
    finally:
        for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args: Any = parser.parse_args(argv)
    if args.version:
        from jina_v3.cli.about import version_text

        sys.stdout.write(version_text(args.verbose))
        return 0
    if args.command is None:
        parser.error("a command is required (jina-v3 --help lists them)")
    try:
        with _loggers_of_one_run("jina_v3", ""):  # its note lines; serve's root handler
            return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"jina-v3 {args.command}: {describe(exc, args.command)}", file=sys.stderr)
        return 2 if isinstance(exc, JinaV3Error) else 1
