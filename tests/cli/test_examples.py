"""The examples run as written: the quick start (the main job), the indexing script and the
RAG retrieval script, on the tiny checkpoint and, for the API variants, against our own
server speaking the hosted API (JINA_API_KEY / JINA_API_BASE_URL)."""

from __future__ import annotations

import pytest

from tests.cli.conftest import ROOT, clean_env, run_script
from tests.conftest import TINY_MODEL

pytest.importorskip("torch")
pytest.importorskip("qdrant_edge")

EXAMPLES = ROOT / "examples"


def _run(script, *args, cwd, env=None):
    proc = run_script(EXAMPLES / script, *args, cwd=cwd, env=env or clean_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return proc.stdout


def _documents():
    from jina_v3 import Document
    from jina_v3.sources import read_corpus

    return sum(isinstance(d, Document) for d in read_corpus([EXAMPLES / "data"]))


def test_quickstart_indexes_the_sample_corpus_and_searches_it(tmp_path):
    out = _run("quickstart.py", "--model", str(TINY_MODEL), cwd=tmp_path)
    assert f"{_documents()} documents indexed, 0 skipped unchanged" in out
    assert "qdrant-edge:./.jina-v3 (collection 'quickstart')" in out
    assert (tmp_path / ".jina-v3").is_dir()  # the default store, in the working directory
    queries = [line for line in out.splitlines() if line.startswith("query: ")]
    assert len(queries) == 4
    assert "docs/" in out and ".jsonl" in out  # hits from the folders and the .jsonl files


def test_rag_indexes_when_needed_and_the_indexing_script_then_skips_everything(tmp_path):
    model = ("--model", str(TINY_MODEL))
    out = _run("rag.py", "Wo liegt Hamburg?", "-k", "3", *model, cwd=tmp_path)
    assert "no collection 'documents'" in out and "documents indexed" in out
    prompt = out[out.index("Answer the question") :]
    assert "[1] (" in prompt and "[3] (" in prompt and "[4] (" not in prompt
    assert prompt.rstrip().endswith("Question: Wo liegt Hamburg?\nAnswer:")
    out = _run("index_corpus.py", *model, cwd=tmp_path)
    assert f"0 documents indexed, {_documents()} skipped unchanged" in out
    out = _run("rag.py", "Wo liegt Hamburg?", "--filter", '{"lang": "de"}', *model, cwd=tmp_path)
    assert "no collection" not in out and "[1] (" in out
    assert not any(f"/docs/{lang}/" in out for lang in ("en", "fr", "es", "ja", "zh"))
    assert ".jsonl › " in out  # a .jsonl line: its file and its id


def test_the_api_variants_against_a_server_speaking_the_hosted_api(tmp_path, tiny_embedder):
    pytest.importorskip("fastapi")
    from jina_v3.server import create_app
    from tests._servers import ServerThread

    with ServerThread(create_app(tiny_embedder, api_key="test-key")) as server:
        env = clean_env(JINA_API_KEY="test-key", JINA_API_BASE_URL=server.url)
        store = ("--store", "milvus-lite:./api.db") if _has("milvus_lite") else ()
        out = _run("index_corpus.py", "--api", "--dimensions", "32", *store, cwd=tmp_path,
                   env=env)  # fmt: skip
        assert f"{_documents()} documents indexed" in out
        out = _run("rag.py", "capital of Germany", "--api", *store, cwd=tmp_path, env=env)
        assert "[1] (" in out and "Question: capital of Germany" in out


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None
