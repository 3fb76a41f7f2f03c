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
    # copy's own way out, not the index command's flags
    assert "--to-collection NAME, or into another store" in error_line(refused)
    assert "--recreate" not in error_line(refused) and "--dimensions" not in error_line(refused)


HYBRID_FILES = {
    "printer.md": "# Printer\n\nThe printer reports error XJ-4471b after the paper jam.",
    "de.txt": "Die Hauptstadt von Frankreich ist Paris. Paris ist groß.",
    "winter.txt": "The weather in winter is cold and the trains are late, late, late.",
    "museum.txt": "The city museum opens on Sundays at ten.",
}


@pytest.fixture(scope="module")
def hybrid(fast_dir, tmp_path_factory):
    pytest.importorskip("qdrant_edge")
    work = tmp_path_factory.mktemp("hybrid-copy")
    (work / "docs").mkdir()
    for name, text in HYBRID_FILES.items():
        (work / "docs" / name).write_text(text, encoding="utf-8")
    folder = fast_dir / "hybrid-copy"
    uri = f"qdrant-edge:{folder / 'edge'}"
    proc = cli("index", "docs", "--store", uri, "--hybrid", "--quiet", cwd=work)
    assert proc.returncode == 0, proc.stderr
    return work, uri, folder


def _answers(work, uri, collection="documents"):
    out = []
    for mode in ("keyword", "hybrid"):
        for query in ("XJ-4471b", "Paris late"):
            proc = cli("search", query, "--store", uri, "--collection", collection, "--mode", mode,
                       "--json", cwd=work)  # fmt: skip
            assert proc.returncode == 0, proc.stderr
            out.append([(h["id"], round(h["score"], 5)) for h in json.loads(proc.stdout)])
    assert all(out)
    return out


def test_a_hybrid_collection_is_copied_exported_and_imported_quietly(hybrid):
    work, uri, folder = hybrid
    info = cli("info", "--store", uri, cwd=work).stdout.splitlines()
    assert info[1].split()[-1] == "keywords" and "bm25(k1=1.2,b=0.75,avg=256)" in info[2]
    want = _answers(work, uri)

    copied = f"qdrant:{folder / 'qdrant'}"
    proc = cli("copy", uri, copied, "--quiet", cwd=work)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", ""), proc.stderr
    assert _answers(work, copied) == want  # keyword and hybrid hits, scores too

    dump = work / "hybrid.jsonl"
    assert cli("export", str(dump), "--store", uri, "--quiet", cwd=work).returncode == 0
    imported = f"qdrant-edge:{folder / 'imported'}"
    proc = cli("import", str(dump), "--store", imported, "--quiet", cwd=work)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", ""), proc.stderr
    assert _answers(work, imported) == want


def test_an_import_cut_short_fails_naming_the_file_and_its_lines(hybrid):
    work, uri, folder = hybrid
    dump = work / "cut.jsonl"
    assert cli("export", str(dump), "--store", uri, "--quiet", cwd=work).returncode == 0
    lines = dump.read_text().splitlines()
    points = len(lines) - 1
    dump.write_text("\n".join([*lines[:3], "{not json", *lines[4:-1]]) + "\n")  # one less
    target = f"qdrant-edge:{folder / 'cut'}"
    quiet = cli("import", str(dump), "--store", target, "--quiet", cwd=work)
    assert quiet.returncode == 2
    assert error_line(quiet) == (
        f"jina-v3 import: ConfigurationError: {dump}: {points - 2} points imported, but its "
        f"header says {points} points and it holds {points - 1} point lines (cut short, or "
        "edited: export the collection again); and 1 line was not imported "
        f"({dump}:4: fix and re-run; re-running is idempotent)"
    )
    loud = cli("import", str(dump), "--store", target, cwd=work)
    assert loud.returncode == 2 and loud.stdout == ""
    assert loud.stderr.splitlines()[0] == (
        f"jina-v3 import: warning: {dump}:4: not JSON (Expecting property name enclosed in "
        "double quotes at character 1); the line is not imported"
    )
    assert len(loud.stderr.splitlines()) == 2 and "Traceback" not in loud.stderr
