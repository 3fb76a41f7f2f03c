"""Helpers for `jina-v3 mcp`'s end-to-end tests: the SDK's own client (stdio or streamable
HTTP) against a real server process, driven from sync tests; one indexed hybrid collection
per store, and a copy of it for each server process (an embedded store has one process)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests._servers import LOOPBACK, free_port
from tests.cli.conftest import clean_env, cli, store_uri
from tests.conftest import TINY_MODEL

pytest.importorskip("mcp")
pytest.importorskip("torch")

#: The embedded stores the MCP tests run on (each skipped without its package).
MCP_STORES = [
    pytest.param("qdrant-edge", marks=pytest.mark.skipif(
        not __import__("importlib").util.find_spec("qdrant_edge"), reason="qdrant-edge-py")),
    pytest.param("milvus-lite", marks=pytest.mark.skipif(
        not __import__("importlib").util.find_spec("milvus_lite"), reason="milvus-lite")),
]  # fmt: skip

KEY_ENV = "JINA_V3_TEST_MCP_KEY"
KEY = "mcp-test-key"

FILES = {
    "printer.md": (
        "# Printer guide\n\n## Errors\n\nThe printer reports error XJ-4471b after a paper jam. "
        "Open the rear tray, remove the sheet and restart the printer.\n\n## Toner\n\n"
        "Replace the toner cartridge when the light blinks orange."
    ),
    "de.txt": "Die Hauptstadt von Frankreich ist Paris. Berlin ist die Hauptstadt Deutschlands.",
    "winter.txt": "The weather in winter is cold and the trains are often late.",
    "museum.md": "# Museum\n\nThe city museum opens on Sundays at ten.",
    "kb.jsonl": (
        '{"id": "faq-1", "text": "Reset your password under Settings > Account.", "lang": "en"}\n'
        '{"id": "faq-2", "text": "Passwort vergessen? Unter Einstellungen > Konto.", '
        '"lang": "de"}\n'
    ),
}
#: Queries answered by `jina-v3 search --json` before any server holds the store.
QUERIES = {
    ("XJ-4471b", None): "the default mode (hybrid)",
    ("how do I reset my password", "dense"): "dense",
}


def server_env(**extra: str) -> dict[str, str]:
    """What a server process sees: the tiny checkpoint as $JINA_V3_MODEL, offline."""
    return clean_env(JINA_V3_MODEL=str(TINY_MODEL), **extra)


def mcp_command(*args: str) -> list[str]:
    """`jina-v3 mcp ARGS` as a process runs it."""
    return [sys.executable, "-m", "jina_v3.cli", "mcp", *args]


@dataclass
class Corpus:
    """An indexed hybrid collection: where it lives, and what the CLI answers on it."""

    kind: str
    work: Path
    uri: str
    folder: Path  # the store's files (a folder: Qdrant Edge's, or Milvus Lite's FILE.db)
    searches: dict[tuple[str, str | None], list[dict[str, Any]]]
    documents: list[dict[str, Any]]
    copies: list[Path] = field(default_factory=list)

    def copy(self, name: str) -> str:
        """A store URI for a copy of the collection (another process may hold the original)."""
        target = self.folder.with_name(f"{name}-{self.folder.name}")
        shutil.copytree(self.folder, target)
        self.copies.append(target)
        return f"{self.kind}:{target}"


def index_corpus(kind: str, store_dir: Path, work: Path, *, reads: bool = True) -> Corpus:
    """`jina-v3 index --hybrid` of FILES; with `reads`, what `search` and `ls` answer on it."""
    (work / "docs").mkdir()
    for name, text in FILES.items():
        (work / "docs" / name).write_text(text, encoding="utf-8")
    uri = store_uri(kind, store_dir)
    proc = cli("index", "docs", "--store", uri, "--hybrid", "--quiet", cwd=work)
    assert proc.returncode == 0, proc.stderr
    folder = Path(uri.split(":", 1)[1])
    if not reads:
        return Corpus(kind, work, uri, folder, {}, [])
    searches = {}
    for query, mode in QUERIES:
        flags = ["--mode", mode] if mode else []
        proc = cli("search", query, "--store", uri, "--json", *flags, cwd=work)
        assert proc.returncode == 0, proc.stderr
        searches[query, mode] = json.loads(proc.stdout)
    proc = cli("ls", "--store", uri, "--json", cwd=work)
    assert proc.returncode == 0, proc.stderr
    documents = [json.loads(line) for line in proc.stdout.splitlines()]
    return Corpus(kind, work, uri, folder, searches, documents)


class McpSession:
    """The SDK's ``ClientSession`` living in a thread with its own event loop, so sync tests
    can call it; `connect` makes the transport (``stdio_client(...)`` or
    ``streamable_http_client(...)``)."""

    def __init__(self, connect: Callable[[], Any], timeout: float = 120.0) -> None:
        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._ready: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._closing: asyncio.Event | None = None
        self._main = asyncio.run_coroutine_threadsafe(self._serve(connect), self.loop)
        try:
            self.initialized = self._ready.result(timeout)
        except BaseException:
            self.close()
            raise

    async def _serve(self, connect: Callable[[], Any]) -> None:
        from mcp import ClientSession

        self._closing = asyncio.Event()
        try:
            async with connect() as (read, write), ClientSession(read, write) as session:
                self.session = session
                self._ready.set_result(await session.initialize())
                await self._closing.wait()
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def run(self, make: Callable[[Any], Any]) -> Any:
        """``await make(session)`` on the session's loop."""
        return asyncio.run_coroutine_threadsafe(make(self.session), self.loop).result(self.timeout)

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        return self.run(lambda s: s.call_tool(name, arguments or {}))

    def ok(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """A call that must succeed: its structured content (also given as text)."""
        result = self.call(name, arguments)
        assert not result.is_error, result.content[0].text
        return result.structured_content

    def tools(self) -> dict[str, Any]:
        return {t.name: t for t in self.run(lambda s: s.list_tools()).tools}

    def close(self) -> None:
        if self._closing is not None:
            self.loop.call_soon_threadsafe(self._closing.set)
        with contextlib.suppress(BaseException):
            self._main.result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


def stdio_session(uri: str, cwd: Path, errlog: Path, *extra: str) -> McpSession:
    """A session with `jina-v3 mcp` started by the SDK's stdio client (its stderr to `errlog`)."""
    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client

    command = mcp_command("--store", uri, *extra)
    params = StdioServerParameters(
        command=command[0], args=command[1:], env=server_env(), cwd=str(cwd)
    )

    @contextlib.asynccontextmanager
    async def connect() -> Any:
        with open(errlog, "w") as log:
            async with stdio_client(params, errlog=log) as streams:
                yield streams

    return McpSession(connect)


@contextlib.contextmanager
def http_server(
    uri: str, cwd: Path, errlog: Path, *extra: str, key: str | None = None
) -> Iterator[str]:
    """`jina-v3 mcp --http` as a process on a free loopback port; yields its endpoint URL."""
    import httpx

    port = free_port()
    env = server_env(**({KEY_ENV: key} if key else {}))
    flags = ["--http", "--port", str(port), *(["--api-key-env", KEY_ENV] if key else []), *extra]
    with open(errlog, "w") as log:
        proc = subprocess.Popen(mcp_command("--store", uri, *flags), cwd=cwd, env=env, stderr=log)
    url = f"http://{LOOPBACK}:{port}/mcp"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"jina-v3 mcp exited: {errlog.read_text()}"
            try:
                httpx.get(url, timeout=1.0)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "jina-v3 mcp --http did not come up"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            assert proc.wait(60) == 0, errlog.read_text()  # SIGTERM is a clean stop
        finally:
            if proc.poll() is None:
                proc.kill()


def http_session(url: str, key: str | None = None) -> McpSession:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    @contextlib.asynccontextmanager
    async def connect() -> Any:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with httpx2.AsyncClient(headers=headers, timeout=120) as client:
            async with streamable_http_client(url, http_client=client) as streams:
                yield streams

    return McpSession(connect)


@pytest.fixture(scope="module")
def store_root(tmp_path_factory) -> Iterator[Path]:
    """Stores on tmpfs (/dev/shm) when there is one, else under tmp_path."""
    import tempfile

    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        path = Path(tempfile.mkdtemp(prefix="jv3-mcp-", dir=shm))
        yield path
        shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("mcp-stores")
