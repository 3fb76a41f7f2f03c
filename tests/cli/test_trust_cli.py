"""Trust regressions of `jina-v3` as a subprocess: store URIs that look like servers, and a
store held by another process, are each one line naming the fix (no traceback, exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import cli, error_line


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Alpha\n\nThe first document.", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("uri", "fix"),
    [
        ("qdrant:localhost:6333", "qdrant:http://localhost:6333"),
        ("qdrant://localhost:6333", "qdrant:http://localhost:6333"),
        ("milvus://localhost:19530", "milvus:http://localhost:19530"),
    ],
)
def test_a_store_uri_that_looks_like_a_server_writes_nothing(work, uri, fix):
    proc = cli("index", "docs", "--store", uri, cwd=work)
    line = error_line(proc)
    assert proc.returncode == 2 and "ConfigurationError" in line and fix in line, line
    assert sorted(p.name for p in work.iterdir()) == ["docs"]
    assert not Path("/localhost:6333").exists()


@pytest.fixture
def held(work: Path, request: pytest.FixtureRequest):
    """A store URI whose store another process holds (after one `jina-v3 index` into it)."""
    from tests._servers import hold_store
    from tests.cli.conftest import store_uri

    pytest.importorskip({"qdrant-edge": "qdrant_edge", "milvus-lite": "milvus_lite",
                         "qdrant": "qdrant_client"}[request.param])  # fmt: skip
    uri = store_uri(request.param, work / "stores")
    assert cli("index", "docs", "--store", uri, cwd=work).returncode == 0
    with hold_store(uri, "documents", cwd=work):
        yield uri


@pytest.mark.parametrize("held", ["qdrant-edge", "milvus-lite", "qdrant"], indirect=True)
def test_a_store_held_by_another_process_is_one_line(work, held):
    for args in (("search", "x"), ("info",), ("index", "docs")):
        proc = cli(*args, "--store", held, cwd=work)
        line = error_line(proc)
        assert proc.returncode == 2 and "StoreInUseError" in line, line
        assert "in use by another process (a running `jina-v3 index`?)" in line


def test_a_db_that_is_not_a_milvus_lite_store_is_one_line(work):
    pytest.importorskip("milvus_lite")
    (work / "notes.db").write_text("not a database", encoding="utf-8")
    proc = cli("index", "docs", "--store", "milvus-lite:./notes.db", cwd=work)
    line = error_line(proc)
    assert proc.returncode == 2 and "is not a Milvus Lite store" in line, line
    assert (work / "notes.db").read_text(encoding="utf-8") == "not a database"
