"""`jina-v3 index --hybrid` and `jina-v3 search --mode`, as subprocesses with the tiny checkpoint
on the default store (Qdrant Edge): the channel recorded, searched hybrid by default, and every
refusal one line."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import cli, error_line

pytest.importorskip("torch")
pytest.importorskip("qdrant_edge")

FILES = {
    "printer.md": "# Printer\n\nThe printer reports error XJ-4471b after the paper jam.",
    "de.txt": "Die Hauptstadt von Frankreich ist Paris.",
    "winter.txt": "The weather in winter is cold and the trains are late.",
    "museum.txt": "The city museum opens on Sundays at ten.",
    "market.txt": "The market sells bread and cheese.",
}


@pytest.fixture(scope="module")
def hybrid(fast_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("hybrid")
    (work / "docs").mkdir()
    for name, text in FILES.items():
        (work / "docs" / name).write_text(text, encoding="utf-8")
    uri = f"qdrant-edge:{fast_dir / 'hybrid'}"
    proc = cli("index", "docs", "--store", uri, "--hybrid", "--quiet", cwd=work)
    assert proc.returncode == 0, proc.stderr
    return work, uri


def test_index_hybrid_records_the_channel_and_search_uses_it(hybrid):
    work, uri = hybrid
    (row,) = json.loads(cli("info", "--store", uri, "--json", cwd=work).stdout)["collections"]
    assert row["signature"]["keywords"].startswith("bm25(k1=1.2,b=0.75,avg=256);tokenizer=")

    def search(*extra):
        proc = cli("search", "XJ-4471b", "--store", uri, "--json", *extra, cwd=work)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    keyword = search("--mode", "keyword")
    assert keyword[0]["source"].endswith("printer.md") and keyword[0]["score"] > 1
    default = search()  # hybrid: the collection has the channel
    assert any(h["source"].endswith("printer.md") for h in default[:2])
    assert all(0 < h["score"] <= 1 for h in default)
    dense = search("--mode", "dense")
    assert [h["score"] for h in dense] != [h["score"] for h in default]


def test_keyword_mode_without_the_channel_is_one_line(hybrid, fast_dir):
    work, _ = hybrid
    plain = f"qdrant-edge:{fast_dir / 'plain'}"
    assert cli("index", "docs", "--store", plain, "--quiet", cwd=work).returncode == 0
    proc = cli("search", "XJ-4471b", "--store", plain, "--mode", "keyword", cwd=work)
    line = error_line(proc)
    assert proc.returncode == 2 and "ConfigurationError" in line and "--hybrid" in line


def test_milvus_lite_takes_hybrid_too(hybrid, fast_dir):
    pytest.importorskip("milvus_lite")
    work, _ = hybrid
    milvus = f"milvus-lite:{fast_dir / 'm.db'}"
    proc = cli("index", "docs", "--store", milvus, "--hybrid", "--quiet", cwd=work)
    assert proc.returncode == 0, proc.stderr
    proc = cli("search", "XJ-4471b", "--store", milvus, "--mode", "keyword", "--json", cwd=work)
    assert json.loads(proc.stdout)[0]["source"].endswith("printer.md")


def test_a_store_without_the_channel_is_told_as_flags():
    pytest.importorskip("pymilvus")
    from jina_v3.cli.main import describe
    from jina_v3.connectors.milvus import MilvusStore
    from jina_v3.errors import ConfigurationError
    from jina_v3.store import EmbeddingSignature

    server = MilvusStore("docs", uri="http://127.0.0.1:9")
    with pytest.raises(ConfigurationError) as refused:  # the check ensure_collection runs first
        server._check_fits(EmbeddingSignature("m", 8, keywords="bm25"))
    line = describe(refused.value)
    assert "no keyword channel" in line and "drop --hybrid" in line
    assert "qdrant-edge:, qdrant:, pinecone: or milvus-lite: --store" in line
