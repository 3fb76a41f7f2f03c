"""Remembered settings: a configuration file, and where each setting in effect came from.

The file is ``jina-v3.toml`` (its top level holds the settings) or the ``[tool.jina-v3]``
table of ``pyproject.toml``, found as :mod:`jina_v3.index.project` says (as with ruff, the
first folder walking up from the working directory that has either wins). Keys are the
long flag names (``chunk-tokens``; ``chunk_tokens`` is read the same). Precedence: flag >
environment variable (``JINA_V3_MODEL`` for ``model``) > file > default. A relative path in
the file (``store``, ``model``) is relative to the file's folder, and so is the default
store while a file is in use: every subfolder of a project finds the same index.
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

from jina_v3.errors import ConfigurationError
from jina_v3.index.chunking import MAX_CHUNK_TOKENS
from jina_v3.index.project import FILE_NAME, PYPROJECT_TABLE, find_settings

__all__ = [
    "FILE_NAME",
    "PYPROJECT_TABLE",
    "SETTINGS",
    "Setting",
    "adopt_signature",
    "find_file",
    "settle",
]

# name -> (type, default, environment variable); the names are the long flags
SETTINGS: dict[str, tuple[type, Any, str | None]] = {
    "store": (str, None, None),  # default: the store URIs' default (filled in resolve)
    "collection": (str, None, None),
    "model": (str, None, "JINA_V3_MODEL"),
    "api": (bool, False, None),
    "dtype": (str, None, None),
    "dimensions": (int, None, None),
    "late-chunking": (bool, False, None),
    "hybrid": (bool, False, None),
    "chunk-tokens": (int, None, None),
    "chunk-overlap": (int, None, None),
    "batch-size": (int, None, None),
    "glob": (str, None, None),
    "k": (int, 5, None),
}
# name -> (lowest, highest or None) of a number, checked wherever it came from (the model's
# own limit on dimensions is checked where it loads)
_RANGES: dict[str, tuple[int, int | None]] = {
    "k": (1, None),
    "dimensions": (1, None),
    "chunk-tokens": (1, MAX_CHUNK_TOKENS),
    "chunk-overlap": (0, None),
    "batch-size": (1, None),
}
_SHORT_FLAGS = {"k": "-k"}
FLAG, DEFAULT = "flag", "default"


@dataclass(frozen=True)
class Setting:
    """A setting's value and where it came from: flag, env NAME, a file path, or default."""

    value: Any
    origin: str


def find_file(start: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
    """The configuration file in effect and its raw table, or None."""
    return find_settings(start or Path.cwd())


def file_settings(path: Path, table: Mapping[str, Any]) -> dict[str, Any]:
    """The table's settings by name, checked (an unknown key names the nearest known one),
    relative paths taken from the file's folder."""
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
    if "store" in out:
        out["store"] = _store_in(path.parent, out["store"])
    if "model" in out:
        out["model"] = _model_in(path.parent, out["model"])
    return out


def _store_in(folder: Path, uri: str) -> str:
    from jina_v3.connectors.uris import anchored

    return anchored(uri, str(folder))


def _model_in(folder: Path, model: str) -> str:
    """A checkpoint folder named relative to the file's folder, made absolute; a hub id
    (``org/name``, not a folder there) stays as it is."""
    here = os.path.join(folder, model)
    if model.startswith(("./", "../")) or model in (".", "..") or os.path.exists(here):
        return os.path.normpath(here)  # an absolute `model` stays itself in the join
    return model


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", bool: "true or false"}[kind]


def _defaults(found: tuple[Path, Any] | None) -> dict[str, Any]:
    from jina_v3.connectors.uris import DEFAULT_COLLECTION, DEFAULT_STORE_URI

    store = DEFAULT_STORE_URI if found is None else _store_in(found[0].parent, DEFAULT_STORE_URI)
    return {"store": store, "collection": DEFAULT_COLLECTION}


def resolve(args: argparse.Namespace) -> dict[str, Setting]:
    """Every setting in effect for this command line, with its origin.

    Raises:
        ConfigurationError: The file is broken, or a value is out of range (naming the
            flag, or the file and the key, it came from).
    """
    found = find_file()
    from_file = file_settings(*found) if found else {}
    origin_file = str(found[0]) if found else ""
    defaults = _defaults(found)
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
        _check_range(key, settings[key])
    model, api = settings["model"], settings["api"]
    if api.value and model.origin != DEFAULT and api.origin != FLAG:
        if model.origin == api.origin:  # both in the file
            raise ConfigurationError(
                f"{origin_file}: api = true and model = {model.value!r} name two models; "
                "keep one of the keys"
            )
        settings["api"] = Setting(False, f"model from {model.origin}")  # a model named wins
    return settings


def _check_range(key: str, setting: Setting) -> None:
    """A number out of its range, named as the user set it: the flag, or the file and key."""
    if key not in _RANGES or setting.value is None:
        return
    lowest, highest = _RANGES[key]
    if lowest <= setting.value and (highest is None or setting.value <= highest):
        return
    if setting.origin == FLAG:
        where = _SHORT_FLAGS.get(key, f"--{key}")
    else:
        where = f"{setting.origin}: {key}"
    if highest is not None:  # chunk-tokens
        what = f"between {lowest} and {highest} (the model's context less the passage instruction)"
    else:
        what = "a positive integer" if lowest == 1 else f"an integer from {lowest}"
    raise ConfigurationError(f"{where} must be {what}, got {setting.value}")


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
