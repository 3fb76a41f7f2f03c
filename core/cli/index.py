"""`jina-v3 index / search / info / delete`: a corpus into a vector store and back out.

The store is a URI (:mod:`jina_v3.connectors.uris`); the model is ``--model``, else
``$JINA_V3_MODEL``, else the hosted API when ``JINA_API_KEY`` is set (or ``--api``), else the
hub id. ``index`` is incremental (unchanged documents are skipped, changed ones replaced) and
stops cleanly on SIGINT / SIGTERM after the batch in flight; ``search`` reads the collection's
embedding signature, so it needs no flag the index run fixed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from jina_v3.cli.config import adopt_signature, settle
from jina_v3.cli.format import hits_json, hits_table, info_table, settings_table
from jina_v3.errors import ConfigurationError, StoreError

MODEL_ENV = "JINA_V3_MODEL"
HUB_MODEL = "jinaai/jina-embeddings-v3"
INTERRUPTED = 130


# -- model and store ---------------------------------------------------------------------------


def resolve_model(args: argparse.Namespace) -> tuple[str, str | None]:
    """("api", None) or ("local", model): --model, $JINA_V3_MODEL, the API, the hub id."""
    if getattr(args, "api", False):
        return "api", None
    model = args.model or os.environ.get(MODEL_ENV, "").strip() or None
    if model is not None:
        return "local", model
    if os.environ.get("JINA_API_KEY", "").strip():
        return "api", None
    return "local", HUB_MODEL


def notes(args: argparse.Namespace) -> None:
    """The library's warnings (the weights' licence, once) as `jina-v3 CMD: note:` lines."""
    logger = logging.getLogger("jina_v3")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"jina-v3 {args.command}: note: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(logging.ERROR if getattr(args, "quiet", False) else logging.WARNING)


def make_embedder(args: argparse.Namespace) -> Any:
    from jina_v3 import Embedder

    notes(args)
    backend, model = resolve_model(args)
    if backend == "api":
        return Embedder(backend="api")
    return Embedder(model, dtype=args.dtype)


def open_store(args: argparse.Namespace, collection: str | None = None) -> Any:
    from jina_v3.connectors.uris import open_store as open_uri

    return open_uri(args.store, collection or args.collection)


def _defaults() -> tuple[str, str]:
    from jina_v3.connectors.uris import DEFAULT_COLLECTION, DEFAULT_STORE_URI

    return DEFAULT_STORE_URI, DEFAULT_COLLECTION


# -- index -------------------------------------------------------------------------------------


class _StopFlag:
    """The first SIGINT / SIGTERM sets the flag: the index stops after the batch in flight.
    The second aborts at once (KeyboardInterrupt: the write in flight completes and the store
    closes on the way out, so the index stays consistent); a third exits on the spot."""

    def __init__(self, command: str = "index") -> None:
        self.command = command
        self.stopped = False
        self.aborted = False
        self._previous: dict[int, Any] = {}

    def __call__(self) -> bool:
        return self.stopped

    def _handle(self, signum: int, frame: Any) -> None:
        if self.aborted:
            os._exit(INTERRUPTED)
        if self.stopped:
            self.aborted = True
            print(
                f"jina-v3 {self.command}: stopped at once; re-run to continue",
                file=sys.stderr,
                flush=True,
            )
            raise KeyboardInterrupt  # main() exits 130; the finally blocks close the store
        self.stopped = True
        print(
            f"jina-v3 {self.command}: stopping after the batch in flight (Ctrl-C again to "
            "stop at once)",
            file=sys.stderr,
            flush=True,
        )

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is not threading.main_thread():
            return self  # main() called from a thread: signals reach only the main thread
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _documents(
    items: Iterator[Any], failed: list[str], warn: Callable[[str], None], stop: _StopFlag
) -> Iterator[Any]:
    """The documents, skipped files counted and warned about; ends early once stopped (the
    documents read so far form the last batch)."""
    from jina_v3.index.sources import SkippedFile

    for item in items:
        if stop():
            return
        if isinstance(item, SkippedFile):
            failed.append(item.source)
            warn(f"jina-v3 index: warning: {item}")
        else:
            yield item


def _total(files: list[Any]) -> int | None:
    """Documents expected: one per text file, one per non-blank .jsonl line (for the ETA)."""
    from jina_v3.index.sources import SourceFile

    total = 0
    for file in files:
        if not isinstance(file, SourceFile):
            continue
        if not file.path.lower().endswith(".jsonl"):
            total += 1
            continue
        try:
            if stat.S_ISREG(os.stat(file.path).st_mode):  # never open a FIFO: it would block
                with open(file.path, "rb") as handle:
                    total += sum(1 for line in handle if line.strip())
        except OSError:
            pass  # reported when it is read
    return total or None


def run_index(args: argparse.Namespace) -> int:
    from jina_v3.cli.by_source import prune
    from jina_v3.index.sources import identity, list_files

    files = list_files(args.paths, glob=args.glob)  # before the model: a typo fails at once
    # the folders named: --prune deletes what is gone under them (a file root: its lines)
    roots = list(dict.fromkeys(identity(p) for p in args.paths if os.path.isdir(p)))
    store = open_store(args)
    try:
        # a store that cannot be opened fails before the model loads
        before = store.read_signature()
        if not args.recreate:  # --recreate: the flags', the file's and the default settings
            adopt_signature(args, before)
    except BaseException:
        store.close()
        raise
    # The handlers go in first: a signal while the model loads stops before any batch.
    with _StopFlag() as stop:
        try:
            if args.ray is not None:
                store.close()  # the Ray job opens its own (an embedded store has one owner)
                from jina_v3.cli.on_ray import ingest_on_ray

                summary = ingest_on_ray(args, stop)
                store = open_store(args)
            else:
                summary = _ingest(args, store, files, stop)
            interrupted = summary.interrupted or stop()
            line = str(summary)
            if args.recreate and before is not None:
                _say_recreated(args.collection, before, store.read_signature())
            if args.prune and not interrupted:
                jsonl_ids = summary.extra.get("jsonl_ids", {})
                pruned = prune(store, list_files(args.paths), roots, jsonl_ids)
                line += f"; pruned {pruned} chunks of files that are gone"
        finally:
            store.close()
    if interrupted and not summary.interrupted:
        line += " (interrupted: re-run to continue)"
    print(line, flush=True)
    return INTERRUPTED if interrupted else 0


def _say_recreated(collection: str, before: Any, after: Any) -> None:
    """What --recreate changed: each setting of the dropped collection that the new one
    has otherwise (``after`` None: the run wrote nothing, so nothing was dropped)."""
    if after is None:
        return
    changes = [f"{key} {old!r} -> {new!r}" for key, (old, new) in after.differences(before).items()]
    said = ", ".join(changes) if changes else "the same settings"
    print(f"recreated collection {collection!r}: {said}", flush=True)


def _ingest(args: argparse.Namespace, store: Any, files: list[Any], stop: _StopFlag) -> Any:
    from jina_v3 import VectorIndex
    from jina_v3.index.chunking import TextChunker
    from jina_v3.index.sources import read_files
    from jina_v3.progress import Progress

    embedder = make_embedder(args)
    chunker = TextChunker.for_embedder(  # VectorIndex's default, with the overlap asked
        embedder, args.chunk_tokens, overlap=args.chunk_overlap or 0
    )
    batch = {} if args.batch_size is None else {"batch_size": args.batch_size}
    index = VectorIndex(
        embedder,
        store,
        dimensions=args.dimensions,
        late_chunking=args.late_chunking,
        chunker=chunker,
        recreate=args.recreate,
        embedding_type=getattr(args, "embedding_type", "float"),
        hybrid=args.hybrid,
        **batch,
    )
    failed: list[str] = []
    jsonl_ids: dict[str, Any] = {}
    warn = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr))
    summary = index.ingest(
        _documents(read_files(files, jsonl_ids=jsonl_ids), failed, warn, stop),
        progress=Progress(_total(files), mode="off" if args.quiet else "auto"),
        stop=stop,
    )
    summary.failed = len(failed)
    summary.extra["jsonl_ids"] = jsonl_ids
    return summary


# -- search, info, delete ----------------------------------------------------------------------


def _filter(raw: str | None) -> Any:
    """The --filter JSON, parsed and checked against the dialect before any work."""
    from jina_v3.index.filters import MAX_DEPTH, parse_filter

    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"--filter is not JSON ({exc.msg} at character {exc.pos}); "
            'example: --filter \'{"lang": {"$in": ["en", "de"]}}\''
        ) from None
    except RecursionError:
        raise ConfigurationError(
            f"--filter nests too deep; filters nest at most {MAX_DEPTH} levels"
        ) from None
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"--filter must be a JSON object, got a {type(value).__name__}; "
            'example: --filter \'{"lang": "en"}\''
        )
    parse_filter(value)  # an UnsupportedFilterError names the operator or the depth
    return value


def _no_collection(args: argparse.Namespace, store: Any) -> StoreError:
    """The error for a collection without a signature: none there, or another tool's."""
    points = store.count()
    if points:  # written by another tool: indexing into it would be refused as well
        return StoreError(
            f"Collection {args.collection!r} in {args.store} holds {points} points written "
            "without a jina-v3 embedding signature (by another tool), so jina-v3 cannot read "
            f"it; index your files into a new collection: jina-v3 index PATH --store "
            f"{args.store} --collection NEW_NAME"
        )
    return StoreError(
        f"Collection {args.collection!r} does not exist in {args.store} (`jina-v3 info` lists "
        f"the collections); index files into it first: jina-v3 index PATH --store {args.store} "
        f"--collection {args.collection}"
    )


