"""Remembered settings: the configuration file (found like ruff's, precedence flag > env >
file > default, unknown keys named), `info` showing each setting's origin, `index` adopting
an existing collection's signature, and `--version`."""

from __future__ import annotations

import argparse
import json

import pytest

from jina_v3.cli.config import resolve
from jina_v3.errors import ConfigurationError
from tests.cli.conftest import clean_env, cli, error_line
from tests.conftest import TINY_MODEL


def _args(**flags) -> argparse.Namespace:
    return argparse.Namespace(**{k: None for k in ("store", "model", "dimensions", "k")} | flags)


def test_precedence_is_flag_then_env_then_file_then_default(tmp_path, monkeypatch):
    (tmp_path / "jina-v3.toml").write_text('model = "from-file"\ndimensions = 128\nk = 7\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JINA_V3_MODEL", raising=False)
    settings = resolve(_args(k=3))
    assert (settings["k"].value, settings["k"].origin) == (3, "flag")
    assert (settings["model"].value, settings["model"].origin) == (
        "from-file",
        str(tmp_path / "jina-v3.toml"),
    )
    assert settings["dimensions"].value == 128
    assert (settings["collection"].value, settings["collection"].origin) == ("documents", "default")
    monkeypatch.setenv("JINA_V3_MODEL", "from-env")
    settings = resolve(_args())
    assert (settings["model"].value, settings["model"].origin) == ("from-env", "env JINA_V3_MODEL")
    assert resolve(_args(model="from-flag"))["model"].value == "from-flag"


def test_pyproject_table_found_walking_up_and_the_nearest_folder_wins(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.jina-v3]\nchunk_tokens = 99\nglob = "*.md"\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (tmp_path / "a" / "pyproject.toml").write_text('[project]\nname = "x"\n')  # no table: passed
    monkeypatch.chdir(deep)
    settings = resolve(_args())
    assert settings["chunk-tokens"].value == 99 and settings["glob"].value == "*.md"
    assert settings["chunk-tokens"].origin == str(tmp_path / "pyproject.toml")
    (tmp_path / "a" / "jina-v3.toml").write_text("chunk-tokens = 12\n")
    assert resolve(_args())["chunk-tokens"].value == 12  # nearer, and no glob: files don't merge
    assert resolve(_args())["glob"].value is None


def test_a_wrongly_typed_value_is_refused_naming_the_key(tmp_path, monkeypatch):
    (tmp_path / "jina-v3.toml").write_text('dimensions = "256"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="dimensions must be an integer"):
        resolve(_args())
    (tmp_path / "jina-v3.toml").write_text("late-chunking = 1\n")
    with pytest.raises(ConfigurationError, match="late-chunking must be true or false"):
        resolve(_args())


def test_an_unknown_key_is_one_line_naming_the_nearest(tmp_path):
    (tmp_path / "jina-v3.toml").write_text("dimension = 256\n")
    proc = cli("info", "--store", f"qdrant-edge:{tmp_path / 'e'}", cwd=tmp_path)
    assert proc.returncode == 2
    line = error_line(proc)
    assert "unknown setting 'dimension'" in line and "did you mean 'dimensions'?" in line
    (tmp_path / "jina-v3.toml").write_text("dimensions = [\n")
    assert "is not valid TOML" in error_line(cli("info", cwd=tmp_path))


def test_info_shows_each_setting_and_where_it_came_from(tmp_path):
    store = f"qdrant-edge:{tmp_path / 'e'}"
    (tmp_path / "jina-v3.toml").write_text(f'store = "{store}"\nchunk-tokens = 48\n')
    env = clean_env(JINA_V3_MODEL=str(TINY_MODEL))
    proc = cli("info", "--json", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    settings = json.loads(proc.stdout)["settings"]
    file = str(tmp_path / "jina-v3.toml")
    assert settings["store"] == {"value": store, "origin": file}
    assert settings["chunk-tokens"] == {"value": 48, "origin": file}
    assert settings["model"] == {"value": str(TINY_MODEL), "origin": "env JINA_V3_MODEL"}
    assert settings["k"] == {"value": 5, "origin": "default"}
    table = cli("info", cwd=tmp_path, env=env).stdout
    assert f"store {store}" in table
    row = next(ln for ln in table.splitlines() if ln.split()[:1] == ["chunk-tokens"])
    assert row.split() == ["chunk-tokens", "48", file]


def test_index_adopts_the_collection_signature_and_refuses_a_differing_flag(tmp_path):
    (tmp_path / "a.md").write_text("# Berlin\n\nBerlin is the capital of Germany.\n")
    (tmp_path / "b.md").write_text("# Paris\n\nParis is the capital of France.\n")
    store = f"qdrant-edge:{tmp_path / 'e'}"
    first = cli("index", "a.md", "--store", store, "--dimensions", "32", "--late-chunking",
                cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    (tmp_path / "jina-v3.toml").write_text(f'store = "{store}"\n')  # and no other setting
    again = cli("index", "b.md", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "1 documents indexed" in again.stdout
    info = json.loads(cli("info", "--json", cwd=tmp_path).stdout)
    (row,) = info["collections"]
    assert row["points"] == 2
    assert row["signature"]["dimensions"] == 32 and row["signature"]["late_chunking"] is True
    refused = cli("index", "b.md", "--dimensions", "16", cwd=tmp_path)
    assert refused.returncode == 2
    assert "--dimensions 32" in error_line(refused)
    off = cli("index", "b.md", "--no-late-chunking", cwd=tmp_path)
    line = error_line(off)
    assert "late_chunking" in line and "--recreate" in line


def test_version_and_verbose_version(tmp_path):
    from jina_v3 import __version__

    proc = cli("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == f"jina-v3 {__version__}\n"
    verbose = cli("--version", "--verbose", cwd=tmp_path).stdout.splitlines()
    assert verbose[0] == f"jina-v3 {__version__}" and verbose[1].startswith("python 3.")
    import numpy

    assert f"numpy {numpy.__version__}" in verbose
