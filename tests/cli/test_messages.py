"""What the commands print beside their results: the weights' licence note, for Jina's
published weights only, once per command, on stderr."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli.conftest import clean_env, cli
from tests.conftest import TINY_MODEL, published_copy

pytest.importorskip("torch")

LICENCE = "CC BY-NC 4.0"


def test_embed_prints_the_licence_note_for_jinas_weights_only_and_never_on_stdout(tmp_path):
    texts = json.dumps(["Berlin.", "Paris."])
    for model, notes in ((TINY_MODEL, 0), (published_copy(tmp_path), 1)):
        proc = subprocess.run(
            [sys.executable, "-m", "jina_v3.cli", "embed", "--model", str(model)],
            input=texts, capture_output=True, text=True, timeout=120, check=False,
            env=clean_env(),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert len(json.loads(proc.stdout)) == 2  # stdout is the JSON alone
        assert proc.stderr.count(LICENCE) == notes, (model, proc.stderr)


def test_index_and_search_print_it_once_each_for_jinas_weights(tmp_path, fast_dir):
    pytest.importorskip("qdrant_edge")
    (tmp_path / "docs").mkdir()
    for i in range(3):
        (tmp_path / "docs" / f"d{i}.md").write_text(f"# Doc {i}\n\nParagraph {i} about item {i}.")
    published = published_copy(tmp_path)
    for model, notes in ((TINY_MODEL, 0), (published, 1)):
        env = clean_env(JINA_V3_MODEL=str(model))
        uri = f"qdrant-edge:{fast_dir / f'licence-{notes}'}"
        for args in (("index", "docs"), ("search", "item 2")):
            proc = cli(*args, "--store", uri, cwd=tmp_path, env=env)
            assert proc.returncode == 0, proc.stderr
            assert LICENCE not in proc.stdout
            lines = [ln for ln in proc.stderr.splitlines() if LICENCE in ln]
            assert len(lines) == notes, (model, args, proc.stderr)
            assert all(ln.startswith(f"jina-v3 {args[0]}: note: ") for ln in lines)
