"""Real HTTP servers on 127.0.0.1 for the remote-backend and server tests.

- :class:`ServerThread`: our FastAPI app under uvicorn (with the server's connection limits)
  in a thread, on a free port.
- :class:`FaultServer`: a stdlib HTTP server speaking the embeddings API's JSON that injects
  faults from a script (429 + Retry-After, 5xx, slow answers, dropped connections, truncated
  JSON, 401, shuffled `data`) and records every request it saw.
- :func:`serve_process`: ``jina-v3 serve`` as a subprocess (for SIGTERM and the CLI).
- :func:`hold_store`: another process that holds an embedded store open.

Everything is bounded in time and cleans up its threads, processes and ports.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

LOOPBACK = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


class ServerThread:
    """uvicorn serving `app` on a free loopback port in a daemon thread."""

    def __init__(self, app: Any, *, startup_timeout: float = 30.0, **limits: Any) -> None:
        """`limits`: :func:`jina_v3.server.uvicorn_config`'s connection limits."""
        import uvicorn

        from jina_v3.server import ConnectionLimits, uvicorn_config

        self.app = app
        # bound here and handed to uvicorn: no other process can take the port in between
        self.sock = socket.socket()
        self.sock.bind((LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn_config(app, ConnectionLimits(**limits), log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.startup_timeout = startup_timeout

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


# -- fault injection -------------------------------------------------------------------


def fake_vector(text: str, dims: int = 8) -> list[float]:
    """A deterministic vector per text, so a test can tell which row belongs to which input."""
    seed = zlib.crc32(text.encode("utf-8"))
    return [float(len(text)), float(seed % 100003)] + [
        float((seed >> k) & 0xFF) for k in range(dims - 2)
    ]


class FaultServer:
    """A scripted, recording embeddings server on 127.0.0.1.

    `script` holds the actions of the next requests, consumed in arrival order; when empty,
    every request is answered normally. Actions:

    - ``"ok"``: answer normally;
    - ``("status", code, headers, detail)``: an error answer ``{"detail": detail}``;
    - ``("slow", seconds)``: wait, then answer normally (past the client's timeout);
    - ``"drop"``: read the request and close the connection without an answer;
    - ``"drop_mid"``: send the status line, headers and half the body, then close;
    - ``"truncated"``: a complete 200 answer whose JSON body is cut in the middle;
    - ``"echo_key"``: 401 whose detail repeats the Authorization header it got;
    - ``"short"``: a 200 answer that lacks the last embedding;
    - ``("raw", body)``: a 200 answer with exactly these bytes as its body;
    - ``("drip", seconds)``: a normal answer sent one byte every `seconds` (body only);
    - ``("drip_headers", seconds)``: the same, status line and headers included.

    `shuffle` answers `data` in a random order. `requests` records (time, payload) per request.
    """

    def __init__(self, *, dims: int = 8, shuffle: bool = False) -> None:
        self.dims = dims
        self.shuffle = shuffle
        self.script: collections.deque[Any] = collections.deque()
        self.requests: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                payload = json.loads(body)
                with outer.lock:
                    outer.requests.append((time.monotonic(), payload))
                    action = outer.script.popleft() if outer.script else "ok"
                outer.act(self, action, payload)

        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(  # a short poll: shutdown() returns within it
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.httpd.server_address[1]}"

    def push(self, *actions: Any) -> None:
        with self.lock:
            self.script.extend(actions)

    def inputs_seen(self) -> list[str]:
        return [t for _, p in self.requests for t in p["input"]]

    def answer(self, payload: dict[str, Any]) -> bytes:
        texts = payload["input"]
        dims = payload.get("dimensions") or self.dims
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(t, self.dims)[:dims]}
            for i, t in enumerate(texts)
        ]
        if self.shuffle:
            random.Random(len(texts)).shuffle(data)
        tokens = sum(len(t) for t in texts)
        return json.dumps(
            {
                "model": payload.get("model"),
                "object": "list",
                "usage": {"total_tokens": tokens, "prompt_tokens": tokens},
                "data": data,
            }
        ).encode()

    def act(self, h: BaseHTTPRequestHandler, action: Any, payload: dict[str, Any]) -> None:
        kind = action if isinstance(action, str) else action[0]
        try:
            if kind == "ok":
                self.send(h, 200, self.answer(payload))
            elif kind == "status":
                _, code, headers, detail = action
                self.send(h, code, json.dumps({"detail": detail}).encode(), headers)
            elif kind == "slow":
                if not self.stopping.wait(action[1]):
                    self.send(h, 200, self.answer(payload))
            elif kind == "drop":
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
            elif kind == "drop_mid":
                body = self.answer(payload)
                h.send_response(200)
                h.send_header("Content-Type", "application/json")
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body[: len(body) // 2])
                h.wfile.flush()
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
            elif kind == "truncated":
                self.send(h, 200, self.answer(payload)[:-40])
            elif kind == "echo_key":
                detail = f"invalid key: {h.headers.get('Authorization')}"
                self.send(h, 401, json.dumps({"detail": detail}).encode())
            elif kind == "short":
                doc = json.loads(self.answer(payload))
                doc["data"] = [d for d in doc["data"] if d["index"] != len(payload["input"]) - 1]
                self.send(h, 200, json.dumps(doc).encode())
            elif kind == "raw":
                self.send(h, 200, action[1])
            elif kind in ("drip", "drip_headers"):
                body = self.answer(payload)
                head = (
                    f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                if kind == "drip":
                    h.wfile.write(head)
                    h.wfile.flush()
                data = body if kind == "drip" else head + body
                for i in range(len(data)):
                    if self.stopping.wait(action[1]):
                        return
                    h.wfile.write(data[i : i + 1])
                    h.wfile.flush()
            else:
                raise ValueError(f"unknown action {action!r}")
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client gave up first (timeouts): nothing to answer

    @staticmethod
    def send(
        h: BaseHTTPRequestHandler, code: int, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


# -- `jina-v3 serve` as a process ------------------------------------------------------


@contextlib.contextmanager
def serve_process(
    model: Path | str, *, api_key: str | None = None, extra: tuple[str, ...] = ()
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run ``jina-v3 serve`` on a free loopback port; yield (process, base URL)."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "jina_v3.cli", "serve", "--model", str(model)]
    cmd += ["--port", str(port), "--dtype", "float32", "--log-level", "warning", *extra]
    if api_key is not None:
        env["JINA_V3_TEST_SERVER_KEY"] = api_key
        cmd += ["--api-key-env", "JINA_V3_TEST_SERVER_KEY"]
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"jina-v3 serve exited with {proc.returncode}: {out[-2000:]}")
            try:
                if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("jina-v3 serve did not come up within 90 s")
            time.sleep(0.2)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


_HOLD = """
import sys
from jina_v3.connectors.uris import open_store
store = open_store(sys.argv[1], sys.argv[2])
store.count()  # opens it: the engine holds the folder from here on
print("holding", flush=True)
sys.stdin.read()  # until the test closes our stdin
store.close()
"""


@contextlib.contextmanager
def hold_store(uri: str, collection: str, cwd: Path | None = None) -> Iterator[None]:
    """Another process holding the store at `uri` open (as a running index would) inside
    the block; released when the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, uri, collection],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "holding", "the holder did not open the store"
        yield
    finally:
        holder.stdin.close()
        try:
            holder.wait(timeout=120)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()
