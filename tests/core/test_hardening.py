"""Issue 8 (embedder, remote, server, CLI side): each bad input is a typed, actionable error."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import shutil
import socket
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from jina_v3 import (
    APITimeoutError,
    AsyncEmbedder,
    ConfigurationError,
    Embedder,
    MalformedResponseError,
    ModelLoadError,
)
from jina_v3.remote.backend import RemoteBackend
from tests._servers import FaultServer, fake_vector
from tests.conftest import TINY_MODEL

KEY = "jina_hardening-key-0123456789"


def api(url, **kw):
    kw.setdefault("max_retries", 0)
    return Embedder(backend="api", api_key=KEY, base_url=url, **kw)


# -- inputs --------------------------------------------------------------------------------


def test_any_iterable_is_read_once(tiny_embedder):
    texts = ["Berlin is big.", "Paris is old."]
    got = tiny_embedder.encode(t for t in texts)
    assert np.array_equal(got, tiny_embedder.encode(texts))
    docs = tiny_embedder.encode_late_chunked(iter([iter(texts), (t for t in texts[:1])]))
    assert [len(d) for d in docs] == [2, 1]


@pytest.mark.parametrize("bad", [None, 42, b"bytes"])
def test_non_iterables_are_typed_errors(tiny_embedder, bad):
    with pytest.raises(ConfigurationError, match="texts must be a list"):
        tiny_embedder.encode(bad)
    with pytest.raises(ConfigurationError, match="documents"):
        tiny_embedder.encode_late_chunked(bad)


def test_a_lone_surrogate_names_the_input(tiny_embedder):
    with pytest.raises(ConfigurationError, match=r"texts\[1\] is not valid Unicode"):
        tiny_embedder.encode(["fine", "bad \ud800 text"])
    with pytest.raises(ConfigurationError, match=r"documents\[0\]\[1\]"):
        tiny_embedder.encode_late_chunked([["ok", "\udcff"]])
    with pytest.raises(ConfigurationError, match=r"is of type int"):
        tiny_embedder.encode(["ok", 3])


# -- options -------------------------------------------------------------------------------


def test_an_option_of_the_other_backend_is_named():
    with pytest.raises(ConfigurationError, match="window_tokens is one of the settings") as e:
        Embedder(backend="api", api_key=KEY, window_tokens=64)
    assert "backend='local'" in str(e.value)


def test_options_with_a_backend_object_are_refused():
    backend = RemoteBackend(api_key=KEY)
    with pytest.raises(ConfigurationError, match="timeout cannot be applied to a backend"):
        Embedder(backend=backend, timeout=3)
    with pytest.raises(ConfigurationError, match="model"):
        Embedder("other", backend=backend)


def test_max_dimensions_never_makes_a_request():
    def refuse(request):
        raise AssertionError("no request expected")

    with httpx.Client(transport=httpx.MockTransport(refuse)) as client:
        backend = RemoteBackend("other-model", api_key=KEY, http_client=client)
        assert backend.max_dimensions == 1024  # until an answer shows it
        assert RemoteBackend("m", api_key=KEY, max_dimensions=384).max_dimensions == 384


# -- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["jina_abc\ndef", "jina_abc\x00def", "jina_abcé", "jina abc"])
def test_an_unsendable_key_is_refused_without_echoing_it(key, monkeypatch):
    with pytest.raises(ConfigurationError, match="api_key=") as info:
        Embedder(backend="api", api_key=key)
    assert key not in str(info.value) and "abc" not in str(info.value)
    if "\x00" in key:
        return  # no environment can hold it
    monkeypatch.setenv("JINA_API_KEY", key)
    with pytest.raises(ConfigurationError, match="JINA_API_KEY") as info:
        Embedder(backend="api")
    assert "abc" not in str(info.value)


def test_a_pasted_trailing_newline_is_fine():
    assert Embedder(backend="api", api_key=KEY + "\n").backend.options.api_key.get() == KEY


def test_an_env_key_travels_as_its_name_in_a_pickle(monkeypatch):
    monkeypatch.setenv("JINA_API_KEY", KEY)
    data = pickle.dumps(Embedder(backend="api", base_url="http://127.0.0.1:9"))
    assert KEY.encode() not in data and b"JINA_API_KEY" in data
    clone = pickle.loads(data)  # read again here
    assert clone.backend.options.api_key.get() == KEY
    monkeypatch.delenv("JINA_API_KEY")
    with pytest.raises(ConfigurationError, match="JINA_API_KEY"):
        pickle.loads(data)
    # a key passed explicitly is the caller's choice: it travels (documented)
    assert KEY.encode() in pickle.dumps(Embedder(backend="api", api_key=KEY))


# -- malformed answers and timeouts, against a real server ----------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"data": [{"index": 0, "embedding": [1.0, null]}]}', "NoneType"),
        (b'{"data": [{"index": 0, "embedding": [1.0, 2.0, 3.0]}]}', "3 values where 2"),
        (b'{"data": [{"index": 0, "embedding": 7}]}', "int, not a list"),
    ],
)
def test_malformed_answers_raise_after_the_retries(body, words):
    with FaultServer() as srv:
        srv.push(*[("raw", body)] * 2)
        with pytest.raises(MalformedResponseError, match=words):
            api(srv.url, max_retries=1).encode(["x"], dimensions=2)
        assert len(srv.requests) == 2


def test_batches_of_different_widths_are_malformed():
    with FaultServer() as srv:
        srv.push("ok", ("raw", json.dumps({"data": [{"index": 0, "embedding": [1.0]}]}).encode()))
        emb = api(srv.url, max_concurrency=1, max_request_tokens=8)
        with pytest.raises(MalformedResponseError, match="different row lengths"):
            emb.encode(["first text", "second"])


@pytest.mark.parametrize("action", ["drip", "drip_headers"])
def test_timeout_bounds_the_whole_request_sync(action):
    with FaultServer() as srv:
        srv.push((action, 0.25))
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="bounds each whole request"):
            api(srv.url, timeout=1.0).encode(["x"])
        assert time.monotonic() - started < 1.6


async def test_timeout_bounds_the_whole_request_async():
    with FaultServer() as srv:
        srv.push(("drip", 0.25))
        started = time.monotonic()
        async with AsyncEmbedder(
            backend="api", api_key=KEY, base_url=srv.url, timeout=1.0, max_retries=0
        ) as emb:
            with pytest.raises(APITimeoutError, match="bounds each whole request"):
                await emb.encode(["x"])
        assert time.monotonic() - started < 1.6
        # a slow but steady answer within the timeout still arrives
        srv.push(("drip", 0.001))
        got = api(srv.url, timeout=5.0).encode(["y"], normalized=False)
        assert np.array_equal(got[0], np.float32(fake_vector("y")))


# -- local backend ---------------------------------------------------------------------------


def test_a_corrupt_tokenizer_is_a_model_load_error(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(TINY_MODEL, model)
    (model / "tokenizer.json").write_text("{ not a tokenizer")
    with pytest.raises(ModelLoadError, match=r"tokenizer\.json is not a valid tokenizer"):
        Embedder(str(model))


def test_an_unavailable_device_names_the_available_ones():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigurationError, match=r"device='cuda'.*available: cpu"):
        Embedder(str(TINY_MODEL), device="cuda")


def test_a_closed_local_embedder_says_so():
    emb = Embedder(str(TINY_MODEL), dtype="float32")
    emb.close()
    with pytest.raises(ConfigurationError, match="closed"):
        emb.encode(["x"])


def test_local_and_api_report_the_same_model_identity(tiny_embedder):
    assert tiny_embedder.model_name == "tiny-v3"  # another checkpoint keeps its own name
    api_v3 = Embedder(backend="api", model="jinaai/jina-embeddings-v3", api_key=KEY)
    assert api_v3.model_name == "jina-embeddings-v3"


async def test_every_async_object_closes_with_aclose_and_async_with():
    async with AsyncEmbedder(str(TINY_MODEL), dtype="float32") as local:
        assert (await local.encode(["x"])).shape == (1, 64)
    with pytest.raises(ConfigurationError, match="closed"):
        await local.encode(["x"])
    async with RemoteBackend(api_key=KEY) as backend:
        pass
    await backend.aclose()  # twice is fine
    async with AsyncEmbedder(backend="api", api_key=KEY) as remote:
        assert remote.model_name == "jina-embeddings-v3"


# -- the hub and the CLI ---------------------------------------------------------------------


def test_the_hub_message_is_kept_whole(monkeypatch, tmp_path):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    long = "The hub is unreachable. " * 20 + "THE END OF THE MESSAGE."

    def fail(*args, **kwargs):
        raise OSError(long)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fail)
    with pytest.raises(ModelLoadError, match="THE END OF THE MESSAGE") as info:
        Embedder("jinaai/jina-embeddings-v3", cache_dir=str(tmp_path))
    assert "Embedder(backend='api'" in info.value.advice

    from jina_v3.cli import describe

    line = describe(info.value)
    assert "--model PATH" in line and "JINA_V3_MODEL" in line and "JINA_API_KEY" in line
    assert "Embedder(" not in line and "\n" not in line


def test_a_mismatch_carries_every_difference_and_each_front_end_words_its_fix():
    from jina_v3.cli import describe
    from jina_v3.errors import DimensionMismatchError
    from jina_v3.store import EmbeddingSignature, check_signature

    stored = EmbeddingSignature(model="tiny-v3", dimensions=64)
    mine = EmbeddingSignature(model="other", dimensions=16, late_chunking=True)
    with pytest.raises(DimensionMismatchError) as info:
        check_signature(mine, stored, collection="docs")
    exc = info.value
    assert exc.collection == "docs"
    assert exc.differences == {
        "model": ("tiny-v3", "other"),
        "dimensions": (64, 16),
        "late_chunking": (False, True),
    }
    # the library names all three fixes at once, as Python parameters
    message = str(exc)
    assert "pass dimensions=64 and pass late_chunking=False and embed with its model" in message
    again = pickle.loads(pickle.dumps(exc))  # Ray workers send it back pickled
    assert again.differences == exc.differences and str(again) == message

    index = describe(exc, "index")
    assert "--dimensions 64" in index and "drop --late-chunking" in index
    assert "--model" in index and "pass --recreate" in index and "recreate=True" not in index
    search = describe(exc, "search")  # search has no --recreate nor --dimensions
    assert "pass --recreate" not in search and "--dimensions" not in search
    assert "jina-v3 index PATH --collection docs --recreate" in search
    assert "=" not in index.split("Fix:")[1] + search.split("Fix:")[1]


def test_copy_and_import_name_their_own_way_out_of_a_mismatch():
    """Their points keep the settings they were embedded with: no flag of theirs matches
    another collection, so they name another collection or store (issue 22, item 15)."""
    from jina_v3.cli import describe
    from jina_v3.errors import DimensionMismatchError
    from jina_v3.store import EmbeddingSignature, check_signature

    stored = EmbeddingSignature(model="tiny-v3", dimensions=16)
    with pytest.raises(DimensionMismatchError) as info:
        check_signature(EmbeddingSignature("other", 64), stored, collection="docs")
    copy, load = describe(info.value, "copy"), describe(info.value, "import")
    assert copy.endswith(
        "Fix: copy into a new collection with --to-collection NAME, or into another store "
        "(DST_URI)."
    )
    assert load.endswith("Fix: import into a new --collection NAME, or into another --store URI.")
    for line in (copy, load):
        assert "dimensions: collection has 16" in line
        assert not {"--dimensions", "--recreate", "--model"} & set(line.split())


def test_an_over_long_input_names_the_fix_of_the_command():
    from jina_v3.cli import describe
    from jina_v3.errors import InputTooLongError

    exc = InputTooLongError("... pass truncate=True", index=3, tokens=9000, limit=8194)
    assert describe(exc, "embed") == (
        "InputTooLongError: Input 3 has 9000 tokens, over the model's limit of 8194: "
        "shorten it, or pass --truncate to cut it at the limit."
    )
    assert "The query has 9000 tokens" in describe(exc, "search")
    assert "--truncate" not in describe(exc, "search") + describe(exc, "index")
    assert "--chunk-tokens" in describe(exc, "index")


def test_an_interrupted_flow_still_makes_its_cleanup_calls():
    import gc

    from jina_v3._flow import Call, run

    calls, ignored = [], []

    def flow():
        try:
            yield Call("target", "work")
        finally:
            yield Call("target", "cleanup")  # e.g. wait for the write in flight

    class Target:
        def work(self):
            raise KeyboardInterrupt  # a second Ctrl-C, mid-call

        def cleanup(self):
            calls.append("cleanup")

    hook, sys.unraisablehook = sys.unraisablehook, ignored.append
    try:
        running = flow()
        with pytest.raises(KeyboardInterrupt):
            run(running, target=Target())
        del running
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert calls == ["cleanup"] and not ignored  # no "generator ignored GeneratorExit"


def _cli(*args, stdin=""):
    from tests.cli.conftest import cli

    return cli(*args, cwd=Path.cwd(), env=dict(os.environ), input=stdin)


def test_cli_errors_are_one_line_never_a_traceback(tmp_path):
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('["caf\xe9"]'.encode("latin-1"))
    cases = {
        str(tmp_path / "missing.json"): "no such file",
        str(latin1): "not UTF-8",
        str(tmp_path): "is a directory",
    }
    for path, words in cases.items():
        proc = _cli("embed", "--model", str(TINY_MODEL), path)
        assert proc.returncode != 0, path
        assert words in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    proc = _cli("embed", "--model", str(tmp_path / "nowhere"), stdin='["x"]')
    assert proc.returncode == 2 and "ModelLoadError" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    debug = _cli("embed", "--debug", "--model", str(tmp_path / "nowhere"), stdin='["x"]')
    assert "Traceback" in debug.stderr


# -- the server's connections -----------------------------------------------------------------


@pytest.fixture
def guarded_server(tiny_embedder):
    pytest.importorskip("fastapi")
    from jina_v3.server import create_app
    from tests._servers import ServerThread

    app = create_app(tiny_embedder, body_timeout=0.5)
    with ServerThread(app, header_timeout=0.5, keep_alive_timeout=1) as srv:
        yield srv


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1024) == b"" or True  # EOF, or an answer before the close
    except TimeoutError:
        return False
    except OSError:
        return True


def test_half_open_connections_are_closed(guarded_server):
    socks = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", guarded_server.port))
        s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\n")  # headers never finish
        socks.append(s)
    try:
        assert all(_closed_by_server(s, 3.0) for s in socks)
    finally:
        for s in socks:
            s.close()
    # a complete request still works
    resp = httpx.post(f"{guarded_server.url}/v1/embeddings", json={"input": ["x"]}, timeout=30)
    assert resp.status_code == 200


def test_a_stalled_body_is_408_and_a_vanished_client_one_info_line(guarded_server, caplog):
    caplog.set_level(logging.INFO, logger="jina_v3.server")
    with socket.create_connection(("127.0.0.1", guarded_server.port)) as s:
        s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        s.settimeout(5)
        assert b" 408 " in s.recv(4096).split(b"\r\n")[0] + b" "
    with socket.create_connection(("127.0.0.1", guarded_server.port)) as s:
        s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "disconnected" not in caplog.text:
        asyncio.run(asyncio.sleep(0.05))
    lines = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
