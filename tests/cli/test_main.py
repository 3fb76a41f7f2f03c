"""`jina-v3 embed`: JSON in, JSON out; through the installed console script where the entry
point is what is tested (stdout holds the JSON alone; exit statuses), else in-process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.cli.conftest import cli
from tests.conftest import TINY_MODEL, golden

SCRIPT = shutil.which("jina-v3") or str(Path(sys.executable).with_name("jina-v3"))


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`jina-v3 embed` as the console script."""
    return subprocess.run(
        [SCRIPT, "embed", "--model", str(TINY_MODEL), "--dtype", "float32", *args],
        input=stdin, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _embed(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`jina-v3 embed` in this process."""
    embed = ("embed", "--model", str(TINY_MODEL), "--dtype", "float32", *args)
    return cli(*embed, cwd=Path.cwd(), input=stdin)


def test_embed_from_stdin_matches_golden_at_full_precision():
    proc = _run("--task", "retrieval.query", "--dimensions", "16",
                stdin=json.dumps(golden("texts.json")))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = np.array(json.loads(proc.stdout))
    assert np.abs(out - np.array(golden("embed_retrieval.query_16.json"))).max() <= 1e-5


def test_embed_from_file_with_late_chunking_and_windows(tmp_path, tiny_embedder):
    path = tmp_path / "chunks.json"
    path.write_text(json.dumps(golden("chunks.json")))
    proc = _embed("--task", "retrieval.passage", "--late-chunking",
                  "--window-tokens", "32", "--window-overlap", "8", str(path))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    expected = golden("late_macro32-8_retrieval.passage_0.json")["embeddings"]
    assert np.abs(np.array(json.loads(proc.stdout)) - np.array(expected)).max() <= 1e-5


def test_float32_values_round_trip_exactly(tiny_embedder):
    proc = _embed(stdin=json.dumps(["Berlin."]))
    printed = np.array(json.loads(proc.stdout), dtype=np.float32)
    assert np.array_equal(printed, tiny_embedder.encode(["Berlin."]))


def test_errors_are_one_clear_line_and_exit_2():
    proc = _run("--task", "clustering", stdin='["x"]')
    assert proc.returncode == 2
    assert "UnknownTaskError" in proc.stderr and "separation" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = _run(stdin="not json")
    assert proc.returncode != 0 and "not JSON" in proc.stderr
