"""Corpus reading: `.txt`, `.md` and `.jsonl` files and folders in, :class:`Document`s out.

    for item in read_corpus(["docs/", "notes.jsonl"]):
        if isinstance(item, SkippedFile):
            print(item)            # "skipped docs/bad.md: not UTF-8 text (byte 3 is invalid)"
        else:
            index_these.append(item)

Folders are walked recursively in sorted order (hidden entries, those starting with ``.``,
are left out; files of other types are ignored), so the same tree always gives the same
documents in the same order. Ids and metadata:

- a ``.txt`` / ``.md`` file is one document; its id is its path relative to the root given
  (POSIX form), or the path as given when the root is the file itself;
- so is a PDF, DOCX, PPTX, XLSX or HTML file, converted to Markdown
  (:mod:`jina_v3.index.formats`; skipped with a line naming the ``formats`` extra without it);
- a ``.jsonl`` file holds one JSON object per line with ``text`` and an optional ``id``
  (else the id is ``relative/path.jsonl#LINE``, lines counted from 1); the line's other
  fields become metadata;
- every document carries ``source`` (that relative path, or the file path as given) and
  ``source_root`` (the root as given, normalised) in its metadata; these two are set by the
  reader and win over fields of the same name in a ``.jsonl`` line.

A file that cannot be read or decoded (and a bad ``.jsonl`` line, or a second document with
an id already seen) is yielded as a :class:`SkippedFile` naming it and why, never raised: the
rest of the corpus goes on. A root that does not exist is a :class:`ConfigurationError`,
raised at once (a typo must not look like an empty corpus).

Everything here is pure and picklable (:func:`list_files` and :func:`read_file` split the
work for a pool of workers).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from jina_v3.errors import ConfigurationError, JinaV3Error, MissingDependencyError
from jina_v3.index.formats import CONVERTED, is_converted, to_markdown
from jina_v3.index.store import Document

__all__ = [
    "SUFFIXES",
    "SkippedFile",
    "SourceFile",
    "list_files",
    "read_corpus",
    "read_file",
    "read_files",
    "root_name",
]

#: The file types the reader takes.
SUFFIXES = (".jsonl", ".md", ".txt", *CONVERTED)
SOURCE_KEY, SOURCE_ROOT_KEY = "source", "source_root"


@dataclass(frozen=True)
class SourceFile:
    """One file to read: where it is, the root it was found under, and its ``source`` name."""

    path: str  # to open
    root: str  # the root as given (normalised): metadata ``source_root``
    source: str  # relative to the root (POSIX), or the path as given: metadata ``source``


@dataclass(frozen=True)
class SkippedFile:
    """A file (or one ``.jsonl`` line) left out, and why (one line)."""

    source: str  # the file, or ``file.jsonl#LINE``
    reason: str
    folder: bool = False  # a folder that could not be listed (its files are unknown)

    def __str__(self) -> str:
        return f"skipped {self.source}: {self.reason}"


def root_name(path: str | os.PathLike[str]) -> str:
    """A root as given, normalised (``./docs/`` -> ``docs``): metadata ``source_root``."""
    return PurePosixPath(Path(os.path.normpath(os.fspath(path))).as_posix()).as_posix()


def _matches(relative: str, glob: str | None) -> bool:
    """A pattern without ``/`` matches the file name at any depth, else the relative path
    from the right (``en/*.md``); ``**/`` matches any number of folders."""
    if glob is None:
        return True
    path = PurePosixPath(relative)
    if path.match(glob):
        return True
    if glob.startswith("**/"):  # PurePath.match treats ** as * (Python < 3.13)
        return path.match(glob[3:])
    return False


def _walk(root: Path, display: str, relative: str = "") -> Iterator[tuple[str, str] | SkippedFile]:
    """(path, relative) of every candidate file under `root`, sorted; unlistable folders
    come out as SkippedFile."""
    folder = root / relative if relative else root
    try:
        with os.scandir(folder) as entries:
            names = sorted(
                (e.name, e.is_dir(follow_symlinks=False)) for e in entries if e.name[:1] != "."
            )
    except OSError as exc:
        shown = f"{display}/{relative}" if relative else display
        yield SkippedFile(shown, f"cannot list this folder ({exc.strerror or exc})", folder=True)
        return
    for name, is_dir in names:
        rel = f"{relative}/{name}" if relative else name
        if is_dir:
            yield from _walk(root, display, rel)
        elif os.path.splitext(name)[1].lower() in SUFFIXES:
            yield str(folder / name), rel


def list_files(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, glob: str | None = None
) -> list[SourceFile | SkippedFile]:
    """The files `read_corpus` reads, in order (a folder that cannot be listed: skipped).

    Raises:
        ConfigurationError: A root does not exist, or no path was given.
    """
    roots = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not roots:
        raise ConfigurationError("no path given: pass files or folders to read")
    out: list[SourceFile | SkippedFile] = []
    for given in roots:
        root = root_name(given)
        if not os.path.lexists(root):
            raise ConfigurationError(f"{os.fspath(given)}: no such file or folder")
        if os.path.isdir(root):
            for item in _walk(Path(root), root):
                if isinstance(item, SkippedFile):
                    out.append(item)
                elif _matches(item[1], glob):
                    out.append(SourceFile(item[0], root, item[1]))
        elif os.path.splitext(root)[1].lower() in SUFFIXES:
            out.append(SourceFile(root, root, root))
        else:
            kinds = ", ".join(SUFFIXES)
            out.append(SkippedFile(root, f"not a {kinds} file"))
    return out


def _read_bytes(path: str) -> bytes:
    # Never open what is not a regular file: a FIFO would block, a device never end.
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise OSError(0, "not a regular file")
    with open(path, "rb") as handle:
        return handle.read()


def _problem(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "cannot read it (missing, or a broken link)"
    return f"cannot read it ({exc.strerror or exc})"


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start} is invalid); save it as UTF-8"
        raise ValueError(message) from None


def read_file(file: SourceFile) -> Iterator[Document | SkippedFile]:
    """The documents of one file (a ``.jsonl`` gives one per line), or why not."""
    try:
        raw = _read_bytes(file.path)
    except OSError as exc:
        yield SkippedFile(file.source, _problem(exc))
        return
    base = {SOURCE_KEY: file.source, SOURCE_ROOT_KEY: file.root}
    if not file.path.lower().endswith(".jsonl"):
        try:
            text = to_markdown(file.path, raw) if is_converted(file.path) else _decode(raw)
        except (ValueError, MissingDependencyError) as exc:
            yield SkippedFile(file.source, str(exc))
            return
        if not text.strip():
            yield SkippedFile(file.source, "empty (no text to index)")
            return
        yield Document(file.source, text, base)
        return
    for number, line in enumerate(raw.splitlines(), 1):
        if line.strip():
            yield _jsonl_document(line, f"{file.source}#{number}", base)


def _jsonl_document(line: bytes, where: str, base: dict[str, str]) -> Document | SkippedFile:
    try:
        row = json.loads(_decode(line))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError
        return SkippedFile(where, str(exc) if "UTF-8" in str(exc) else f"not JSON ({exc})")
    if not isinstance(row, dict):
        return SkippedFile(where, f"a JSON {type(row).__name__}; expected an object with text")
    text = row.pop("text", None)
    if not isinstance(text, str) or not text.strip():
        return SkippedFile(where, "no text: each line needs a non-empty string 'text'")
    raw_id = row.pop("id", None)
    if raw_id is None or raw_id == "":
        doc_id = where
    elif isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool):
        doc_id = str(raw_id)
    else:
        return SkippedFile(where, f"'id' must be a string or an integer, got {raw_id!r}")
    nested = row.pop("metadata", None)
    if nested is not None and not isinstance(nested, dict):
        return SkippedFile(where, f"'metadata' must be an object, got {type(nested).__name__}")
    try:
        return Document(doc_id, text, {**(nested or {}), **row, **base})
    except JinaV3Error as exc:
        return SkippedFile(where, str(exc))


def read_corpus(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, glob: str | None = None
) -> Iterator[Document | SkippedFile]:
    """Every document under `paths` (files and folders), in a deterministic order.

    Args:
        paths: Files and folders (``.txt``, ``.md``, ``.jsonl``; folders recursively).
        glob: Only files whose name (a pattern without ``/``) or relative path (``en/*.md``,
            ``**/*.txt``) matches.

    Returns:
        An iterator of :class:`~jina_v3.Document` and :class:`SkippedFile` (a file, line or
        duplicate id left out, with the reason).

    Raises:
        ConfigurationError: A path does not exist (raised here, before reading anything).
    """
    return read_files(list_files(paths, glob=glob))


def read_files(files: Iterable[SourceFile | SkippedFile]) -> Iterator[Document | SkippedFile]:
    """The documents of files from :func:`list_files`, duplicate ids left out (skipped)."""
    first: dict[str, str] = {}
    for file in files:
        if isinstance(file, SkippedFile):
            yield file
            continue
        for item in read_file(file):
            if isinstance(item, Document):
                where = str(item.metadata[SOURCE_KEY])
                if item.id in first:
                    seen = first[item.id]
                    item = SkippedFile(where, f"duplicate id {item.id!r} (first in {seen})")
                else:
                    first[item.id] = where
            yield item