def run_search(args: argparse.Namespace) -> int:
    from jina_v3 import VectorIndex

    where = _filter(args.filter)  # -k was checked with the settings, named as set
    store = open_store(args)
    try:
        signature = store.read_signature()
        if signature is None:  # before the model loads
            raise _no_collection(args, store)
        if args.mode in ("keyword", "hybrid") and signature.keywords is None:
            raise ConfigurationError(
                f"--mode {args.mode} needs the keyword channel, and collection "
                f"{args.collection!r} was indexed without it. Fix: search with --mode dense, "
                "or re-index into a new collection with the channel: jina-v3 index PATH "
                "--hybrid --collection NEW_NAME"
            )
        index = VectorIndex.open(make_embedder(args), store)
        # a collection indexed with --hybrid is searched hybrid unless --mode says otherwise
        mode = args.mode or ("hybrid" if index.signature.keywords else "dense")
        hits = index.search(args.query, k=args.k, filter=where, mode=mode)
    finally:
        store.close()
    hits = sorted(hits, key=lambda h: (-h.score, h.id))
    if args.json:
        json.dump(hits_json(hits), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        tty = sys.stdout.isatty()
        sys.stdout.write(hits_table(hits, args.query, tty=tty, width=_width(tty)))
    return 0


def _width(tty: bool) -> int:
    if not tty:
        return 120
    import shutil

    return max(60, shutil.get_terminal_size((100, 20)).columns)


def run_info(args: argparse.Namespace) -> int:
    from jina_v3.connectors.uris import list_collections

    rows = []
    for name in list_collections(args.store):
        store = open_store(args, name)
        try:
            signature = store.read_signature()
            rows.append(
                {
                    "collection": name,
                    "points": store.count(),
                    "signature": None if signature is None else signature.to_dict(),
                }
            )
        finally:
            store.close()
    settings = {k: {"value": s.value, "origin": s.origin} for k, s in args.settings.items()}
    if args.json:
        report = {"store": args.store, "collections": rows, "settings": settings}
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(info_table(args.store, rows) + settings_table(settings))
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from jina_v3.cli.by_source import nothing_matched, source_filter

    store = open_store(args)
    try:
        if store.read_signature() is None:
            raise _no_collection(args, store)
        before = store.count()
        if args.all:
            store.clear()
        elif args.id is not None:
            store.delete(document_ids=[args.id])
        else:
            store.delete(filter=source_filter(args.source))
        deleted = before - store.count()
        if not deleted and not args.all:
            raise nothing_matched(args, store)
    finally:
        store.close()
    print(f"deleted {deleted} point{'' if deleted == 1 else 's'} from {args.collection!r}")
    return 0


# -- the parsers -------------------------------------------------------------------------------


def _store_options(parser: argparse.ArgumentParser, *, collection: bool = True) -> None:
    uri, name = _defaults()
    parser.add_argument(
        "--store",
        default=None,
        metavar="URI",
        help=(
            "qdrant-edge:./DIR, milvus-lite:./FILE.db, qdrant:./DIR, qdrant::memory:, "
            f"qdrant:http://HOST:6333, milvus:http://HOST:19530, pinecone:INDEX (default: {uri})"
        ),
    )
    if collection:
        parser.add_argument("--collection", default=None, help=f"default: {name}")


def _model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--model",
        default=None,
        metavar="PATH_OR_ID",
        help=f"checkpoint directory or hub id (default: ${MODEL_ENV}, else the API when "
        f"JINA_API_KEY is set, else {HUB_MODEL})",
    )
    group.add_argument(
        "--api", action="store_true", default=None, help="the hosted Jina API (key in JINA_API_KEY)"
    )
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default=None)


