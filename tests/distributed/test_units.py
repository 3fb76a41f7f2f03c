"""The distributed path's pure parts, and one embedding worker run in-process (no Ray)."""

from __future__ import annotations

import pytest

from tests.conftest import TINY_MODEL


def test_token_bucket_spreads_a_global_rate():
    from jina_v3.distributed import TokenBucket

    now = [0.0]
    bucket = TokenBucket(6000, clock=lambda: now[0])  # 100 tokens/s, 1 s burst
    assert bucket.reserve(100) == 0.0  # the burst
    assert bucket.reserve(50) == pytest.approx(0.5)  # in debt: wait it out
    assert bucket.reserve(50) == pytest.approx(1.0)  # the next caller waits longer
    bucket.refund(50)  # the estimate was too high
    now[0] = 1.0
    assert bucket.reserve(50) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_only_transient_errors_are_retried():
    from jina_v3 import errors
    from jina_v3.distributed import TRANSIENT_ERRORS
    from jina_v3.distributed import TransientStoreError as Transient
    from jina_v3.distributed.workers import is_transient

    for error in (errors.APIConnectionError, errors.RateLimitError, errors.ServerError, Transient):
        assert issubclass(error, TRANSIENT_ERRORS)
    for error in (
        errors.ConfigurationError,
        errors.SignatureMismatchError,
        errors.DimensionMismatchError,
        errors.InputTooLongError,
        errors.AuthenticationError,
        errors.StoreError,
    ):
        assert not issubclass(error, TRANSIENT_ERRORS), error

    def wrapped(cause: BaseException) -> errors.StoreError:
        try:
            raise errors.StoreError("upsert failed") from cause
        except errors.StoreError as exc:
            return exc

    class Http(Exception):
        def __init__(self, status: int) -> None:
            self.status = status

    assert is_transient(wrapped(ConnectionResetError()))
    assert is_transient(wrapped(TimeoutError()))
    assert is_transient(wrapped(Http(503))) and is_transient(wrapped(Http(429)))
    assert not is_transient(wrapped(Http(400)))
    assert not is_transient(wrapped(ValueError("bad vector")))
    assert not is_transient(errors.SignatureMismatchError("other model"))


def test_embedded_store_uris_are_owned_by_one_process():
    from jina_v3.distributed import is_embedded_store

    for uri in ("qdrant-edge:./d", "milvus-lite:./x.db", "qdrant:./dir", "qdrant::memory:"):
        assert is_embedded_store(uri), uri
    for uri in ("milvus:http://127.0.0.1:19530", "qdrant:http://h:6333", "pinecone:idx"):
        assert not is_embedded_store(uri), uri


def test_the_api_key_travels_as_a_variable_name(monkeypatch):
    import pickle

    from jina_v3.distributed.workers import EmbedderSpec
    from jina_v3.errors import ConfigurationError

    spec = EmbedderSpec(backend="api", api_key_env="JV3_TEST_KEY", options=(("timeout", 5),))
    monkeypatch.setenv("JV3_TEST_KEY", "jina_secret_123")
    assert b"jina_secret_123" not in pickle.dumps(spec)
    assert spec.build().backend.options.api_key.get() == "jina_secret_123"
    monkeypatch.delenv("JV3_TEST_KEY")
    with pytest.raises(ConfigurationError, match="JV3_TEST_KEY is not set"):
        spec.build()


def test_index_dataset_refuses_a_key_in_the_options():
    from jina_v3.distributed import index_dataset
    from jina_v3.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="api_key_env"):
        index_dataset([], "qdrant::memory:", backend="api", embedder_options={"api_key": "k"})


def test_forward_env_is_refused_with_its_replacement():
    from jina_v3.distributed import index_dataset
    from jina_v3.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"forward_env was removed.*every node"):
        index_dataset([], "qdrant::memory:", forward_env=["JINA_API_KEY"])


