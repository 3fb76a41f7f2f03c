"""Remembered settings: the configuration file (found like ruff's, precedence flag > env >
file > default, unknown keys named), `info` showing each setting's origin, `index` adopting
an existing collection's signature, and `--version`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from jina_v3.cli.config import Setting, resolve
from jina_v3.errors import ConfigurationError
from tests.cli.conftest import clean_env, cli, error_line
from tests.conftest import TINY_MODEL


def _args(**flags) -> argparse.Namespace:
    return argparse.Namespace(**{k: None for k in ("store", "model", "dimensions", "k")} | flags)


# -- the file's paths, its errors, and what info says ------------------------------------------


def test_relative_paths_in_the_file_are_relative_to_its_folder(tmp_path, monkeypatch):
    tmp_path = tmp_path.resolve()  # the file is found by its resolved folder
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    (tmp_path / "jina-v3.toml").write_text('store = "milvus-lite:./index/docs.db"\n')
    (tmp_path / "src" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "src" / "deep")
    monkeypatch.delenv("JINA_V3_MODEL", raising=False)
    assert resolve(_args())["store"].value == f"milvus-lite:{tmp_path / 'index' / 'docs.db'}"
    # a file that sets no store: the default store is the project's too, wherever it runs
    (tmp_path / "jina-v3.toml").write_text('model = "models/tiny"\n')
    settings = resolve(_args())
    assert settings["store"] == Setting(f"qdrant-edge:{tmp_path / '.jina-v3'}", "default")
    assert settings["model"].value == str(tmp_path / "models" / "tiny")
    # a hub id is no path; a server, :memory: and an absolute path stay as written
    for model in ("jinaai/jina-embeddings-v3", "/abs/ckpt"):
        (tmp_path / "jina-v3.toml").write_text(f'model = "{model}"\n')
        assert resolve(_args())["model"].value == model
    for store in ("qdrant::memory:", "qdrant:http://h:6333", "pinecone:idx", "qdrant-edge:/abs"):
        (tmp_path / "jina-v3.toml").write_text(f'store = "{store}"\n')
        assert resolve(_args())["store"].value == store
    # a flag is relative to the working folder, as typed
    assert resolve(_args(store="qdrant:./here"))["store"].value == "qdrant:./here"


def test_a_number_out_of_range_is_blamed_on_where_it_was_set(tmp_path, monkeypatch):
    (tmp_path / "jina-v3.toml").write_text("k = 0\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError) as error:
        resolve(_args())
    assert str(error.value) == f"{tmp_path / 'jina-v3.toml'}: k must be a positive integer, got 0"
    with pytest.raises(ConfigurationError, match=r"^-k must be a positive integer, got 0$"):
        resolve(_args(k=0))
    (tmp_path / "jina-v3.toml").write_text("chunk_tokens = 9000\n")
    with pytest.raises(ConfigurationError, match=r"jina-v3.toml: chunk-tokens must be between 1"):
        resolve(_args())
    (tmp_path / "jina-v3.toml").write_text("chunk-overlap = -1\n")
    with pytest.raises(ConfigurationError, match=r"chunk-overlap must be an integer from 0"):
        resolve(_args())


def test_a_pyproject_toml_that_is_not_ours_never_breaks_a_command(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for text in ("tool = 3\n", "[tool\nbroken", b"\xff\xfe not utf-8", "[tool.ruff]\nx = [\n"):
        path = tmp_path / "pyproject.toml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        assert resolve(_args())["k"] == Setting(5, "default"), text
    # one that cannot be read at all (as root, permissions do not stop reads)
    (tmp_path / "pyproject.toml").write_text("[tool.jina-v3]\nk = 9\n")
    monkeypatch.setattr(Path, "read_bytes", lambda self: (_ for _ in ()).throw(PermissionError()))
    assert resolve(_args())["k"] == Setting(5, "default")
    monkeypatch.undo()
    monkeypatch.chdir(work)
    # a broken one that names our table is an error naming the file; so is a table that is not
    (tmp_path / "pyproject.toml").write_text("[tool.jina-v3]\nk = \n")
    with pytest.raises(ConfigurationError, match=r"pyproject.toml is not valid TOML"):
        resolve(_args())
    (tmp_path / "pyproject.toml").write_text('[tool]\n"jina-v3" = 3\n')
    with pytest.raises(ConfigurationError, match=r"pyproject.toml: tool.jina-v3 must be a table"):
        resolve(_args())


def test_hybrid_is_a_setting_and_api_is_from_the_file_only_when_the_file_sets_it(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JINA_V3_MODEL", raising=False)
    (tmp_path / "jina-v3.toml").write_text('hybrid = true\nmodel = "some/model"\n')
    settings = resolve(_args())
    file = str(tmp_path / "jina-v3.toml")
    assert settings["hybrid"] == Setting(True, file)
    assert resolve(_args(hybrid=False))["hybrid"] == Setting(False, "flag")  # --no-hybrid
    assert settings["api"] == Setting(False, "default")  # the file does not set it
    (tmp_path / "jina-v3.toml").write_text("api = true\n")
    assert resolve(_args())["api"] == Setting(True, file)
    monkeypatch.setenv("JINA_V3_MODEL", "from-env")  # a model named above the file wins
    assert resolve(_args())["api"] == Setting(False, "model from env JINA_V3_MODEL")
    monkeypatch.delenv("JINA_V3_MODEL")
    (tmp_path / "jina-v3.toml").write_text('api = true\nmodel = "some/model"\n')
    with pytest.raises(ConfigurationError, match=r"jina-v3\.toml: api = true and model = "):
        resolve(_args())


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


# -- end to end: a project's settings from any subfolder, and --recreate -----------------------


def test_a_project_is_one_store_from_every_subfolder(tmp_path):
    project = tmp_path.resolve() / "proj"
    (project / "docs").mkdir(parents=True)
    (project / "src" / "pkg").mkdir(parents=True)
    (project / "docs" / "a.md").write_text("# Alpha\n\nAlpha is the first letter.\n")
    (project / "jina-v3.toml").write_text(
        f'store = "qdrant-edge:./.index"\nmodel = "{TINY_MODEL}"\nhybrid = true\n'
    )
    (tmp_path / "pyproject.toml").write_text("[tool\nbroken")  # another tool's, above it all
    env = clean_env()  # the model comes from the file
    index = cli("index", "../../docs", cwd=project / "src" / "pkg", env=env)
    assert index.returncode == 0 and "1 documents indexed" in index.stdout, index.stderr
    info = json.loads(cli("info", "--json", cwd=project / "docs", env=env).stdout)
    assert info["store"] == f"qdrant-edge:{project / '.index'}"
    (row,) = info["collections"]
    assert row["points"] == 1 and row["signature"]["keywords"]  # hybrid, from the file
    assert info["settings"]["api"] == {"value": False, "origin": "default"}
    assert not (project / "src" / "pkg" / ".index").exists()
    found = cli("search", "Alpha", "--json", cwd=project / "src", env=env)
    assert found.returncode == 0, found.stderr
    assert [h["source"] for h in json.loads(found.stdout)] == ["docs/a.md"]
    # a value out of range is blamed on the file and its key, not on a flag
    (project / "jina-v3.toml").write_text('store = "qdrant-edge:./.index"\nk = 0\n')
    line = error_line(cli("search", "Alpha", cwd=project / "src", env=env))
    assert f"{project / 'jina-v3.toml'}: k must be a positive integer, got 0" in line
    assert "-k must" not in line


def test_recreate_takes_the_settings_given_and_says_what_changed(tmp_path):
    (tmp_path / "a.md").write_text("# Berlin\n\nBerlin is the capital of Germany.\n")
    store = f"qdrant-edge:{tmp_path / 'e'}"

    def signature():
        (row,) = json.loads(cli("info", "--store", store, "--json", cwd=tmp_path).stdout)[
            "collections"
        ]
        return row["signature"]

    first = cli("index", "a.md", "--store", store, "--dimensions", "32", "--late-chunking",
                cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    again = cli("index", "a.md", "--store", store, "--recreate", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    said = "recreated collection 'documents': dimensions 32 -> 64, late_chunking True -> False"
    assert said in again.stdout.splitlines()
    assert (signature()["dimensions"], signature()["late_chunking"]) == (64, False)
    (tmp_path / "jina-v3.toml").write_text(f'store = "{store}"\ndimensions = 16\n')
    third = cli("index", "a.md", "--recreate", cwd=tmp_path)
    assert "recreated collection 'documents': dimensions 64 -> 16" in third.stdout, third.stderr
    assert signature()["dimensions"] == 16
