"""`jina-v3 index --ray`: the same index as the single-machine run (a local Ray instance on
127.0.0.1, started by the command)."""

from __future__ import annotations

import pytest

from tests.cli.conftest import cli

pytestmark = pytest.mark.ray


def test_index_on_ray_then_a_plain_run_finds_everything_unchanged(fast_dir, tmp_path):
    pytest.importorskip("ray")
    pytest.importorskip("qdrant_edge")
    (tmp_path / "docs").mkdir()
    for i in range(6):
        (tmp_path / "docs" / f"d{i}.md").write_text(f"# Doc {i}\n\nParagraph {i} about item {i}.")
    uri = f"qdrant-edge:{fast_dir / 'ray-cli'}"
    on_ray = cli("index", "docs", "--store", uri, "--ray", "--actors", "1", "--quiet", cwd=tmp_path)
    assert on_ray.returncode == 0, on_ray.stderr[-2000:]
    assert "6 documents indexed" in on_ray.stdout
    plain = cli("index", "docs", "--store", uri, "--quiet", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert "0 documents indexed, 6 skipped unchanged" in plain.stdout