def _worker(factory, tmp_path, retries=2):
    pytest.importorskip("pyarrow")
    pytest.importorskip("qdrant_edge")
    from jina_v3.distributed.workers import EmbedderSpec, EmbedWorker, IndexSpec

    spec = IndexSpec(
        embedder=EmbedderSpec(factory=factory),
        store_uri=f"qdrant-edge:{tmp_path / 'edge'}",
        collection="c",
        dimensions=None,
        late_chunking=False,
        chunk_tokens=None,
        batch_size=4,
        embedding_type="float",
        truncate=False,
        retries=retries,
    )
    return spec, EmbedWorker(spec)


def _block(spec, docs):
    from jina_v3.distributed.workers import batch_table, chunk_block

    return chunk_block(batch_table(docs, ["skipped x: unreadable"]), spec=spec)


def test_a_worker_retries_transient_errors_a_bounded_number_of_times(tmp_path):
    pytest.importorskip("torch")
    from jina_v3 import Document
    from jina_v3.distributed.workers import RetriesExhaustedError
    from jina_v3.errors import APIConnectionError, ConfigurationError
    from tests.distributed._crash import AlwaysFails

    spec, worker = _worker(AlwaysFails(str(TINY_MODEL), "APIConnectionError"), tmp_path)
    block = _block(spec, [Document("a", "Berlin is big.")])
    for _ in range(2):
        with pytest.raises(APIConnectionError):  # Ray re-runs the block on these
            worker(block)
    with pytest.raises(RetriesExhaustedError):  # then the job stops, with the cause
        worker(block)
    spec, worker = _worker(AlwaysFails(str(TINY_MODEL), "ConfigurationError"), tmp_path / "b")
    with pytest.raises(ConfigurationError):  # never retried
        worker(_block(spec, [Document("a", "Berlin is big.")]))


def test_a_worker_summarises_its_block(tmp_path):
    pytest.importorskip("torch")
    from jina_v3 import Document

    spec, worker = _worker(_Tiny(), tmp_path)
    docs = [Document("a", "Berlin is big."), Document("b", "Paris too.", {"lang": "en"})]
    row = worker(_block(spec, docs)).to_pylist()[0]
    assert (row["documents"], row["indexed"], row["points"]) == (2, 2, 2)
    assert row["failures"] == ["skipped x: unreadable"] and row["tokens"] > 0
    again = worker(_block(spec, docs)).to_pylist()[0]
    assert (again["unchanged"], again["points"]) == (2, 0)


class _Tiny:
    def __call__(self):
        from jina_v3 import Embedder

        return Embedder(str(TINY_MODEL), dtype="float32")


class _Published:
    """Builds an embedder on the tiny checkpoint named as Jina's weights (a licence note)."""

    def __init__(self, folder):
        from tests.conftest import published_copy

        self.path = str(published_copy(folder))

    def __call__(self):
        from jina_v3 import Embedder

        return Embedder(self.path, dtype="float32")


def test_a_workers_library_warnings_travel_with_its_summary_not_to_its_stderr(
    tmp_path, monkeypatch, capfd
):
    pytest.importorskip("torch")
    import jina_v3.local.checkpoint as checkpoint
    from jina_v3 import Document

    monkeypatch.setattr(checkpoint, "_licence_logged", False)
    spec, worker = _worker(_Published(tmp_path), tmp_path)  # loads the weights: the note
    first = worker(_block(spec, [Document("a", "Berlin is big.")])).to_pylist()[0]
    assert len(first["notes"]) == 1 and "CC BY-NC 4.0" in first["notes"][0]
    again = worker(_block(spec, [Document("b", "Paris too.")])).to_pylist()[0]
    assert again["notes"] == []  # sent once
    assert "CC BY-NC" not in "".join(capfd.readouterr())  # kept, not printed by the worker


def test_the_driver_prints_each_note_once(caplog):
    from jina_v3.distributed.notes import NoteRelay

    relay = NoteRelay()
    with caplog.at_level("WARNING", logger="jina_v3"):
        relay(["the licence", "document 'x' skipped"])
        relay(["the licence"])  # every actor says it
        relay(None)
    assert [r.getMessage() for r in caplog.records] == ["the licence", "document 'x' skipped"]


