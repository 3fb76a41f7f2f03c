"""Corpus reading: `.txt`, `.md` and `.jsonl` files and folders in, :class:`Document`s out.

    for item in read_corpus(["docs/", "notes.jsonl"]):
        if isinstance(item, SkippedFile):
            print(item)            # "skipped docs/bad.md: not UTF-8 text (byte 3 is invalid)"
        else:
            index_these.append(item)

Folders are walked recursively in sorted order (hidden entries, those starting with ``.``,
are left out; files of other types are ignored), so the same tree always gives the same
documents in the same order.

A file's identity is its path relative to its project's root, in POSIX form
(:func:`identity`; :mod:`jina_v3.index.project` says what the root is: the folder of the
settings file in use there, else the git work tree's root), or its absolute path where it
has no project. It is the same however the path was typed (relative, ``./x``, absolute,
through a symlink, through its folder or as itself, from any working folder), the same in
every checkout of the project, and never the same for two files of one project. A file
named twice in one call is read once. Ids and metadata:

- a ``.txt`` / ``.md`` file is one document; its id is its identity;
- so is a PDF, DOCX, PPTX, XLSX or HTML file, converted to Markdown
  (:mod:`jina_v3.index.formats`; skipped with a line naming the ``formats`` extra without it,
  and skipped with the reason when it is over the conversion limits, such as a zip bomb);
- a ``.jsonl`` file holds one JSON object per line with ``text`` and an optional ``id`` (a
  string; an integer is taken as its decimal string, so ``1`` and ``"1"`` are the same id),
  else the id is ``<identity>#LINE`` (lines counted from 1); the line's other fields (and
  those of an optional ``metadata`` object) become metadata;
- every document carries ``source`` (its file's identity) and ``source_folders`` (every
  folder above the file in the same form, the project root as ``.``: what ``--prune``
  selects a root's documents by).

Reserved metadata names (:data:`RESERVED_FIELDS`): ``source`` and ``source_folders`` (set
here) and the index's own ``text``, ``document_id``, ``chunk_index`` and ``content_hash``. A
``.jsonl`` line that carries one of them (or a field both at the top level and in its
``metadata``) is skipped, never silently overwritten.

A file that cannot be read or decoded (and a bad ``.jsonl`` line, a file whose name is not
valid UTF-8, or a second document with an id already seen) is yielded as a
:class:`SkippedFile` naming it and why, never raised: the rest of the corpus goes on. A root
that does not exist is a :class:`ConfigurationError`, raised at once (a typo must not look
like an empty corpus).

Everything here is pure and picklable (:func:`list_files` and :func:`read_files` split the
work for a pool of workers).
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from jina_v3.errors import ConfigurationError, JinaV3Error, MissingDependencyError
from jina_v3.index.formats import CONVERTED, is_converted, to_markdown
from jina_v3.index.project import ProjectRoots
from jina_v3.index.store import RESERVED_KEYS, Document

__all__ = [
    "FOLDERS_KEY",
    "RESERVED_FIELDS",
    "SOURCE_KEY",
    "SUFFIXES",
    "JsonlIds",
    "SkippedFile",
    "SourceFile",
    "escaped",
    "folders_of",
    "glob_match",
    "identity",
    "list_files",
    "located",
    "read_corpus",
    "read_file",
    "read_files",
    "shown",
    "under",
]

#: The file types the reader takes.
SUFFIXES = (".jsonl", ".md", ".txt", *CONVERTED)
SOURCE_KEY, FOLDERS_KEY = "source", "source_folders"
#: Metadata names a corpus line may not carry: the reader's own and the index's.
RESERVED_FIELDS = frozenset({SOURCE_KEY, FOLDERS_KEY} | RESERVED_KEYS)

#: Per ``.jsonl`` file read (by identity): the ids of its documents, or None when some of
#: its lines were skipped (its stored lines are then never pruned). Files that could not be
#: read are absent. Filled by :func:`read_files`; what ``--prune`` prunes lines by.
JsonlIds = dict[str, list[str] | None]


def identity(path: str | os.PathLike[str], roots: ProjectRoots | None = None) -> str:
    """A file's (or folder's) identity: its resolved path relative to its project's root in
    POSIX form (``docs/a.md``; the root itself is ``.``), or its absolute resolved path
    where it has no project (``source``, and the id of a text file). `roots` remembers the
    folders already looked at (one walk up per new folder)."""
    real = os.path.realpath(os.fspath(path))
    folder = real if os.path.isdir(real) else os.path.dirname(real)
    root = (roots or ProjectRoots()).root(folder)
    if root is None:
        return Path(real).as_posix()
    return Path(os.path.relpath(real, root)).as_posix()


def folders_of(source: str) -> list[str]:
    """Every folder above an identity, outermost first (metadata ``source_folders``): from
    ``.`` (the project root) for a project's file, from ``/`` for an absolute path."""
    return [folder.as_posix() for folder in reversed(PurePosixPath(source).parents)]