def add_commands(commands: Any, base: argparse.ArgumentParser) -> None:
    """Add index, search, info and delete to the CLI's subcommands."""
    index = commands.add_parser(
        "index",
        parents=[base],
        help="index .txt, .md, .jsonl, PDF, DOCX, PPTX, XLSX and HTML files and folders",
    )
    index.add_argument("paths", nargs="+", metavar="PATH", help="files and folders")
    _store_options(index)
    _model_options(index)
    index.add_argument("--dimensions", type=int, default=None, help="Matryoshka size")
    index.add_argument(
        "--late-chunking",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="late-chunk each document (default: the collection's, else no)",
    )
    index.add_argument("--chunk-tokens", type=int, default=None, metavar="N", help="chunk size")
    index.add_argument(
        "--chunk-overlap",
        type=int,
        default=None,
        metavar="N",
        help="tokens a chunk repeats of the one before (default: 0)",
    )
    index.add_argument(
        "--batch-size", type=int, default=None, metavar="N", help="points embedded per batch"
    )
    index.add_argument("--glob", default=None, metavar="PATTERN", help="only matching files")
    index.add_argument(
        "--prune", action="store_true", help="delete documents of these paths whose files are gone"
    )
    index.add_argument("--quiet", action="store_true", help="no progress, no warnings")
    index.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="run on Ray Data: a local instance on 127.0.0.1, or ADDRESS (auto, ray://...)",
    )
    index.add_argument("--actors", type=int, default=None, metavar="N", help="with --ray")
    index.add_argument(
        "--recreate", action="store_true", help="drop the collection first (deletes its data)"
    )
    index.add_argument(
        "--hybrid",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also store the keyword channel for hybrid search (default: the collection's, "
        "else no)",
    )
    index.set_defaults(run=settle(run_index))

    search = commands.add_parser("search", parents=[base], help="search an indexed collection")
    search.add_argument("query", metavar="QUERY")
    _store_options(search)
    _model_options(search)
    search.add_argument("-k", type=int, default=None, help="number of hits (default: 5)")
    search.add_argument(
        "--filter", default=None, metavar="JSON", help='metadata filter, e.g. \'{"lang": "en"}\''
    )
    search.add_argument("--json", action="store_true", help="hits as JSON")
    search.add_argument(
        "--mode",
        choices=["hybrid", "keyword", "dense"],
        default=None,
        help="default: hybrid where the collection was indexed with --hybrid, else dense",
    )
    search.set_defaults(run=settle(run_search))

    info = commands.add_parser(
        "info", parents=[base], help="collections, embedding signatures and point counts"
    )
    _store_options(info, collection=False)
    info.add_argument("--json", action="store_true")
    info.set_defaults(run=settle(run_info))

    delete = commands.add_parser("delete", parents=[base], help="delete documents or everything")
    _store_options(delete)
    which = delete.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--source", metavar="PATH", help="the documents of a file, or of every file in a folder"
    )
    which.add_argument("--id", metavar="ID", help="one document (all its chunks)")
    which.add_argument("--all", action="store_true", help="every point (keeps the collection)")
    delete.set_defaults(run=settle(run_delete))
