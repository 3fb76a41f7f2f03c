"""The README's quick start works on a clean copy of the repository exactly as written, and
its code blocks are valid Python."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language: str, text: str = README) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def _quick_start() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in _blocks("bash", section)]


def test_quick_start_has_exactly_the_two_commands():
    main_job, tests = _quick_start()[:2]
    assert "\n" not in main_job and "\n" not in tests
    assert "jina-v3 index examples/data" in main_job and "jina-v3 search" in main_job
    ci = (ROOT / ".ci" / "run").read_text()
    assert '-e ".[all,test]" && .venv/bin/python -m pytest' in tests
    assert "grep -m1 -F -- '-e \".[all,test]\" && .venv/bin/python -m pytest' README.md" in ci
    assert 'PYTEST_ADDOPTS="${PYTEST_ADDOPTS:-} --durations=25"' in ci  # where the time goes


def test_python_blocks_compile():
    for i, block in enumerate(_blocks("python")):
        compile(block, f"README.md python block {i}", "exec")


def _clean_copy(dest: Path) -> None:
    """The files a fresh clone has: tracked plus untracked-but-not-ignored (none built)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        source = ROOT / raw.decode()
        if source.is_file():
            target = dest / raw.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_main_job_command_runs_on_a_clean_copy(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout to make a clean copy")
    copy = tmp_path / "repo"
    _clean_copy(copy)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p
    )
    env["HF_HUB_OFFLINE"] = "1"
    done = subprocess.run(
        ["bash", "-c", _quick_start()[0]],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=1100,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"\d+ documents indexed", done.stdout + done.stderr)
    assert "score" in done.stdout and "source" in done.stdout  # the hits table
    assert (copy / ".jina-v3" / "documents.jina_v3.json").is_file()
