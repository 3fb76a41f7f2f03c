"""`jina-v3 index` stopped by SIGINT, then by SIGTERM, and resumed: the final index is the one
an uninterrupted run builds (same points, texts and metadata; vectors within 1e-5)."""

from __future__ import annotations

import json
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from tests.cli.conftest import clean_env, cli, dump
from tests.conftest import published_copy

pytest.importorskip("torch")
pytest.importorskip("qdrant_edge")

pytestmark = pytest.mark.slow  # signals need a process of their own, on a 600-document corpus

WORDS = "river city bread coffee train mountain sea tide volcano market bridge tram".split()
DOCS = 600


def _corpus(folder):
    rng = random.Random(7)
    folder.mkdir()
    with open(folder / "big.jsonl", "w", encoding="utf-8") as out:
        for i in range(DOCS):
            text = " ".join(rng.choice(WORDS) for _ in range(40))
            out.write(json.dumps({"id": f"d{i:03d}", "text": text, "n": i}) + "\n")
    (folder / "guide.md").write_text("# Guide\n\n" + "Some words here. " * 60, encoding="utf-8")


def _args(uri, batch_size=64):
    # the stopped runs write one point per batch: many batches, a wide window for the signal
    # (the batch size is no part of the content hash, so the resumed runs skip their work)
    return ["index", "corpus", "--store", uri, "--batch-size", str(batch_size),
            "--dtype", "float32", "--chunk-tokens", "256"]  # fmt: skip


def _interrupted(args, cwd, env, signum, again=False):
    """Run `args`, send `signum` once the model has loaded and ingestion is under way (and
    `again`: a second SIGINT as soon as the first is acknowledged)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "jina_v3.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stderr], daemon=True)
    reader.start()
    deadline = time.monotonic() + 90
    while True:  # the licence note (Jina's weights, by their config) comes as they load
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if ": note: " in line:
            break
    time.sleep(0.5)
    proc.send_signal(signum)
    while again:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if "stopping after the batch in flight" in line:
            lines.put(line)
            proc.send_signal(signal.SIGINT)
            break
    stdout = proc.stdout.read()
    rc = proc.wait(timeout=120)
    reader.join(5)
    return rc, stdout, "".join(lines.queue)


def _all_ids(corpus):
    from jina_v3.sources import identity
    from jina_v3.store import point_id

    docs = [f"d{i:03d}" for i in range(DOCS)] + [identity(corpus / "guide.md")]
    return {point_id(d, j) for d in docs for j in range(20)}


def _vectors(uri, ids):
    """Every stored vector, through the public query API: the score of a point for the unit
    query e_i is its i-th coordinate."""
    from jina_v3.connectors.uris import open_store

    with open_store(uri, "documents") as store:
        dims = store.read_signature().dimensions
        count = store.count()
        out = {i: np.zeros(dims) for i in ids}
        for axis in range(dims):
            probe = np.zeros(dims, dtype=np.float32)
            probe[axis] = 1.0
            for hit in store.query(probe, k=count):
                out[hit.id][axis] = hit.score
    return out


@pytest.fixture(scope="module")
def corpus(fast_dir, tmp_path_factory):
    """The corpus, and the index an uninterrupted run builds of it."""
    work = tmp_path_factory.mktemp("interrupt")
    _corpus(work / "corpus")
    # the tiny checkpoint named as Jina's weights: its licence note says they have loaded
    env = clean_env(JINA_V3_MODEL=str(published_copy(work)))
    reference = f"qdrant-edge:{fast_dir / 'uninterrupted'}"
    full = cli(*_args(reference), cwd=work, env=env)
    assert full.returncode == 0, full.stderr
    expected = dump(reference, _all_ids(work / "corpus"))
    return SimpleNamespace(work=work, env=env, reference=reference, expected=expected)


def test_sigint_and_sigterm_stop_cleanly_and_the_next_run_continues(fast_dir, corpus):
    tmp_path, reference, expected = corpus.work, corpus.reference, corpus.expected
    resumed = f"qdrant-edge:{fast_dir / 'interrupted'}"

    counts = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        rc, stdout, stderr = _interrupted(_args(resumed, 1), tmp_path, corpus.env, signum)
        assert rc == 130, (stdout, stderr)
        assert "(interrupted: re-run to continue)" in stdout and "Traceback" not in stderr
        assert "stopping after the batch in flight" in stderr
        stored = dump(
            resumed, _all_ids(tmp_path / "corpus")
        )  # consistent: only whole, known points
        assert all(expected[k] == v for k, v in stored.items())
        counts.append(len(stored))
    print("points after each stop:", counts, "of", len(expected))
    assert counts[0] <= counts[1] < len(expected), counts  # stopped early, then progressed

    last = cli(*_args(resumed), cwd=tmp_path, env=corpus.env)
    assert last.returncode == 0, last.stderr
    summary = re.search(r"(\d+) documents indexed, (\d+) skipped", last.stdout)
    indexed, unchanged = int(summary[1]), int(summary[2])
    assert indexed + unchanged == DOCS + 1 and ", 0 replaced" in last.stdout
    assert (unchanged > 0) == (counts[1] > 0)  # what the stopped runs wrote is not redone
    assert dump(resumed, _all_ids(tmp_path / "corpus")) == expected
    ours, theirs = _vectors(resumed, expected), _vectors(reference, expected)
    # other batch compositions: float32 GEMMs of other shapes round differently (~1e-6)
    assert max(np.abs(ours[k] - theirs[k]).max() for k in expected) <= 1e-5


def test_a_second_sigint_stops_at_once_in_one_line(fast_dir, corpus):
    # one batch of every document: the second signal lands while it is being embedded
    aborted = f"qdrant-edge:{fast_dir / 'aborted'}"
    args = _args(aborted, DOCS + 1)
    rc, stdout, stderr = _interrupted(args, corpus.work, corpus.env, signal.SIGINT, again=True)
    assert rc == 130 and stdout == "", (stdout, stderr)
    said = [ln for ln in stderr.splitlines() if ": note: " not in ln]
    assert said == [
        "jina-v3 index: stopping after the batch in flight (Ctrl-C again to stop at once)",
        "jina-v3 index: stopped at once; re-run to continue",
    ], stderr  # no traceback, no "generator ignored GeneratorExit"
    stored = dump(
        aborted, _all_ids(corpus.work / "corpus")
    )  # the store opens, and holds only whole, known points
    assert all(corpus.expected[k] == v for k, v in stored.items())

    last = cli(*_args(aborted), cwd=corpus.work, env=corpus.env)
    assert last.returncode == 0, last.stderr
    assert dump(aborted, _all_ids(corpus.work / "corpus")) == corpus.expected
