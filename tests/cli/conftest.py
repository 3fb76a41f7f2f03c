"""Helpers for the CLI's end-to-end tests: the CLI with a clean environment (in this process,
as a fresh one would see it, or in a subprocess where the process is what is tested), stores
on tmpfs where there is one, and a store's exact contents read back in-process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import TINY_MODEL

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data"
CHUNK_TOKENS = 64  # every index run in these tests: small enough for several chunks a file
_SCRUB = ("JINA_API_KEY", "JINAAI_API_KEY", "JINA_API_BASE_URL", "JINA_V3_MODEL")


#: The embedded stores the CLI tests run on (each skipped without its package).
STORES = [
    pytest.param("qdrant-edge", marks=pytest.mark.skipif(
        not __import__("importlib").util.find_spec("qdrant_edge"), reason="qdrant-edge-py")),
    pytest.param("milvus-lite", marks=pytest.mark.skipif(
        not __import__("importlib").util.find_spec("milvus_lite"), reason="milvus-lite")),
    pytest.param("qdrant", marks=pytest.mark.skipif(
        not __import__("importlib").util.find_spec("qdrant_client"), reason="qdrant-client")),
]  # fmt: skip


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the developer's keys and model, offline, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update({"HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **extra})
    return env


def cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 180,
    process: bool = False,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`jina-v3 ARGS` with the tiny checkpoint as $JINA_V3_MODEL (`env` replaces the whole
    environment), its exit status, stdout and stderr as text.

    In this process by default (tests/cli/_in_process.py: what a fresh process would see,
    restored afterwards; pytest-timeout bounds it). ``process=True`` runs
    ``python -m jina_v3.cli`` in a subprocess: for what only a process shows (signals, a
    variable read at start-up such as PYTHONPATH or HF_HOME, a Ray instance the command
    starts with the environment it was given)."""
    env = env if env is not None else clean_env(JINA_V3_MODEL=str(TINY_MODEL))
    if not process:
        from tests.cli._in_process import run_in_process

        return run_in_process(args, cwd=cwd, env=env, input=input)
    return subprocess.run(
        [sys.executable, "-m", "jina_v3.cli", *args],
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_script(
    script: Path,
    *args: str,
    cwd: Path,
    env: dict[str, str],
    timeout: float = 240,
    process: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`python SCRIPT ARGS` (an example as a user runs it): in this process as `cli()` runs
    the CLI, or with ``process=True`` in a subprocess."""
    if not process:
        from tests.cli._in_process import run_script_in_process

        return run_script_in_process(script, args, cwd=cwd, env=env)
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a failed run (library notes, like the licence, are allowed)."""
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and ": note: " not in ln]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def fast_dir(tmp_path_factory):
    """A folder on tmpfs (/dev/shm) when there is one, else under tmp_path."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        path = Path(tempfile.mkdtemp(prefix="jv3-cli-", dir=shm))
        yield path
        shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("stores")


def store_uri(kind: str, folder: Path) -> str:
    return {
        "qdrant-edge": f"qdrant-edge:{folder / 'edge'}",
        "milvus-lite": f"milvus-lite:{folder / 'milvus.db'}",
        "qdrant": f"qdrant:{folder / 'qdrant'}",
    }[kind]


def expected_points(root: Path, embedder) -> dict[str, tuple[str, int, str]]:
    """point id -> (document id, chunk index, text) that indexing `root` must store."""
    from jina_v3.chunking import TextChunker
    from jina_v3.sources import read_corpus
    from jina_v3.store import Document, point_id

    chunker = TextChunker.for_embedder(embedder, CHUNK_TOKENS)
    out = {}
    for doc in read_corpus([root]):
        if isinstance(doc, Document):
            chunks = [c for c in chunker(doc.text) if c.strip()] or [doc.text]
            for j, chunk in enumerate(chunks):
                out[point_id(doc.id, j)] = (doc.id, j, chunk)
    return out


def _load(store) -> None:
    # Milvus answers fetch/query only on a loaded collection; ensure_collection loads it
    signature = store.read_signature()
    assert signature is not None, "no collection"
    store.ensure_collection(signature)


def dump(uri: str, ids, collection: str = "documents") -> dict[str, tuple]:
    """point id -> (document id, chunk index, text, metadata) of the points among `ids`; the
    store holds no other point."""
    from jina_v3.connectors.uris import open_store

    with open_store(uri, collection) as store:
        _load(store)
        hits = store.fetch(sorted(ids))
        count = store.count()
    found = {h.id: (h.document_id, h.chunk_index, h.text, dict(h.metadata)) for h in hits}
    assert count == len(found), f"{count} points stored, {len(found)} of them expected"
    return found


def vectors(uri: str, dimensions: int, collection: str = "documents") -> dict[str, list[float]]:
    """Every stored vector, read through the public query API: the score of each point for
    the unit query e_i is its i-th coordinate (cosine of unit vectors)."""
    import numpy as np

    from jina_v3.connectors.uris import open_store

    with open_store(uri, collection) as store:
        _load(store)
        count = store.count()
        out: dict[str, list[float]] = {}
        for i in range(dimensions):
            probe = np.zeros(dimensions, dtype=np.float32)
            probe[i] = 1.0
            hits = store.query(probe, k=count)
            assert len(hits) == count
            for hit in hits:
                out.setdefault(hit.id, [0.0] * dimensions)[i] = hit.score
    return out
