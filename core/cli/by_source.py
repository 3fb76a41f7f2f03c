"""A collection's documents selected by their files: what ``index --prune`` deletes, and
``delete --source PATH``.

Every document the reader made carries ``source`` (its file's identity: its path relative
to its project's root, or absolute outside any project) and ``source_folders`` (every
folder above it, in the same form), so a file or a folder selects its documents however its
path is typed, from any working folder (:mod:`jina_v3.sources`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from jina_v3.errors import ConfigurationError
from jina_v3.index.sources import (
    FOLDERS_KEY,
    SOURCE_KEY,
    SkippedFile,
    escaped,
    identity,
    shown,
    under,
)
from jina_v3.index.store import DOCUMENT_ID_KEY


def prune(store: Any, files: list[Any], roots: list[str], jsonl_ids: dict[str, Any]) -> int:
    """Delete the documents under the folders named (`roots`: identities) whose files are
    gone, and those of each .jsonl file read whose lines are gone (`jsonl_ids`: see
    :data:`jina_v3.sources.JsonlIds`); the number of points deleted."""

    def warn(line: str) -> None:
        print(f"jina-v3 index: warning: {line}", file=sys.stderr)

    unlisted = [f.source for f in files if isinstance(f, SkippedFile) and f.folder]
    listed = [f.source for f in files if not isinstance(f, SkippedFile)]
    before = store.count()
    for root in roots:
        if escaped(root) != root:
            continue  # a folder name that is not UTF-8: no document can be under it
        if any(under(folder, root) for folder in unlisted):
            warn(f"not pruning {shown(root)}: part of it could not be listed")
            continue
        seen = [source for source in listed if under(source, root)]
        store.delete(filter={FOLDERS_KEY: root, SOURCE_KEY: {"$nin": seen}})
    for source, ids in jsonl_ids.items():
        if ids is None:
            warn(f"not pruning the lines of {shown(source)}: some of its lines were skipped")
            continue
        store.delete(filter={SOURCE_KEY: source, DOCUMENT_ID_KEY: {"$nin": ids}})
    return before - store.count()


def source_filter(path: str) -> dict[str, Any]:
    """The documents of a file, or of every file under a folder, however PATH is typed."""
    target = identity(path)
    if escaped(target) != target:
        raise ConfigurationError(
            f"--source {escaped(path)}: the path is not valid UTF-8, and no document is "
            "stored under such a path (files with such names are skipped when indexing)"
        )
    return {"$or": [{SOURCE_KEY: target}, {FOLDERS_KEY: target}]}


def nothing_matched(args: argparse.Namespace, store: Any) -> ConfigurationError:
    """The error for a delete that matched nothing, with a few of the stored sources (or
    ids): the user sees how the collection names its documents."""
    what = f"--source {args.source}" if args.id is None else f"--id {args.id!r}"
    head = f"{what} matched no document in {args.collection!r}"
    signature = store.read_signature()
    if not store.count():
        return ConfigurationError(f"{head}: the collection is empty")
    hits = store.query(np.ones(signature.dimensions, np.float32), k=50)
    if args.id is None:
        found = (shown(str(h.metadata[SOURCE_KEY])) for h in hits if SOURCE_KEY in h.metadata)
    else:
        found = (repr(h.document_id) for h in hits)
    some = list(dict.fromkeys(found))[:3]
    stored = f"; it holds {', '.join(some)} ..." if some else ""
    return ConfigurationError(f"{head}{stored}")
