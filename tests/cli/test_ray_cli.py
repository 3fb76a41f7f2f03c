"""`jina-v3 index --ray`: the same index as the single-machine run (a local Ray instance on
127.0.0.1, started by the command: each run is a process of its own, whose environment the
instance's workers inherit)."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.cli.conftest import clean_env, cli
from tests.conftest import published_copy

pytestmark = [pytest.mark.ray, pytest.mark.slow]  # a Ray instance per run


def test_index_on_ray_then_a_plain_run_finds_everything_unchanged(fast_dir, tmp_path):
    pytest.importorskip("ray")
    pytest.importorskip("qdrant_edge")
    (tmp_path / "docs").mkdir()
    (tmp_path / ".git").mkdir()  # a project: ids relative to its root, on Ray as everywhere
    for i in range(6):
        (tmp_path / "docs" / f"d{i}.md").write_text(f"# Doc {i}\n\nParagraph {i} about item {i}.")
    uri = f"qdrant-edge:{fast_dir / 'ray-cli'}"
    ray = ("--ray", "--actors", "1", "--quiet")
    on_ray = cli("index", "docs", "--store", uri, *ray, cwd=tmp_path, process=True)
    assert on_ray.returncode == 0, on_ray.stderr[-2000:]
    assert "6 documents indexed" in on_ray.stdout
    plain = cli("index", ".", "--store", uri, "--quiet", cwd=tmp_path / "docs")
    assert plain.returncode == 0, plain.stderr
    assert "0 documents indexed, 6 skipped unchanged" in plain.stdout
    found = cli("search", "item", "--store", uri, "--json", "-k", "6", cwd=tmp_path)
    hits = json.loads(found.stdout)
    assert sorted(h["source"] for h in hits) == [f"docs/d{i}.md" for i in range(6)]


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
        run = cli(*args, cwd=tmp_path, env=env, process=True)
    assert run.returncode == 2, run.stderr[-2000:]
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("jina-v3 index: AuthenticationError: "), run.stderr[-2000:]
    assert "RayTaskError" not in run.stderr and "Traceback" not in run.stderr
    assert "\x1b[" not in run.stderr and wrong not in run.stdout + run.stderr


def test_ray_skips_a_name_that_is_not_utf8_and_prunes_removed_jsonl_lines(fast_dir, tmp_path):
    pytest.importorskip("ray")
    pytest.importorskip("qdrant_edge")
    (tmp_path / "kb").mkdir()
    kb = tmp_path / "kb" / "kb.jsonl"
    kb.write_text("".join(f'{{"id": "k{i}", "text": "Line {i}."}}\n' for i in range(3)))
    with open(os.path.join(os.fsencode(tmp_path / "kb"), b"caf\xe9.md"), "wb") as handle:
        handle.write(b"A file whose name is Latin-1.")
    uri = f"qdrant-edge:{fast_dir / 'ray-prune'}"
    ray = ("--store", uri, "--ray", "--actors", "1")
    first = cli("index", "kb", *ray, cwd=tmp_path, process=True)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "3 documents indexed, 0 skipped unchanged, 0 replaced, 1 failed" in first.stdout
    warning = "jina-v3 index: warning: skipped kb/caf\\xe9.md: its name is not valid UTF-8"
    assert warning in first.stderr
    kb.write_text('{"id": "k0", "text": "Line 0."}\n{"id": "k2", "text": "Line 2."}\n')
    pruned = cli("index", "kb", *ray, "--prune", "--quiet", cwd=tmp_path, process=True)
    assert pruned.returncode == 0, pruned.stderr[-2000:]
    assert "2 skipped unchanged" in pruned.stdout and "pruned 1 chunks" in pruned.stdout
    found = cli("search", "Line", "--store", uri, "--json", "-k", "10", cwd=tmp_path)
    assert sorted(h["document_id"] for h in json.loads(found.stdout)) == ["k0", "k2"]


def test_on_ray_it_prints_what_the_single_process_run_prints(fast_dir, tmp_path):
    # Jina's weights by their config, so every actor (and the signature task) logs the
    # licence note: the driver prints it once, as the single-process run does
    pytest.importorskip("ray")
    pytest.importorskip("qdrant_edge")
    (tmp_path / "docs").mkdir()
    for i in range(6):
        (tmp_path / "docs" / f"d{i}.md").write_text(f"# Doc {i}\n\nParagraph {i} about item {i}.")
    env = clean_env(JINA_V3_MODEL=str(published_copy(tmp_path)))
    store = ("--store", f"qdrant-edge:{fast_dir / 'ray-messages'}")
    # a process: Ray's C++ workers write to file descriptor 2, which only a process shows
    on_ray = cli(
        "index", "docs", *store, "--ray", "--actors", "2", cwd=tmp_path, env=env, process=True
    )
    assert on_ray.returncode == 0, on_ray.stderr[-2000:]
    assert "6 documents indexed" in on_ray.stdout
    err = on_ray.stderr
    assert "core_worker" not in err and "\x1b[" not in err and "pid=" not in err, err
    assert "Warning" not in err and "Ray instance" not in err, err  # operator, Ray's INFO
    assert err.count("CC BY-NC 4.0") == 1, err

    def ours(stderr: str) -> list[str]:  # without progress lines (they depend on timing)
        progress = re.compile(r"^(on Ray: .*|\d+ docs, .*)$")
        return [ln for ln in stderr.splitlines() if not progress.match(ln)]

    assert re.search(r"^on Ray: a local instance on 127\.0\.0\.1 .*2 embedding actors$", err, re.M)
    plain_store = ("--store", f"qdrant-edge:{fast_dir / 'plain-messages'}")
    plain = cli("index", "docs", *plain_store, cwd=tmp_path, env=env)
    assert plain.returncode == 0, plain.stderr
    assert (
        ours(err)
        == ours(plain.stderr)
        == [ln for ln in err.splitlines() if ln.startswith("jina-v3 index: note: ")]
    )
