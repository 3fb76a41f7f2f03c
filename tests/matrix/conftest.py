"""The fixture of the cross-feature matrix: the working folder with the corpus, the store
folders on tmpfs, and the cells built there (:mod:`._cells`)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.connectors import _milvus_pinecone as servers
from tests.matrix._cells import Matrix
from tests.matrix._kinds import Context, write_corpus


@pytest.fixture(scope="session")
def matrix(tiny_embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    import torch

    # the tiny model is too small for threads to help; on a busy machine they spin
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    work = tmp_path_factory.mktemp("matrix")
    corpus = write_corpus(work / "corpus")
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):  # Qdrant local mode is slow on disk
        root = Path(tempfile.mkdtemp(prefix=f"jv3-matrix-{uuid.uuid4().hex[:8]}-", dir=shm))
    else:
        root = work / "stores"
        root.mkdir()
    yield Matrix(Context(tiny_embedder, work, root), corpus)
    shutil.rmtree(root, ignore_errors=True)
    servers.cleanup()
    torch.set_num_threads(threads)
