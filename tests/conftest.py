"""Shared fixtures: the tiny checkpoint (official layout) and its golden outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
TINY_MODEL = FIXTURES / "tiny-v3"
GOLDEN = FIXTURES / "golden"


def golden(name: str):
    return json.loads((GOLDEN / name).read_text())


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch):
    """No test sees the developer's keys or endpoints."""
    for name in ("JINA_API_KEY", "JINAAI_API_KEY", "JINA_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def tiny_model_path() -> Path:
    return TINY_MODEL


@pytest.fixture(scope="session")
def tiny_embedder():
    """A float32 local embedder on the tiny checkpoint, shared by the whole session."""
    pytest.importorskip("torch")
    from jina_v3 import Embedder

    return Embedder(str(TINY_MODEL), dtype="float32")


def published_copy(folder: Path) -> Path:
    """The tiny checkpoint with a config naming ``jinaai/jina-embeddings-v3``, as a local copy
    of Jina's published weights has: what the licence note is printed for."""
    import shutil

    target = folder / "published-v3"
    shutil.copytree(TINY_MODEL, target)
    config = json.loads((target / "config.json").read_text())
    config["_name_or_path"] = "jinaai/jina-embeddings-v3"
    (target / "config.json").write_text(json.dumps(config))
    return target
