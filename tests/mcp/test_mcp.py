"""`jina-v3 mcp` end to end: the MCP SDK's own client, over stdio and over streamable HTTP,
against a real server process on an indexed hybrid collection (Qdrant Edge and Milvus Lite).

Tests that only read run first (pytest runs each store's and transport's tests in file
order), so they see the collection as `jina-v3 search` and `ls` saw it before any server ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import threading

import pytest

from tests.cli.conftest import cli, error_line
from tests.conftest import TINY_MODEL
from tests.mcp.conftest import (
    KEY,
    MCP_STORES,
    QUERIES,
    http_server,
    http_session,
    index_corpus,
    mcp_command,
    server_env,
    stdio_session,
)

TOOLS = {"search", "add", "list_documents", "delete", "info"}
ARGUMENTS = {
    "search": {"query", "k", "filter", "mode"},
    "add": {"text", "texts", "metadata", "id"},
    "list_documents": {"source", "filter", "limit"},
    "delete": {"id", "source"},
    "info": set(),
}


@pytest.fixture(scope="module")
def indexed():
    """The corpora indexed in this module, by store (a server only ever holds a copy)."""
    return {}


@pytest.fixture(scope="module", params=MCP_STORES)
def corpus(request, indexed, store_root, tmp_path_factory):
    work = tmp_path_factory.mktemp(f"mcp-{request.param}")
    indexed[request.param] = index_corpus(request.param, store_root / request.param, work)
    return indexed[request.param]


@pytest.fixture(scope="module", params=["stdio", "http"])
def mcp(request, corpus, tmp_path_factory):
    """A writable server on a copy of the corpus: started by the SDK's stdio client, or over
    HTTP with a key (without one, HTTP is read-only)."""
    errlog = tmp_path_factory.mktemp("mcp-logs") / "stderr.txt"
    uri = corpus.copy(request.param)
    if request.param == "stdio":
        session = stdio_session(uri, corpus.work, errlog)
        yield session
        session.close()
        return
    with http_server(uri, corpus.work, errlog, key=KEY) as url:
        session = http_session(url, KEY)
        yield session
        session.close()


# -- reading -------------------------------------------------------------------------------------


def test_handshake_and_the_tools_agents_rely_on(mcp):
    assert mcp.initialized.server_info.name == "jina-v3"
    assert "search" in mcp.initialized.instructions
    tools = mcp.tools()
    assert set(tools) == TOOLS
    for name, tool in tools.items():
        assert set(tool.input_schema["properties"]) == ARGUMENTS[name]
        assert tool.input_schema["additionalProperties"] is False
        assert tool.output_schema["type"] == "object"
        assert len(tool.description) > 100  # something an agent can act on
    assert tools["search"].input_schema["required"] == ["query"]
    assert tools["search"].input_schema["properties"]["mode"]["default"] == "hybrid"
    assert tools["search"].annotations.read_only_hint is True
    assert tools["delete"].annotations.destructive_hint is True


@pytest.mark.parametrize(("query", "mode"), list(QUERIES))
def test_search_gives_the_hits_and_scores_of_jina_v3_search(mcp, corpus, query, mode):
    arguments = {"query": query} | ({"mode": mode} if mode else {})
    result = mcp.call("search", arguments)
    assert not result.is_error, result.content[0].text
    found = result.structured_content
    assert found["mode"] == (mode or "hybrid")  # the collection has the keyword channel
    expected = corpus.searches[query, mode]
    assert [h["id"] for h in found["hits"]] == [h["id"] for h in expected]
    for hit, cli_hit in zip(found["hits"], expected, strict=True):
        assert hit["score"] == pytest.approx(cli_hit["score"], rel=1e-6, abs=1e-7)
        for key in ("rank", "source", "document_id", "chunk_index", "text", "metadata"):
            assert hit[key] == cli_hit[key]
        assert hit["headings"] == cli_hit["metadata"].get("headings")
    # the same hits as text, in rank order, each with its source and text
    text = result.content[0].text
    positions = [text.index(f"[{h['rank']}] score {h['score']:.4f}") for h in expected]
    assert positions == sorted(positions)
    assert expected[0]["text"] in text


def test_search_shows_the_heading_path(mcp):
    found = mcp.ok("search", {"query": "XJ-4471b", "k": 1, "mode": "keyword"})
    (hit,) = found["hits"]
    assert hit["source"].endswith("printer.md")
    assert hit["headings"] == "# Printer guide > ## Errors"


def test_search_filters_by_metadata(mcp):
    found = mcp.ok("search", {"query": "password", "filter": {"lang": "de"}, "k": 5})
    assert [h["document_id"] for h in found["hits"]] == ["faq-2"]


def test_info_describes_the_collection(mcp, corpus):
    from jina_v3.connectors.uris import open_store

    info = mcp.ok("info")
    with open_store(corpus.uri, "documents") as store:  # the original, held by no server
        signature = store.read_signature().to_dict()
        points = store.count()
    assert info["signature"] == signature and info["model"] == signature["model"]
    assert info["points"] == points and info["hybrid"] is True
    assert info["collection"] == "documents" and info["read_only"] is False
    assert json.loads(mcp.call("info").content[0].text) == info


def test_list_documents_lists_what_ls_lists(mcp, corpus):
    found = mcp.ok("list_documents")
    assert found["documents"] == corpus.documents and found["total"] == len(corpus.documents)
    assert found["truncated"] is False
    some = mcp.ok("list_documents", {"source": "*.jsonl", "limit": 1})
    assert some["total"] == 2 and some["truncated"] is True
    assert [d["document_id"] for d in some["documents"]] == ["faq-1"]
    german = mcp.ok("list_documents", {"filter": {"lang": "de"}})
    assert [d["document_id"] for d in german["documents"]] == ["faq-2"]


def test_concurrent_searches_each_get_their_own_hits(mcp):
    queries = ["XJ-4471b", "Hauptstadt", "password", "museum", "winter trains", "toner"]
    alone = {q: mcp.ok("search", {"query": q, "mode": "dense"})["hits"] for q in queries}

    async def together(session):
        calls = [session.call_tool("search", {"query": q, "mode": "dense"}) for q in queries]
        return await asyncio.gather(*calls)

    for query, result in zip(queries, mcp.run(together), strict=True):
        hits = result.structured_content["hits"]
        assert [h["id"] for h in hits] == [h["id"] for h in alone[query]]
        scores = [h["score"] for h in hits]
        assert scores == pytest.approx([h["score"] for h in alone[query]], rel=1e-5, abs=1e-6)


def test_a_bad_argument_is_one_line_and_the_next_call_is_answered(mcp):
    bad = {
        ("search", '{"query": "x", "k": 0}'): "k must be an integer from 1 to 100",
        ("search", '{"query": "x", "kk": 3}'): "did you mean 'k'",
        ("search", '{"query": "x", "mode": "fuzzy"}'): "mode must be one of dense, keyword",
        ("search", '{"query": "x", "filter": {"a": {"$regex": "b"}}}'): "UnsupportedFilterError",
        ("search", '{"query": ""}'): "query must be a non-empty string",
        ("add", '{"text": "a", "texts": ["b"]}'): "exactly one of text, texts",
        ("add", '{"text": "a", "metadata": {"chunk_index": 3}}'): "reserved",
        ("delete", "{}"): "exactly one of id, source",
        ("delete", '{"id": "no-such-document"}'): "matched no document",
        ("nope", "{}"): "no tool 'nope'",
    }
    for (tool, arguments), message in bad.items():
        result = mcp.call(tool, json.loads(arguments))
        assert result.is_error and result.structured_content is None
        (content,) = result.content
        assert "\n" not in content.text and "Traceback" not in content.text
        assert content.text.startswith(f"{tool}: ") and message in content.text, content.text
    assert mcp.ok("search", {"query": "XJ-4471b", "k": 1})["hits"]


# -- writing (after the reads) --------------------------------------------------------------------


def test_add_then_search(mcp):
    added = mcp.ok(
        "add",
        {"text": "The vault code ZQ-7731 opens the archive.", "id": "note-1",
         "metadata": {"lang": "en", "source": "notes/vault.md"}},
    )  # fmt: skip
    assert added == {"ids": ["note-1"], "indexed": 1, "replaced": 0, "unchanged": 0, "chunks": 1}
    # found by its terms (among the few best: BM25 over the tiny test tokenizer's pieces)
    hits = mcp.ok("search", {"query": "vault code ZQ-7731", "k": 3, "mode": "keyword"})["hits"]
    assert "note-1" in [h["document_id"] for h in hits]
    (hit,) = mcp.ok("search", {"query": "vault", "filter": {"source": "notes/vault.md"}})["hits"]
    assert (hit["document_id"], hit["metadata"]["lang"]) == ("note-1", "en")
    assert hit["text"] == "The vault code ZQ-7731 opens the archive."
    # the same id again replaces the document; the same text again changes nothing
    again = mcp.ok("add", {"text": "The vault code is now QP-5512.", "id": "note-1"})
    assert (again["indexed"], again["replaced"]) == (0, 1)
    hits = mcp.ok("search", {"query": "vault code", "k": 10})["hits"]
    assert [h["text"] for h in hits if h["document_id"] == "note-1"] == [
        "The vault code is now QP-5512."
    ]  # the old text is gone
    same = mcp.ok("add", {"text": "The vault code is now QP-5512.", "id": "note-1"})
    assert same["unchanged"] == 1 and same["chunks"] == 0


def test_add_chunks_as_index_does_and_derives_ids(mcp):
    from jina_v3 import Embedder
    from jina_v3.chunking import TextChunker

    sections = [f"## Step {i}\n\n" + f"Step {i} of the long procedure. " * 40 for i in range(4)]
    long_text = "# Procedure\n\n" + "\n\n".join(sections)
    texts = [long_text, "A short note about the QK-2 lever."]
    metadata = [{"kind": "guide"}, {"kind": "note"}]
    added = mcp.ok("add", {"texts": texts, "metadata": metadata})
    chunker = TextChunker.for_embedder(Embedder(str(TINY_MODEL)))  # `jina-v3 index`'s (256)
    assert added["chunks"] == len(chunker(long_text)) + 1 > 2
    assert added["indexed"] == 2 and all(i.startswith("mcp-") for i in added["ids"])
    # the same texts again: the same ids, nothing stored twice
    again = mcp.ok("add", {"texts": texts, "metadata": metadata})
    assert again["ids"] == added["ids"] and again["unchanged"] == 2
    hit = mcp.ok("search", {"query": "Step 3 of the long procedure", "k": 1})["hits"][0]
    assert hit["document_id"] == added["ids"][0] and hit["headings"].startswith("# Procedure")
    listed = mcp.ok("list_documents", {"filter": {"kind": "guide"}})["documents"]
    assert [(d["document_id"], d["chunks"]) for d in listed] == [
        (added["ids"][0], added["chunks"] - 1)
    ]


def test_delete_by_id_and_by_source(mcp, corpus):
    mcp.ok("add", {"text": "Temporary note XR-1.", "id": "tmp-1", "metadata": {"source": "tmp"}})
    assert mcp.ok("delete", {"id": "tmp-1"}) == {"deleted_chunks": 1}
    assert "tmp-1" not in [h["document_id"] for h in mcp.ok("search", {"query": "XR-1"})["hits"]]
    # a file's documents, by its source as list_documents shows it
    printer = str(corpus.work / "docs" / "printer.md")
    points = next(
        d["chunks"] for d in mcp.ok("list_documents")["documents"] if d["source"] == printer
    )
    assert mcp.ok("delete", {"source": printer}) == {"deleted_chunks": points}
    sources = [d["source"] for d in mcp.ok("list_documents")["documents"]]
    assert printer not in sources and str(corpus.work / "docs" / "de.txt") in sources
    again = mcp.call("delete", {"source": printer})
    assert again.is_error and "matched no document" in again.content[0].text


# -- transports, access and startup -------------------------------------------------------------


@pytest.fixture(scope="module")
def edge(indexed, store_root, tmp_path_factory):
    """The Qdrant Edge corpus (indexed already when the tests above ran on it)."""
    pytest.importorskip("qdrant_edge")
    if "qdrant-edge" not in indexed:
        work = tmp_path_factory.mktemp("mcp-edge")
        indexed["qdrant-edge"] = index_corpus("qdrant-edge", store_root / "edge", work, reads=False)
    return indexed["qdrant-edge"]


def test_http_needs_the_key(edge, tmp_path):
    import httpx

    uri = edge.copy("keyed")
    with http_server(uri, edge.work, tmp_path / "stderr.txt", key=KEY) as url:
        hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
            response = httpx.post(url, json=hello, headers=headers)
            assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        session = http_session(url, KEY)
        try:
            assert set(session.tools()) == TOOLS  # with the key: writable
            assert session.ok("search", {"query": "XJ-4471b", "k": 1})["hits"]
        finally:
            session.close()
    assert KEY not in (tmp_path / "stderr.txt").read_text()


def test_http_without_a_key_is_read_only(edge, tmp_path):
    uri = edge.copy("open")
    with http_server(uri, edge.work, tmp_path / "stderr.txt") as url:
        session = http_session(url)
        try:
            assert set(session.tools()) == {"search", "list_documents", "info"}
            assert session.ok("info")["read_only"] is True
            refused = session.call("add", {"text": "not written"})
            assert refused.is_error and "read-only" in refused.content[0].text
            assert session.ok("search", {"query": "XJ-4471b", "k": 1})["hits"]
        finally:
            session.close()


def _exchange(proc: subprocess.Popen, messages: list[dict]) -> list[str]:
    """Send `messages` on stdin; the stdout lines until every request is answered (calls
    run concurrently: answers come in any order)."""
    waiting = {m["id"] for m in messages if "id" in m}
    for message in messages:
        proc.stdin.write(json.dumps(message) + "\n")
    proc.stdin.flush()
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            waiting.discard(json.loads(line).get("id"))
            if not waiting:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(120)
    return lines


def test_stdout_carries_protocol_messages_only(edge, tmp_path):
    """Raw stdio, as a desktop agent sees it: every stdout line is a JSON-RPC message, while
    the startup line and the warnings go to stderr. The store and `k` come
    from the settings file, as they do for `index` and `search`."""
    uri = edge.copy("raw")
    project = edge.work / "project"
    project.mkdir()
    (project / "jina-v3.toml").write_text(f'store = "{uri}"\nk = 2\n')
    call = {"jsonrpc": "2.0", "method": "tools/call"}
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {**call, "id": 3, "params": {"name": "search", "arguments": {"query": "XJ-4471b"}}},
        {**call, "id": 4, "params": {"name": "search", "arguments": {"query": 5}}},
        {**call, "id": 5, "params": {"name": "add", "arguments": {"text": "x"}}},
    ]  # fmt: skip
    with open(tmp_path / "stderr.txt", "w") as log:
        proc = subprocess.Popen(
            mcp_command("--read-only"),  # no --store: the settings file's
            cwd=project,
            env=server_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        lines = _exchange(proc, messages)
        proc.stdin.close()  # how a client ends a stdio session
        assert proc.wait(60) == 0
        lines += proc.stdout.readlines()
    finally:
        if proc.poll() is None:
            proc.kill()
    answers = {}
    for line in lines:
        message = json.loads(line)  # every line is one JSON-RPC message
        assert message["jsonrpc"] == "2.0"
        answers[message["id"]] = message
    assert sorted(answers) == [1, 2, 3, 4, 5]
    assert [t["name"] for t in answers[2]["result"]["tools"]] == [
        "search",
        "list_documents",
        "info",
    ]
    search = next(t for t in answers[2]["result"]["tools"] if t["name"] == "search")
    assert search["inputSchema"]["properties"]["k"]["default"] == 2  # the file's k
    assert len(answers[3]["result"]["structuredContent"]["hits"]) == 2
    assert answers[4]["result"]["isError"] and answers[5]["result"]["isError"]
    stderr = (tmp_path / "stderr.txt").read_text()
    # the licence note is for Jina's published weights only, never the test checkpoint's
    # (it would go to stderr too: whatever writes to stdout lands there, tested below)
    assert "CC BY-NC" not in stderr
    assert "jina-v3 mcp: serving 'documents' of " in stderr
    assert "Traceback" not in stderr


def test_protocol_stdout_keeps_stray_writes_off_the_wire(tmp_path):
    """Whatever writes to stdout while serving (print, a C library, a child process) lands on
    stderr; only the wire reaches stdout."""
    script = (
        "import os, subprocess, sys\n"
        "from jina_v3.mcp.transports import protocol_stdout\n"
        "with protocol_stdout() as wire:\n"
        "    print('python print')\n"
        "    sys.stdout.flush()\n"
        "    os.write(1, b'fd 1\\n')\n"
        "    subprocess.run([sys.executable, '-c', 'print(\"child\")'])\n"
        '    wire.write(b\'{"jsonrpc": "2.0"}\\n\')\n'
        "print('after')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '{"jsonrpc": "2.0"}\nafter\n'
    assert proc.stderr.split() == ["python", "print", "fd", "1", "child"]


def test_startup_errors_are_one_line(edge, tmp_path):
    uri = edge.copy("errors")
    # read-only on a collection that does not exist: nothing to serve
    proc = cli("mcp", "--store", uri, "--collection", "nothere", "--read-only", cwd=edge.work)
    line = error_line(proc)
    assert proc.returncode == 2 and "jina-v3 index PATH" in line and not proc.stdout
    # another size than the collection's: refused before serving, with the flag that fits
    proc = cli("mcp", "--store", uri, "--dimensions", "16", cwd=edge.work)
    line = error_line(proc)
    assert proc.returncode == 2 and "DimensionMismatchError" in line and "--dimensions 64" in line
    # a port in use
    with _listening() as port:
        proc = cli("mcp", "--store", uri, "--http", "--port", str(port), cwd=edge.work)
    line = error_line(proc)
    assert proc.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in line
    assert "--port" in line
    # search's default k beyond what a search returns
    proc = cli("mcp", "--store", uri, "-k", "500", cwd=edge.work)
    assert proc.returncode == 2 and "-k must be an integer from 1 to 100" in error_line(proc)


@contextlib.contextmanager
def _listening():
    """A port another socket listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]
