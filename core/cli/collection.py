"""`jina-v3 ls / copy / export / import`: see and move what a collection stores, without
the model (:mod:`jina_v3.index.transfer` does the moving)."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from jina_v3.cli.config import DEFAULT, settle
from jina_v3.cli.format import _columns, _cut
from jina_v3.cli.index import INTERRUPTED, _filter, _no_collection, _StopFlag, open_store

__all__ = ["add_collection_commands"]

HASH_WIDTH = 12


@dataclass
class _Document:
    """One document of `ls`, summed over its points."""

    document_id: str
    source: str
    chunks: int = 0
    characters: int = 0
    content_hash: str = ""


def documents(store: Any, *, source: str | None = None, filter: Any = None) -> list[_Document]:
    """The documents of a collection, sorted by source and id. Points are read a page at a
    time without their vectors; what is kept is one small summary per document."""
    from jina_v3.index.filters import matches, parse_filter
    from jina_v3.index.store import CONTENT_HASH_KEY, record_payload
    from jina_v3.index.transfer import pages

    tree = None if filter is None else parse_filter(filter)
    selected = None if source is None else _source_matcher(source)
    found: dict[str, _Document] = {}
    for page in pages(store, page=1024, vectors=False):
        for record in page:
            origin = str(record.metadata.get("source", record.document_id))
            if selected is not None and not selected(origin):
                continue
            if tree is not None and not matches(tree, record_payload(record)):
                continue
            doc = found.get(record.document_id)
            if doc is None:
                doc = found[record.document_id] = _Document(record.document_id, origin)
            doc.chunks += 1
            doc.characters += len(record.text)
            doc.content_hash = str(record.metadata.get(CONTENT_HASH_KEY, doc.content_hash))
    return sorted(found.values(), key=lambda d: (d.source, d.document_id))


def _source_matcher(pattern: str) -> Callable[[str], bool]:
    """Whether a source matches `pattern` in ``--glob``'s dialect: as stored (relative to
    its project's root, or absolute), as shown (relative to the working folder), or as the
    path typed here (``../kb/*.md``, ``/abs/proj/kb/*.md``: its leading folders mapped to
    their identity, as ``delete --source`` maps a path)."""
    from jina_v3.index.sources import glob_match, identity, shown

    names = pattern.split("/")
    folders = list(itertools.takewhile(lambda n: not any(c in n for c in "*?["), names[:-1]))
    typed = None
    if len(names) > 1:  # a name alone matches at any depth, as with --glob
        base = identity("/".join(folders) or ".")
        rest = names[len(folders) :]
        typed = "/".join(rest if base == "." else [base, *rest])

    def matches(origin: str) -> bool:
        # a relative pattern is read where it is typed: against the path as shown (relative
        # to the working folder), and a project's own ids as stored; never against the
        # folders above a machine's absolute path, which `index --glob` never sees either
        if glob_match(shown(origin), pattern):
            return True
        if (pattern.startswith("/") or not origin.startswith("/")) and glob_match(origin, pattern):
            return True
        if typed is None or typed.startswith("/") != origin.startswith("/"):
            return False
        # anchored at the start: the whole path as typed, not only its last names
        return glob_match(f"/{origin.lstrip('/')}", f"/{typed.lstrip('/')}")

    return matches


def _table(docs: list[_Document]) -> Iterator[str]:
    from jina_v3.cli.format import printable
    from jina_v3.index.sources import shown

    header = ("source", "document", "chunks", "chars", "content hash")
    rows = [
        (
            _cut(printable(shown(d.source)), 60),
            "" if d.document_id == d.source else _cut(printable(shown(d.document_id)), 40),
            str(d.chunks),
            str(d.characters),
            d.content_hash[:HASH_WIDTH],
        )
        for d in docs
    ]
    widths = [max(_columns(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [c + " " * (w - _columns(c)) for c, w in zip(row, widths, strict=True)]
        yield "  ".join(cells).rstrip()


def run_ls(args: argparse.Namespace) -> int:
    where = _filter(args.filter)
    store = open_store(args)
    try:
        if store.read_signature() is None:
            raise _no_collection(args, store)
        docs = documents(store, source=args.source, filter=where)
    finally:
        store.close()
    if args.json:
        for doc in docs:
            sys.stdout.write(json.dumps(doc.__dict__, ensure_ascii=False) + "\n")
    elif not docs:
        print("no documents" + (" match" if args.source or where else ""))
    else:
        for line in _table(docs):
            print(line)
        points = sum(d.chunks for d in docs)
        print(f"{len(docs)} documents, {points} chunks (chars: characters of their chunks)")
    return 0


def run_copy(args: argparse.Namespace) -> int:
    from jina_v3.connectors.uris import open_store as open_uri
    from jina_v3.index.transfer import copy_collection
    from jina_v3.progress import Progress

    target = args.to_collection or args.collection
    if args.source == args.destination and target == args.collection:
        raise _same(args)
    source = open_uri(args.source, args.collection)
    try:
        destination = open_uri(args.destination, target)
        try:
            with _StopFlag("copy") as stop:
                summary = copy_collection(
                    source,
                    destination,
                    page=args.batch_size or 256,
                    progress=Progress(mode="off" if args.quiet else "auto", unit="point"),
                    stop=stop,
                )
        finally:
            destination.close()
    finally:
        source.close()
    if not args.quiet:
        print(f"copied {summary}", flush=True)
    return INTERRUPTED if summary.interrupted else 0


def _same(args: argparse.Namespace) -> Exception:
    from jina_v3.errors import ConfigurationError

    return ConfigurationError(
        f"copy {args.source} onto itself: name another store, or another collection with "
        "--to-collection NAME"
    )


def run_export(args: argparse.Namespace) -> int:
    from jina_v3.index.transfer import export_points
    from jina_v3.progress import Progress

    store = open_store(args)
    quiet = args.quiet or args.file == "-"
    try:
        if store.read_signature() is None:
            raise _no_collection(args, store)
        progress = Progress(mode="off" if quiet else "auto", unit="point")
        if args.file == "-":
            summary = export_points(store, sys.stdout, progress=progress)
        else:
            partial = f"{args.file}.partial"  # the file appears only once it is whole
            try:
                with open(partial, "w", encoding="utf-8") as out:
                    summary = export_points(store, out, progress=progress)
                os.replace(partial, args.file)
            except OSError as exc:
                from jina_v3.errors import ConfigurationError

                raise ConfigurationError(
                    f"cannot write {args.file}: {exc.strerror or exc}; choose a writable path"
                ) from None
            finally:
                if os.path.exists(partial):
                    os.unlink(partial)
    finally:
        store.close()
    if not quiet:
        print(f"exported {summary} to {args.file}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from jina_v3.index.transfer import import_points, read_header
    from jina_v3.progress import Progress

    if args.settings["collection"].origin == DEFAULT:  # the exported collection's name
        try:
            with open(args.file, encoding="utf-8") as handle:
                args.collection = read_header(iter(handle), args.file).get(
                    "collection", args.collection
                )
        except OSError:
            pass  # import_points names the problem
    store = open_store(args)
    try:
        with _StopFlag("import") as stop:
            summary = import_points(
                args.file,
                store,
                progress=Progress(mode="off" if args.quiet else "auto", unit="point"),
                stop=stop,
                warn=_warn("import", args.quiet),
            )
    finally:
        store.close()
    if not args.quiet:
        print(f"imported {summary} into {args.collection!r}", flush=True)
    return INTERRUPTED if summary.interrupted else 0


def _warn(command: str, quiet: bool) -> Any:
    """Warnings as `jina-v3 COMMAND: warning: ...` lines on stderr (none with --quiet)."""
    if quiet:
        return lambda message: None
    return lambda message: print(f"jina-v3 {command}: warning: {message}", file=sys.stderr)


def add_collection_commands(commands: Any, base: argparse.ArgumentParser) -> None:
    """Add ls, copy, export and import to the CLI's subcommands."""
    from jina_v3.cli.index import _store_options

    ls = commands.add_parser(
        "ls", parents=[base], help="the documents of a collection: source, chunks, hash"
    )
    _store_options(ls)
    ls.add_argument(
        "--source",
        metavar="GLOB",
        help="only sources matching, as --glob matches (e.g. 'docs/**/*.md')",
    )
    ls.add_argument("--filter", metavar="JSON", help='metadata filter, e.g. \'{"lang": "en"}\'')
    ls.add_argument("--json", action="store_true", help="one JSON object per document and line")
    ls.set_defaults(run=settle(run_ls))

    copy = commands.add_parser(
        "copy", parents=[base], help="copy a collection to another store, without re-embedding"
    )
    copy.add_argument("source", metavar="SRC_URI", help="store URI to copy from")
    copy.add_argument("destination", metavar="DST_URI", help="store URI to copy to")
    copy.add_argument("--collection", default=None, help="the collection (default: documents)")
    copy.add_argument("--to-collection", metavar="NAME", help="its name in DST (default: same)")
    copy.add_argument("--batch-size", type=int, default=None, metavar="N", help="points a page")
    copy.add_argument("--quiet", action="store_true", help="no progress")
    copy.set_defaults(run=settle(run_copy))

    export = commands.add_parser(
        "export", parents=[base], help="write a collection to a JSON-lines file (- for stdout)"
    )
    export.add_argument("file", metavar="FILE")
    _store_options(export)
    export.add_argument("--quiet", action="store_true", help="no progress")
    export.set_defaults(run=settle(run_export))

    load = commands.add_parser(
        "import", parents=[base], help="read an exported file into a collection"
    )
    load.add_argument("file", metavar="FILE")
    _store_options(load)
    load.add_argument("--quiet", action="store_true", help="no progress")
    load.set_defaults(run=settle(run_import))
