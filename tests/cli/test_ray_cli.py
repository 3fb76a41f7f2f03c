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


def test_a_library_error_on_ray_is_one_line_and_exit_2(fast_dir, tmp_path, tiny_embedder):
    pytest.importorskip("ray")
    pytest.importorskip("qdrant_edge")
    pytest.importorskip("uvicorn")
    from jina_v3.server import create_app
    from tests._servers import ServerThread
    from tests.cli.conftest import clean_env

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "d.md").write_text("# Doc\n\nA paragraph about Berlin.")
    wrong = "jina_wrong_key_for_the_ray_cli_test"
    with ServerThread(create_app(tiny_embedder, api_key="the-right-key")) as server:
        env = clean_env(JINA_API_KEY=wrong, JINA_API_BASE_URL=server.url)
        uri = f"qdrant-edge:{fast_dir / 'ray-cli-auth'}"
        args = ("index", "docs", "--store", uri, "--ray", "--actors", "1", "--api", "--quiet")
        run = cli(*args, cwd=tmp_path, env=env)
    assert run.returncode == 2, run.stderr[-2000:]
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("jina-v3 index: AuthenticationError: "), run.stderr[-2000:]
    assert "RayTaskError" not in run.stderr and "Traceback" not in run.stderr
    assert "\x1b[" not in run.stderr and wrong not in run.stdout + run.stderr
