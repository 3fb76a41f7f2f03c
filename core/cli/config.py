"""Remembered settings: a configuration file, and where each setting in effect came from.

The file is ``jina-v3.toml`` (its top level holds the settings) or the ``[tool.jina-v3]``
table of ``pyproject.toml``. As with ruff, the first folder walking up from the working
directory that has either wins (``jina-v3.toml`` first within one folder; a
``pyproject.toml`` without the table is passed over). Keys are the long flag names
(``chunk-tokens``; ``chunk_tokens`` is read the same). Precedence: flag > environment
variable (``JINA_V3_MODEL`` for ``model``) > file > default.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from jina_v3.errors import ConfigurationError

__all__ = ["FILE_NAME", "SETTINGS", "Setting", "adopt_signature", "find_file", "settle"]

FILE_NAME = "jina-v3.toml"
PYPROJECT_TABLE = "jina-v3"  # [tool.jina-v3]

# name -> (type, default, environment variable); the names are the long flags
SETTINGS: dict[str, tuple[type, Any, str | None]] = {
    "store": (str, None, None),  # default: the store URIs' default (filled in settle)
    "collection": (str, None, None),
    "model": (str, None, "JINA_V3_MODEL"),
    "api": (bool, False, None),
    "dtype": (str, None, None),
    "dimensions": (int, None, None),
    "late-chunking": (bool, False, None),
    "chunk-tokens": (int, None, None),
    "chunk-overlap": (int, None, None),
    "batch-size": (int, None, None),
    "glob": (str, None, None),
    "k": (int, 5, None),
}
FLAG, DEFAULT = "flag", "default"


@dataclass(frozen=True)
class Setting:
    """A setting's value and where it came from: flag, env NAME, a file path, or default."""

    value: Any
    origin: str


def find_file(start: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
    """The configuration file in effect and its raw table, or None."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        own = candidate / FILE_NAME
        if own.is_file():
            return own, _read(own)
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file():
            table = _read(pyproject).get("tool", {}).get(PYPROJECT_TABLE)
            if table is not None:
                if not isinstance(table, dict):
                    raise ConfigurationError(
                        f"{pyproject}: [tool.{PYPROJECT_TABLE}] is not a table"
                    )
                return pyproject, table
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML ({exc}); fix or remove it") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from None


def file_settings(path: Path, table: Mapping[str, Any]) -> dict[str, Any]:
    """The table's settings by name, checked: an unknown key names the nearest known one."""
    out = {}
    for raw_key, value in table.items():
        key = raw_key.replace("_", "-")
        if key not in SETTINGS:
            near = difflib.get_close_matches(key, SETTINGS, n=1, cutoff=0.5)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise ConfigurationError(
                f"{path}: unknown setting {raw_key!r}; {hint}known settings: {', '.join(SETTINGS)}"
            )
        kind = SETTINGS[key][0]
        # bool is an int subclass in Python; TOML keeps them apart, and so do we
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigurationError(f"{path}: {raw_key} must be {_type_name(kind)}, got {value!r}")
        out[key] = value
    return out


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", bool: "true or false"}[kind]


def _defaults() -> dict[str, Any]:
    from jina_v3.connectors.uris import DEFAULT_COLLECTION, DEFAULT_STORE_URI

    return {"store": DEFAULT_STORE_URI, "collection": DEFAULT_COLLECTION}


def resolve(args: argparse.Namespace) -> dict[str, Setting]:
    """Every setting in effect for this command line, with its origin."""
    found = find_file()
    from_file = file_settings(*found) if found else {}
    origin_file = str(found[0]) if found else ""
    defaults = _defaults()
    settings: dict[str, Setting] = {}
    for key, (_, default, env) in SETTINGS.items():
        flag = getattr(args, key.replace("-", "_"), None)
        env_value = os.environ.get(env, "").strip() if env else ""
        if flag is not None:
            settings[key] = Setting(flag, FLAG)
        elif env_value:
            settings[key] = Setting(env_value, f"env {env}")
        elif key in from_file:
            settings[key] = Setting(from_file[key], origin_file)
        else:
            settings[key] = Setting(defaults.get(key, default), DEFAULT)
    if settings["model"].origin != DEFAULT and settings["api"].origin != FLAG:
        settings["api"] = Setting(False, settings["model"].origin)  # a model named wins
    return settings


def settle(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Wrap a command: its flags the user left out take the environment's, the file's or
    the default value; ``args.settings`` keeps every setting with its origin."""

    @functools.wraps(run)
    def wrapped(args: argparse.Namespace) -> int:
        args.settings = resolve(args)
        for key, setting in args.settings.items():
            dest = key.replace("-", "_")
            if hasattr(args, dest):
                setattr(args, dest, setting.value)
        return run(args)

    return wrapped


def adopt_signature(args: argparse.Namespace, signature: Any) -> None:
    """`index` on an existing collection: the settings its signature records (dimensions,
    late chunking, embedding type) where the user set none; a setting given that differs
    stays, and the index refuses it naming the fix."""
    from jina_v3.index.pipeline import _stored_settings

    if signature is None:
        return
    stored = _stored_settings(signature, None)
    settings = getattr(args, "settings", {})
    for key, value in stored.items():
        setting = settings.get(key.replace("_", "-"))
        if setting is None or setting.origin == DEFAULT:
            setattr(args, key, value)
