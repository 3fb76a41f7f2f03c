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