def test_a_store_that_goes_away_is_transient():
    pymilvus = pytest.importorskip("pymilvus")
    import httpx

    from jina_v3.connectors.base.common import wrap_errors
    from jina_v3.distributed.workers import is_transient
    from jina_v3.errors import StoreError

    def as_store_error(exc: Exception) -> StoreError:
        try:
            with wrap_errors("upsert", "docs"):
                raise exc
        except StoreError as error:
            return error
        raise AssertionError("not wrapped")

    down = [  # what the clients raise when the server went away mid-job
        pymilvus.MilvusException(
            code=2,
            message="Fail connecting to server on 127.0.0.1:19530, illegal connection params "
            "or server unavailable",
        ),
        pymilvus.MilvusException(message="<_InactiveRpcError: status = StatusCode.UNAVAILABLE>"),
        httpx.ConnectError("[Errno 111] Connection refused"),
    ]
    for exc in down:
        assert is_transient(as_store_error(exc)), exc
    assert not is_transient(as_store_error(pymilvus.MilvusException(message="invalid dim")))


def test_a_worker_waits_longer_before_each_retry(tmp_path):
    pytest.importorskip("torch")
    import time

    from jina_v3 import Document
    from jina_v3.errors import APIConnectionError
    from tests.distributed._crash import AlwaysFails

    spec, worker = _worker(AlwaysFails(str(TINY_MODEL), "APIConnectionError"), tmp_path, 3)
    block = _block(spec, [Document("a", "Berlin is big.")])
    waits = []
    for _ in range(3):
        started = time.monotonic()
        with pytest.raises(APIConnectionError):
            worker(block)
        waits.append(time.monotonic() - started)
    # backoff 1 s, doubled each time, with jitter in [0.5, 1]
    assert 0.5 <= waits[0] < waits[2] and waits[2] >= 2.0


def test_the_ray_reader_reports_each_jsonl_files_ids_once_as_the_cli_reader_does(tmp_path):
    pytest.importorskip("pyarrow")
    import json

    from jina_v3.distributed.workers import read_block
    from jina_v3.sources import list_files, read_files

    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "a.jsonl").write_text("".join(f'{{"text": "a{i}"}}\n' for i in range(5)))
    (tmp_path / "kb" / "b.jsonl").write_text("")  # emptied: all its documents are gone
    (tmp_path / "kb" / "c.jsonl").write_text('{"text": "c"}\nnot json\n')
    (tmp_path / "kb" / "d.md").write_text("a text file")
    files = list_files([str(tmp_path / "kb")])
    expected: dict = {}
    list(read_files(files, jsonl_ids=expected))
    rows = [t.to_pylist()[0] for t in read_block(None, files=files, documents_per_batch=2,
                                                 cwd=str(tmp_path))]  # fmt: skip
    reported: dict = {}
    for row in rows:
        for source in json.loads(row["jsonl_ids"] or "{}"):
            assert source not in reported  # each file once, in the batch that finished it
        reported.update(json.loads(row["jsonl_ids"] or "{}"))
    assert reported == expected and len(expected) == 3 and expected[files[1].source] == []
    skipped = [line for row in rows for line in row["skipped"]]
    assert skipped == ["skipped kb/c.jsonl#2: not JSON (Expecting value: line 1 column 1 (char 0))"]


@pytest.mark.ray
def test_a_local_instance_listens_on_loopback_even_when_ray_was_imported_first():
    """Ray reads its cluster switch when first imported; a process that imported it before
    init_ray (the CLI quietening Ray's loggers, a user's script) still gets 127.0.0.1 only."""
    pytest.importorskip("ray")
    import subprocess
    import sys

    script = (
        "import ray, ray.data\n"
        "from jina_v3.distributed import init_ray\n"
        "init_ray(num_cpus=1)\n"
        "print(ray.get_runtime_context().gcs_address, ray.util.get_node_ip_address())\n"
        "ray.shutdown()\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    gcs, node = run.stdout.split()
    assert gcs.startswith("127.0.0.1:") and node == "127.0.0.1", run.stdout
