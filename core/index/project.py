"""A project: the settings file in use in a folder, and the root a corpus file's identity is
measured from.

The settings file of a folder is ``jina-v3.toml`` (its top level holds the settings) or the
``[tool.jina-v3]`` table of ``pyproject.toml``; as with ruff, the first folder walking up
that has either wins (``jina-v3.toml`` first within one folder). A ``pyproject.toml``
without the table is passed over, and so is one that cannot be read or parsed unless its
text names the table: another tool's broken file is none of this project's business.

A file's project root is the folder of the settings file in use where the file lies, else
the root of the git work tree it is in (the nearest folder holding ``.git``; a submodule
belongs to its superproject), else it has none. Folders are looked at by walking up, never
by running ``git``, and :class:`ProjectRoots` looks at each folder once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomllib

from jina_v3.errors import ConfigurationError

__all__ = ["FILE_NAME", "PYPROJECT_TABLE", "ProjectRoots", "find_settings", "settings_in"]

FILE_NAME = "jina-v3.toml"
PYPROJECT_TABLE = "jina-v3"  # [tool.jina-v3]
_PYPROJECT = "pyproject.toml"

Found = tuple[Path, dict[str, Any]]


def settings_in(folder: Path) -> Found | None:
    """The settings file of `folder` itself and its raw table, or None.

    Raises:
        ConfigurationError: ``jina-v3.toml`` cannot be read or parsed, or a
            ``pyproject.toml`` that names the table is broken; the message names the file
            (and the key).
    """
    own = folder / FILE_NAME
    if own.is_file():
        return own, _read(own)
    pyproject = folder / _PYPROJECT
    if pyproject.is_file():
        table = _pyproject_table(pyproject)
        if table is not None:
            return pyproject, table
    return None


def find_settings(start: Path) -> Found | None:
    """The settings file in use in `start` (the first walking up) and its raw table."""
    folder = start.resolve()
    for candidate in (folder, *folder.parents):
        found = settings_in(candidate)
        if found is not None:
            return found
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML ({exc}); fix or remove it") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from None


def _pyproject_table(path: Path) -> dict[str, Any] | None:
    """The ``[tool.jina-v3]`` table of a pyproject.toml, or None when it has none."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None  # unreadable: not known to be ours
    ours = any(name in raw for name in (b"tool.jina-v3", b'tool."jina-v3"'))  # names the table
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        if ours:
            raise ConfigurationError(
                f"{path} is not valid TOML ({exc}); fix it (it holds [tool.{PYPROJECT_TABLE}])"
            ) from None
        return None
    tool = document.get("tool")
    if not isinstance(tool, dict) or PYPROJECT_TABLE not in tool:
        return None  # no table of ours (`tool = 3` included)
    table = tool[PYPROJECT_TABLE]
    if not isinstance(table, dict):
        raise ConfigurationError(
            f"{path}: tool.{PYPROJECT_TABLE} must be a table ([tool.{PYPROJECT_TABLE}] with "
            f"one setting a line), got {table!r}"
        )
    return table


def _has_settings(folder: str) -> bool:
    """Whether `folder` holds a settings file (its settings are not read here)."""
    if os.path.isfile(os.path.join(folder, FILE_NAME)):
        return True
    pyproject = Path(folder, _PYPROJECT)
    return pyproject.is_file() and _pyproject_table(pyproject) is not None


def _git_root(folder: str) -> bool:
    """Whether `folder` is the root of a git work tree: it holds a ``.git`` folder, or a
    ``.git`` file of a linked work tree (a submodule's points under ``.git/modules``, and
    its files belong to the superproject)."""
    dot_git = os.path.join(folder, ".git")
    if os.path.isdir(dot_git):
        return True
    if not os.path.isfile(dot_git):
        return False
    try:
        with open(dot_git, encoding="utf-8", errors="replace") as handle:
            pointer = handle.readline()
    except OSError:
        return True
    return "/modules/" not in pointer.replace("\\", "/")


class ProjectRoots:
    """Project roots by folder (absolute, resolved), each folder looked at once."""

    def __init__(self) -> None:
        self._settings: dict[str, str | None] = {}  # folder -> folder of its settings file
        self._git: dict[str, str | None] = {}  # folder -> root of its git work tree

    def root(self, folder: str) -> str | None:
        """The project root of `folder` (which need not exist), or None."""
        return self._walk(folder, self._settings, _has_settings) or self._walk(
            folder, self._git, _git_root
        )

    @staticmethod
    def _walk(folder: str, seen: dict[str, str | None], marks: Callable[[str], bool]) -> str | None:
        """The nearest folder at or above `folder` that `marks`, remembering each visited."""
        visited = []
        current = folder
        while current not in seen:
            visited.append(current)
            if marks(current):
                seen[current] = current
                break
            parent = os.path.dirname(current)
            if parent == current:
                seen[current] = None
                break
            current = parent
        found = seen[current]
        for path in visited:
            seen[path] = found
        return found
