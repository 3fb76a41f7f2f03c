"""The framework examples run as written (with the tiny checkpoint, offline)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.conftest import run_script
from tests.conftest import TINY_MODEL

ROOT = Path(__file__).parent.parent.parent


@pytest.mark.parametrize(
    ("script", "needs", "expect"),
    [
        ("haystack_pipeline.py", "haystack", "indexed 38 splits of 20 documents"),
        ("llama_index_query.py", "llama_index.core", "query engine (topic = geography)"),
        ("langchain_rag.py", "langchain_core", "indexed 51 chunks of 20 documents"),
    ],
)
def test_example_runs(script, needs, expect):
    pytest.importorskip(needs)
    pytest.importorskip("torch")
    script = ROOT / "examples" / script
    result = run_script(script, "--model", str(TINY_MODEL), cwd=ROOT, env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-2000:]
    assert expect in result.stdout