def under(path: str, folder: str) -> bool:
    """Whether identity `path` is `folder` or inside it (every project file is under ``.``)."""
    if folder == ".":
        return not path.startswith("/")
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def escaped(path: str) -> str:
    """A path with the bytes of a name that is not UTF-8 written as ``\\xe9``: printable."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def shown(source: str, cwd: str | None = None) -> str:
    """A source as people read it: relative to `cwd` (default: the working directory) when
    it is under it, else as it is (relative to its project's root, or absolute). What every
    message and table prints."""
    try:
        here = os.path.realpath(cwd if cwd is not None else os.getcwd())
    except OSError:  # the working directory was deleted
        return source
    local = located(source, here)
    if local == here:
        return "."
    return local[len(here.rstrip("/")) + 1 :] if under(local, here) else source


def located(source: str, cwd: str | None = None) -> str:
    """Where a source is on this machine: an absolute source is itself; a project's file is
    under the project root of `cwd` (default: the working directory), or stays as it is
    where `cwd` is in no project (as does what is not a path, like a dataset row's id)."""
    if os.path.isabs(source):
        return source
    try:
        here = os.path.realpath(cwd if cwd is not None else os.getcwd())
    except OSError:
        return source
    root = _root_of(here)
    return source if root is None else os.path.normpath(os.path.join(root, source))


@functools.lru_cache(maxsize=16)
def _root_of(folder: str) -> str | None:
    """The working folder's project root, looked up once per folder (a table shows many)."""
    return ProjectRoots().root(folder)


def _where(source: str, line: int | None, cwd: str | None) -> str:
    return shown(source, cwd) + ("" if line is None else f"#{line}")


@dataclass(frozen=True)
class SourceFile:
    """One file to read: where to open it, and its identity (metadata ``source``)."""

    path: str  # to open
    source: str  # the identity


@dataclass(frozen=True)
class SkippedFile:
    """A file (or one ``.jsonl`` line) left out, and why (one line)."""

    source: str  # the file's identity (escaped when its name is not UTF-8)
    reason: str
    folder: bool = False  # a folder that could not be listed (its files are unknown)
    line: int | None = None  # the ``.jsonl`` line
    first: str | None = None  # a duplicate id: where the id was first read ...
    first_line: int | None = None  # ... and on which line

    def describe(self, cwd: str | None = None) -> str:
        """``skipped WHERE: REASON``, paths shown relative to `cwd` (default: the working
        directory)."""
        text = f"skipped {_where(self.source, self.line, cwd)}: {self.reason}"
        if self.first is not None:
            text += f" (first at {_where(self.first, self.first_line, cwd)})"
        return text

    def __str__(self) -> str:
        return self.describe()


def glob_match(path: str, pattern: str) -> bool:
    """Whether `path` matches `pattern` in the one glob dialect of every command (``index
    --glob``, ``ls --source``): a relative pattern matches the path's last names (so one
    without ``/`` matches the file name at any depth, and ``en/*.md`` a file of any folder
    ``en``), an absolute one the whole path; ``**`` is any number of folders, none
    included (``kb/**/*.md`` takes ``kb/top.md``); ``*``, ``?`` and ``[...]`` stay within
    one name."""
    return _glob_regex(pattern).search(path) is not None


@functools.lru_cache(maxsize=64)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    names = posixpath.normpath(pattern).split("/")
    anchor = "^" if pattern.startswith("/") else "(?:^|/)"
    parts = []
    for number, name in enumerate(names):
        last = number == len(names) - 1
        if name == "**":
            parts.append(".*" if last else "(?:[^/]+/)*")
        else:
            parts.append(_glob_name(name) + ("" if last else "/"))
    return re.compile(anchor + "".join(parts) + "$")


def _glob_name(name: str) -> str:
    """One name of a pattern as a regular expression that stays within the name."""
    out, i = [], 0
    while i < len(name):
        char = name[i]
        closing = name.find("]", i + 2) if char == "[" else -1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif closing > 0:
            inner = name[i + 1 : closing]
            negate = inner[:1] == "!"
            body = re.escape(inner[1:] if negate else inner).replace("\\-", "-")
            out.append(f"[{'^/' if negate else ''}{body}]")
            i = closing
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _walk(root: str, relative: str = "") -> Iterator[tuple[str, str] | SkippedFile]:
    """(path, relative) of every candidate file under `root`, sorted; unlistable folders
    come out as SkippedFile."""
    folder = os.path.join(root, relative) if relative else root
    try:
        with os.scandir(folder) as entries:
            names = sorted(
                (e.name, e.is_dir(follow_symlinks=False)) for e in entries if e.name[:1] != "."
            )
    except OSError as exc:
        reason = f"cannot list this folder ({exc.strerror or exc})"
        yield SkippedFile(escaped(identity(folder)), reason, folder=True)
        return
    for name, is_dir in names:
        rel = f"{relative}/{name}" if relative else name
        if is_dir:
            yield from _walk(root, rel)
        elif os.path.splitext(name)[1].lower() in SUFFIXES:
            yield os.path.join(folder, name), rel


def _source_file(path: str, roots: ProjectRoots) -> SourceFile | SkippedFile:
    source = identity(path, roots)
    if not os.path.exists(path):  # a broken link: named where it is, not where it points
        folder, name = os.path.split(os.path.abspath(path))
        source = Path(identity(folder, roots), name).as_posix()
    try:
        source.encode("utf-8")
    except UnicodeEncodeError:  # a name that is not UTF-8 (surrogate-escaped by Python)
        return SkippedFile(escaped(source), "its name is not valid UTF-8; rename the file")
    return SourceFile(path, source)


def list_files(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, glob: str | None = None
) -> list[SourceFile | SkippedFile]:
    """The files `read_corpus` reads, in order, each once (a folder that cannot be listed,
    a file whose name is not UTF-8: skipped).

    Raises:
        ConfigurationError: A root does not exist, or no path was given.
    """
    roots = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not roots:
        raise ConfigurationError("no path given: pass files or folders to read")
    out: list[SourceFile | SkippedFile] = []
    listed: set[str] = set()
    projects = ProjectRoots()  # each folder looked at once, however many files it holds
    for given in roots:
        root = os.fspath(given)
        if not os.path.lexists(root):
            raise ConfigurationError(f"{escaped(root)}: no such file or folder")
        if os.path.isdir(root):
            found = [
                item if isinstance(item, SkippedFile) else _source_file(item[0], projects)
                for item in _walk(root)
                if isinstance(item, SkippedFile) or glob is None or glob_match(item[1], glob)
            ]
        elif os.path.splitext(root)[1].lower() in SUFFIXES:
            found = [_source_file(root, projects)]
        else:
            kinds = ", ".join(SUFFIXES)
            found = [SkippedFile(escaped(identity(root)), f"not a {kinds} file")]
        for item in found:
            if item.source not in listed:  # one file, one document: read once
                listed.add(item.source)
                out.append(item)
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
    for _, item in _read(file):
        yield item


def _read(file: SourceFile) -> Iterator[tuple[int | None, Document | SkippedFile]]:
    """(line, item) for each document of a file (line: None for a text file)."""
    try:
        raw = _read_bytes(file.path)
    except OSError as exc:
        yield None, SkippedFile(file.source, _problem(exc))
        return
    base = {SOURCE_KEY: file.source, FOLDERS_KEY: folders_of(file.source)}
    if not file.path.lower().endswith(".jsonl"):
        try:
            text = to_markdown(file.path, raw) if is_converted(file.path) else _decode(raw)
        except (ValueError, MissingDependencyError) as exc:
            yield None, SkippedFile(file.source, str(exc))
            return
        if not text.strip():
            yield None, SkippedFile(file.source, "empty (no text to index)")
            return
        yield None, Document(file.source, text, base)
        return
    for number, line in enumerate(raw.splitlines(), 1):
        if line.strip():
            yield number, _jsonl_document(line, file.source, number, base)


def _jsonl_document(
    line: bytes, source: str, number: int, base: dict[str, object]
) -> Document | SkippedFile:
    def skipped(reason: str) -> SkippedFile:
        return SkippedFile(source, reason, line=number)

    try:
        row = json.loads(_decode(line))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError
        return skipped(str(exc) if "UTF-8" in str(exc) else f"not JSON ({exc})")
    if not isinstance(row, dict):
        return skipped(f"a JSON {type(row).__name__}; expected an object with text")
    text = row.pop("text", None)
    if not isinstance(text, str) or not text.strip():
        return skipped("no text: each line needs a non-empty string 'text'")
    raw_id = row.pop("id", None)
    if raw_id is None or raw_id == "":
        doc_id = f"{source}#{number}"
    elif isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool):
        doc_id = str(raw_id)  # an integer id is its decimal string: 1 and "1" are one id
    else:
        return skipped(f"'id' must be a string or an integer, got {raw_id!r}")
    nested = row.pop("metadata", None)
    if nested is not None and not isinstance(nested, dict):
        return skipped(f"'metadata' must be an object, got {type(nested).__name__}")
    nested = nested or {}
    reserved = sorted(RESERVED_FIELDS & (set(row) | set(nested)))
    if reserved:
        names = ", ".join(map(repr, reserved))
        return skipped(
            f"field {names} is reserved (the reader or the index sets it); rename the field"
        )
    twice = sorted(set(row) & set(nested))
    if twice:
        names = ", ".join(map(repr, twice))
        return skipped(f"field {names} is both in 'metadata' and at the top level; keep one")
    try:
        return Document(doc_id, text, {**nested, **row, **base})
    except JinaV3Error as exc:
        return skipped(str(exc))


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


def read_files(
    files: Iterable[SourceFile | SkippedFile], *, jsonl_ids: JsonlIds | None = None
) -> Iterator[Document | SkippedFile]:
    """The documents of files from :func:`list_files`, duplicate ids left out (skipped).

    Args:
        files: What :func:`list_files` lists.
        jsonl_ids: Filled, as each ``.jsonl`` file is read through, with the ids read from
            it (see :data:`JsonlIds`).
    """
    first: dict[str, tuple[str, int | None]] = {}
    for file in files:
        if isinstance(file, SkippedFile):
            yield file
            continue
        ids: list[str] | None = []
        readable = True
        for line, item in _read(file):
            if isinstance(item, SkippedFile):
                readable = readable and line is not None  # None: the file itself
                ids = None  # some of its lines were skipped
            elif item.id in first:
                seen, seen_line = first[item.id]
                reason = f"duplicate id {item.id!r}"
                item = SkippedFile(file.source, reason, line=line, first=seen, first_line=seen_line)
            else:
                first[item.id] = (file.source, line)
                if ids is not None:
                    ids.append(item.id)
            yield item
        if jsonl_ids is not None and readable and file.path.lower().endswith(".jsonl"):
            jsonl_ids[file.source] = ids
