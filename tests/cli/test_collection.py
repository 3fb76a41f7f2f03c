"""`jina-v3 ls / copy / export / import` end to end, as subprocesses: the documents of a
collection listed on each embedded store (filtered by source and metadata, as a table and as
JSON lines), a copy searched like its source, an export imported, and failures in one line."""

from __future__ import annotations

import json
import shutil

import pytest

from jina_v3.sources import identity
from tests.cli.conftest import CHUNK_TOKENS, DATA, STORES, cli, error_line, store_uri

pytest.importorskip("torch")


@pytest.fixture(scope="module", params=STORES)
def indexed(request, fast_dir, tmp_path_factory):
    kind = request.param
    work = tmp_path_factory.mktemp(f"ls-{kind}")
    shutil.copytree(DATA, work / "corpus")
    folder = fast_dir / f"ls-{kind}"
    folder.mkdir()
    uri = store_uri(kind, folder)
    proc = cli("index", "corpus", "--store", uri, "--chunk-tokens", str(CHUNK_TOKENS), cwd=work)
    assert proc.returncode == 0, proc.stderr
    return work, uri, folder


def _expected(tiny_embedder, work):
    from tests.cli.conftest import expected_points

    docs: dict[str, int] = {}
    for document_id, _, _ in expected_points(work / "corpus", tiny_embedder).values():
        docs[document_id] = docs.get(document_id, 0) + 1
    return docs


def test_ls_lists_every_document_with_its_chunks(indexed, tiny_embedder):
    work, uri, _ = indexed
    proc = cli("ls", "--store", uri, "--json", cwd=work)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {r["document_id"]: r["chunks"] for r in rows} == _expected(tiny_embedder, work)
    assert rows == sorted(rows, key=lambda r: (r["source"], r["document_id"]))
    assert all(len(r["content_hash"]) == 32 and r["characters"] > 0 for r in rows)
    berlin_md = identity(
        work / "corpus" / "docs" / "en" / "berlin.md"
    )  # stored as its file's identity
    berlin = next(r for r in rows if r["document_id"] == berlin_md)
    assert berlin["source"] == berlin_md

    only_md = cli("ls", "--store", uri, "--json", "--source", "corpus/docs/en/*.md", cwd=work)
    sources = {json.loads(line)["source"] for line in only_md.stdout.splitlines()}
    en = f"{identity(work / 'corpus' / 'docs' / 'en')}/"
    assert sources == {r["source"] for r in rows if r["source"].startswith(en)
                       and r["source"].endswith(".md")} and sources  # fmt: skip
    german = cli("ls", "--store", uri, "--json", "--filter", '{"lang": "de"}', cwd=work)
    ids = {json.loads(line)["document_id"] for line in german.stdout.splitlines()}
    assert ids and all(i in {r["document_id"] for r in rows} for i in ids)
    assert berlin_md not in ids

    table = cli("ls", "--store", uri, cwd=work).stdout.splitlines()
    assert table[0].split() == ["source", "document", "chunks", "chars", "content", "hash"]
    assert table[-1].startswith(f"{len(rows)} documents, {sum(r['chunks'] for r in rows)} chunks")


def test_ls_of_a_missing_collection_and_a_bad_filter_are_one_line(indexed):
    work, uri, _ = indexed
    missing = cli("ls", "--store", uri, "--collection", "nope", cwd=work)
    assert missing.returncode == 2 and "does not exist" in error_line(missing)
    bad = cli("ls", "--store", uri, "--filter", "{lang", cwd=work)
    assert bad.returncode == 2 and "--filter is not JSON" in error_line(bad)


@pytest.mark.parametrize("indexed", ["qdrant-edge"], indirect=True)  # the library tests
def test_copy_export_import_on_the_command_line(indexed):  # cover every pair of stores
    work, uri, folder = indexed
    target = f"milvus-lite:{folder / 'copy.db'}"
    proc = cli("copy", uri, target, "--to-collection", "moved", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("copied ") and "points checked" in proc.stdout

    def search(store, collection):
        out = cli("search", "Berlin capital", "--store", store, "--collection", collection,
                  "--json", cwd=work)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return [(h["id"], round(h["score"], 5)) for h in json.loads(out.stdout)]

    assert search(target, "moved") == search(uri, "documents")
    again = cli("copy", uri, target, "--to-collection", "moved", cwd=work)  # idempotent
    assert again.returncode == 0, again.stderr

    dump = work / "documents.jsonl"
    exported = cli("export", str(dump), "--store", uri, cwd=work)
    assert exported.returncode == 0, exported.stderr
    head = json.loads(dump.read_text().splitlines()[0])
    assert head["collection"] == "documents" and head["signature"]["dimensions"] == 64
    fresh = f"qdrant-edge:{folder / 'imported'}"
    imported = cli("import", str(dump), "--store", fresh, cwd=work)
    assert imported.returncode == 0, imported.stderr
    assert search(fresh, "documents") == search(uri, "documents")

    onto_itself = cli("copy", uri, uri, cwd=work)
    assert "onto itself" in error_line(onto_itself)
    not_export = work / "corpus" / "knowledge_base.jsonl"
    assert "is not a jina-v3 export" in error_line(cli("import", str(not_export), cwd=work))
    other = cli("index", "corpus", "--store", f"qdrant-edge:{folder / 'other'}",
                "--dimensions", "16", "--chunk-tokens", str(CHUNK_TOKENS), cwd=work)  # fmt: skip
    assert other.returncode == 0, other.stderr
    refused = cli("copy", uri, f"qdrant-edge:{folder / 'other'}", cwd=work)
    assert refused.returncode == 2 and "16" in error_line(refused)
