"""`jina-v3 index / search / info / delete` end to end, as subprocesses, with the tiny
checkpoint, on each embedded store: the sample corpus indexed and searched, re-runs that
re-embed nothing, a changed file replaced, a deleted one pruned, and every failure one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from jina_v3.sources import identity
from tests.cli.conftest import (
    CHUNK_TOKENS,
    DATA,
    STORES,
    clean_env,
    cli,
    dump,
    error_line,
    expected_points,
    store_uri,
)
from tests.conftest import published_copy

pytest.importorskip("torch")


@pytest.fixture(scope="module", params=STORES)
def indexed(request, fast_dir, tmp_path_factory, tiny_embedder):
    """A copy of the sample corpus (plus one file of a second root) indexed into one store."""
    kind = request.param
    work = tmp_path_factory.mktemp(kind)
    corpus = work / "corpus"
    shutil.copytree(DATA, corpus)
    (work / "extra").mkdir()
    (work / "extra" / "note.txt").write_text("A note outside the corpus.", encoding="utf-8")
    folder = fast_dir / kind
    folder.mkdir()
    env = SimpleNamespace(kind=kind, work=work, corpus=corpus, uri=store_uri(kind, folder))
    env.index = lambda *extra: cli(
        "index", "corpus", "extra", "--store", env.uri, "--chunk-tokens", str(CHUNK_TOKENS),
        *extra, cwd=work)  # fmt: skip
    env.expected = lambda: {
        **expected_points(corpus, tiny_embedder),
        **expected_points(work / "extra", tiny_embedder),
    }
    env.first = env.index()
    env.berlin = identity(corpus / "docs" / "en" / "berlin.md")
    env.lyon = identity(corpus / "docs" / "fr" / "lyon.md")
    env.documents = len({v[0] for v in env.expected().values()})
    return env


def _ids(indexed):
    from jina_v3.store import point_id

    # every point id the corpus could have, including those of removed or shrunk documents
    docs = {v[0] for v in indexed.expected().values()} | set(indexed.__dict__.get("gone", ()))
    return {point_id(d, j) for d in docs for j in range(64)}


def _state(indexed):
    return dump(indexed.uri, _ids(indexed))


def test_index_the_sample_corpus_into_each_embedded_store(indexed):
    proc = indexed.first
    assert proc.returncode == 0, proc.stderr
    assert f"{indexed.documents} documents indexed, 0 skipped unchanged, 0 replaced" in proc.stdout
    assert "failed" not in proc.stdout and "warning" not in proc.stderr
    stored = _state(indexed)
    expected = indexed.expected()
    assert {k: v[:3] for k, v in stored.items()} == expected  # exactly the chunks, as written
    berlin = next(v for v in stored.values() if v[0] == indexed.berlin)
    assert berlin[3]["source"] == indexed.berlin  # the file's absolute path
    assert identity(indexed.corpus) in berlin[3]["source_folders"]
    kb = next(v for v in stored.values() if v[0] == "kb-lisbon-trams")
    assert kb[3]["source"] == identity(indexed.corpus / "knowledge_base.jsonl")
    assert kb[3]["lang"] == "en"
    info = cli("info", "--store", indexed.uri, "--json", cwd=indexed.work)
    (row,) = json.loads(info.stdout)["collections"]
    assert row["collection"] == "documents" and row["points"] == len(expected)
    assert row["signature"]["dimensions"] == 64 and row["signature"]["late_chunking"] is False


def test_search_as_json_and_as_a_table(indexed):
    proc = cli("search", "Berlin capital Germany", "--store", indexed.uri, "-k", "6", "--json",
               cwd=indexed.work)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)
    assert len(hits) == 6 and [h["rank"] for h in hits] == [1, 2, 3, 4, 5, 6]
    assert hits == sorted(hits, key=lambda h: (-h["score"], h["id"]))
    expected = indexed.expected()
    for hit in hits:
        assert set(hit) == {"rank", "id", "score", "source", "document_id", "chunk_index",
                            "text", "metadata"}  # fmt: skip
        assert expected[hit["id"]] == (hit["document_id"], hit["chunk_index"], hit["text"])
        assert hit["source"] == hit["metadata"]["source"]
    indexed.search_json = proc.stdout
    if indexed.kind != "qdrant-edge":
        return  # the table does not depend on the store
    table = cli("search", "Berlin capital Germany", "--store", indexed.uri, "-k", "3",
                cwd=indexed.work)  # fmt: skip
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["#", "score", "source", "snippet"] and len(lines) == 4
    assert [ln.split()[0] for ln in lines[1:]] == ["1", "2", "3"]
    assert all(ln.split()[1] == f"{h['score']:.4f}" for ln, h in zip(lines[1:], hits, strict=False))
    assert "**" in table.stdout  # the query's words are marked (bold on a terminal)


def test_a_rerun_re_embeds_nothing_and_duplicates_nothing(indexed):
    before = _state(indexed)
    proc = indexed.index()
    assert proc.returncode == 0, proc.stderr
    assert (
        f"0 documents indexed, {indexed.documents} skipped unchanged, 0 replaced: 0 chunks, "
        "0 tokens" in proc.stdout
    )
    assert _state(indexed) == before
    if indexed.kind == "qdrant-edge" and hasattr(indexed, "search_json"):  # same answers
        again = cli("search", "Berlin capital Germany", "--store", indexed.uri, "-k", "6",
                    "--json", cwd=indexed.work)  # fmt: skip
        assert again.stdout == indexed.search_json


def test_a_changed_file_alone_is_re_embedded_and_its_old_chunks_go(indexed):
    before = _state(indexed)
    old = [k for k, v in before.items() if v[0] == indexed.berlin]
    assert len(old) >= 2  # several chunks, of which only one will remain
    (indexed.corpus / "docs" / "en" / "berlin.md").write_text(
        "# Berlin\n\nBerlin has more bridges than Venice.\n", encoding="utf-8"
    )
    proc = indexed.index()
    assert proc.returncode == 0, proc.stderr
    unchanged = indexed.documents - 1
    assert (
        f"0 documents indexed, {unchanged} skipped unchanged, 1 replaced: 1 chunks" in proc.stdout
    )
    after = _state(indexed)
    now = {k: v for k, v in after.items() if v[0] == indexed.berlin}
    new = "# Berlin\n\nBerlin has more bridges than Venice."
    assert [v[1:3] for v in now.values()] == [(0, new)]
    others = {k: v for k, v in before.items() if v[0] != indexed.berlin}
    assert {k: v for k, v in after.items() if v[0] != indexed.berlin} == others


def test_prune_removes_the_documents_of_deleted_files_only_under_this_runs_roots(indexed):
    lyon = indexed.corpus / "docs" / "fr" / "lyon.md"
    if lyon.exists():
        lyon.unlink()
    note = identity(indexed.work / "extra" / "note.txt")
    indexed.gone = [indexed.lyon, note]
    (indexed.work / "extra" / "note.txt").unlink()  # a root this run does not name
    before = _state(indexed)
    assert any(v[0] == indexed.lyon for v in before.values())
    proc = cli("index", "corpus", "--store", indexed.uri, "--chunk-tokens", str(CHUNK_TOKENS),
               "--prune", cwd=indexed.work)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    removed = sum(v[0] == indexed.lyon for v in before.values())
    assert f"pruned {removed} chunks" in proc.stdout
    after = _state(indexed)
    assert after == {k: v for k, v in before.items() if v[0] != indexed.lyon}
    assert any(v[0] == note for v in after.values())  # another root: kept


# -- one store is enough for these ------------------------------------------------------------


@pytest.fixture(scope="module")
def edge(fast_dir, tmp_path_factory):
    pytest.importorskip("qdrant_edge")
    work = tmp_path_factory.mktemp("edge-small")
    (work / "docs").mkdir()
    (work / "docs" / "a.md").write_text("# Alpha\n\nThe first document.", encoding="utf-8")
    (work / "docs" / "b.txt").write_text("The second document.", encoding="utf-8")
    (work / "docs" / "kb.jsonl").write_text(
        '{"id": "k1", "text": "A line.", "lang": "en"}\n', encoding="utf-8"
    )
    uri = f"qdrant-edge:{fast_dir / 'edge-small'}"
    proc = cli("index", "docs", "--store", uri, cwd=work)
    assert proc.returncode == 0, proc.stderr
    return SimpleNamespace(work=work, uri=uri)


def test_wrong_dimensions_against_an_existing_collection_then_recreate(edge):
    proc = cli("index", "docs", "--store", edge.uri, "--dimensions", "8", cwd=edge.work)
    line = error_line(proc)
    assert proc.returncode == 2 and line.startswith("jina-v3 index: DimensionMismatchError")
    assert "--dimensions 64" in line and "--recreate" in line
    info = json.loads(cli("info", "--store", edge.uri, "--json", cwd=edge.work).stdout)
    assert info["collections"][0]["points"] == 3  # nothing written
    proc = cli("index", "docs", "--store", edge.uri, "--dimensions", "8", "--recreate",
               cwd=edge.work)  # fmt: skip
    assert proc.returncode == 0 and "3 documents indexed" in proc.stdout, proc.stderr
    (row,) = json.loads(cli("info", "--store", edge.uri, "--json", cwd=edge.work).stdout)[
        "collections"
    ]
    assert row["points"] == 3 and row["signature"]["dimensions"] == 8


def test_search_takes_its_settings_from_the_collection_and_checks_the_model(edge, tmp_path):
    # no --dimensions needed: the signature has them; another model is refused by it
    tiny = Path(__file__).parents[1] / "fixtures" / "tiny-v3"
    other = tmp_path / "other-model"
    other.mkdir()
    for file in tiny.iterdir():
        (other / file.name).symlink_to(file)
    config = json.loads((tiny / "config.json").read_text())
    (other / "config.json").unlink()
    (other / "config.json").write_text(json.dumps({**config, "_name_or_path": "other-v3"}))
    proc = cli("search", "first", "--store", edge.uri, "--model", str(other), cwd=edge.work)
    line = error_line(proc)
    assert proc.returncode == 2 and "SignatureMismatchError" in line
    assert "'tiny-v3'" in line and "'other-v3'" in line and "--collection" in line


def test_bad_store_uri_bad_filter_and_missing_collection_are_one_line(edge):
    cases = [
        (("index", "docs", "--store", "sqlite:x.db"), "qdrant-edge:./DIR"),
        (("search", "x", "--store", "nonsense"), "milvus-lite:./FILE.db"),
        (("index", "docs", "--store", "milvus-lite:/proc/no/x.db"), "/proc/no"),
        (("index", "docs", "--store", "qdrant:/proc/no"), "/proc/no"),
        (("search", "x", "--store", edge.uri, "--filter", "{lang: en}"), "--filter is not JSON"),
        (("search", "x", "--store", edge.uri, "--filter", "[1]"), "must be a JSON object"),
        (("search", "x", "--store", edge.uri, "--collection", "nope"), "'nope' does not exist"),
        (("delete", "--all", "--store", edge.uri, "--collection", "nope"), "does not exist"),
        (("index", "missing-folder", "--store", edge.uri), "no such file or folder"),
    ]
    for args, words in cases:
        proc = cli(*args, cwd=edge.work)
        line = error_line(proc)
        assert proc.returncode in (1, 2), (args, proc.stderr)  # 1: not the library's own error
        assert line.startswith(f"jina-v3 {args[0]}: ") and words in line, (args, line)
    proc = cli("search", "x", "--store", edge.uri, "--filter", '{"lang": {"$regex": "e"}}',
               cwd=edge.work)  # fmt: skip
    assert "UnsupportedFilterError" in error_line(proc) and proc.returncode == 2


def test_offline_without_weights_names_the_three_ways_out(edge, tmp_path):
    (tmp_path / "hf").mkdir()
    env = __import__("tests.cli.conftest", fromlist=["clean_env"]).clean_env(
        HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1"
    )
    for command in (("index", "docs"), ("search", "x")):
        # HF_HOME is read when huggingface_hub is imported: a process of its own
        proc = cli(*command, "--store", edge.uri, cwd=edge.work, env=env, process=True)
        line = error_line(proc)
        assert proc.returncode == 2 and "ModelLoadError" in line
        assert "--model PATH" in line and "JINA_V3_MODEL" in line and "JINA_API_KEY" in line


def test_corrupt_and_unreadable_files_are_skipped_and_counted(fast_dir, tmp_path):
    import os

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text("# Good\n\nA readable file.", encoding="utf-8")
    (docs / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    os.symlink(docs / "vanished.md", docs / "broken.md")  # unreadable even as root
    os.mkfifo(docs / "pipe.txt")  # a reader that opened it would hang
    uri = f"qdrant-edge:{fast_dir / 'bad-files'}"
    proc = cli("index", "docs", "--store", uri, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "1 documents indexed, 0 skipped unchanged, 0 replaced, 3 failed" in proc.stdout
    warnings = [ln for ln in proc.stderr.splitlines() if "warning: skipped" in ln]
    assert len(warnings) == 3
    for name, why in (("latin1.txt", "not UTF-8"), ("broken.md", "broken link"),
                      ("pipe.txt", "not a regular file")):  # fmt: skip
        assert any(name in w and why in w for w in warnings), proc.stderr


def test_late_chunking_is_recorded_and_search_follows_it(fast_dir, edge):
    uri = f"qdrant-edge:{fast_dir / 'late'}"
    proc = cli("index", "docs", "--store", uri, "--late-chunking", "--dimensions", "32",
               "--quiet", cwd=edge.work)  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    (row,) = json.loads(cli("info", "--store", uri, "--json", cwd=edge.work).stdout)["collections"]
    assert row["signature"]["late_chunking"] is True and row["signature"]["dimensions"] == 32
    hits = json.loads(cli("search", "first", "--store", uri, "--json", cwd=edge.work).stdout)
    docs = identity(edge.work / "docs")
    assert {h["document_id"] for h in hits} == {f"{docs}/a.md", f"{docs}/b.txt", "k1"}


def test_delete_by_source_by_id_and_all(fast_dir, edge):
    uri = f"qdrant-edge:{fast_dir / 'edge-small'}"

    def points():
        return json.loads(cli("info", "--store", uri, "--json", cwd=edge.work).stdout)[
            "collections"
        ][0]["points"]

    start = points()
    proc = cli("delete", "--store", uri, "--source", "docs/a.md", cwd=edge.work)
    assert proc.returncode == 0 and "deleted 1 point " in proc.stdout, proc.stderr
    proc = cli("delete", "--store", uri, "--id", "k1", cwd=edge.work)
    assert proc.returncode == 0 and "deleted 1 point " in proc.stdout
    assert points() == start - 2
    proc = cli("delete", "--store", uri, "--all", cwd=edge.work)
    assert proc.returncode == 0 and points() == 0
    proc = cli("delete", "--store", uri, cwd=edge.work)  # one of the three is required
    assert proc.returncode == 2 and "--source" in proc.stderr


def test_progress_is_a_live_bar_on_a_terminal(fast_dir, edge):
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    from tests.cli.conftest import clean_env
    from tests.conftest import TINY_MODEL

    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a real size
    proc = subprocess.Popen(
        [sys.executable, "-m", "jina_v3.cli", "index", "docs", "--store",
         f"qdrant-edge:{fast_dir / 'tty'}"],
        cwd=edge.work, env=clean_env(JINA_V3_MODEL=str(TINY_MODEL)),
        stdout=subprocess.PIPE, stderr=child, text=True,
    )  # fmt: skip
    os.close(child)
    out = b""
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        out += data
    os.close(main)
    assert proc.wait(timeout=60) == 0
    shown = out.decode("utf-8", "replace")
    assert "3/3" in shown and "100%" in shown and "chunks" in shown and "tokens/s" in shown
    assert "3 documents indexed" in proc.stdout.read()


def test_the_model_comes_from_the_flag_the_environment_the_api_key_or_the_hub(monkeypatch):
    from argparse import Namespace

    from jina_v3.cli.index import HUB_MODEL, resolve_model

    for name in ("JINA_V3_MODEL", "JINA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    args = Namespace(model=None, api=False)
    assert resolve_model(args) == ("local", HUB_MODEL)
    monkeypatch.setenv("JINA_API_KEY", "jina_x")
    assert resolve_model(args) == ("api", None)
    monkeypatch.setenv("JINA_V3_MODEL", "/models/v3")
    assert resolve_model(args) == ("local", "/models/v3")
    assert resolve_model(Namespace(model="./ckpt", api=False)) == ("local", "./ckpt")
    assert resolve_model(Namespace(model=None, api=True)) == ("api", None)


def test_prune_removes_the_lines_gone_from_a_jsonl_file(fast_dir, tmp_path):
    pytest.importorskip("qdrant_edge")
    (tmp_path / "kb").mkdir()
    kb = tmp_path / "kb" / "kb.jsonl"
    kb.write_text("".join(f'{{"id": "k{i}", "text": "Line {i}."}}\n' for i in range(3)))
    uri = f"qdrant-edge:{fast_dir / 'jsonl-prune'}"
    assert cli("index", "kb", "--store", uri, cwd=tmp_path).returncode == 0
    kb.write_text('{"id": "k0", "text": "Line 0."}\n{"id": "k2", "text": "Line 2."}\n')
    proc = cli("index", "kb", "--store", uri, "--prune", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "pruned 1 chunks" in proc.stdout
    found = cli("search", "Line", "--store", uri, "--json", "-k", "10", cwd=tmp_path)
    assert sorted(h["document_id"] for h in json.loads(found.stdout)) == ["k0", "k2"]


# -- every hint names what the command at hand has; bad input is refused before any work ----


def test_a_mismatch_names_every_difference_and_the_flags_of_index(edge):
    # with data: an empty collection is re-created for new settings, never refused
    assert cli("index", "docs", "--store", edge.uri, cwd=edge.work).returncode == 0
    info = json.loads(cli("info", "--store", edge.uri, "--json", cwd=edge.work).stdout)
    (row,) = info["collections"]
    dims = row["signature"]["dimensions"]  # 64, or 8 once the test above rebuilt it
    proc = cli("index", "docs", "--store", edge.uri, "--dimensions", "16", "--late-chunking",
               cwd=edge.work)  # fmt: skip
    line = error_line(proc)
    assert proc.returncode == 2 and line.startswith("jina-v3 index: DimensionMismatchError")
    assert f"dimensions: collection has {dims}, this index uses 16" in line
    assert "late_chunking: collection has False, this index uses True" in line
    assert f"--dimensions {dims} and drop --late-chunking" in line and "--recreate" in line
    assert "=" not in line.split("Fix:")[1]  # no Python parameter (dimensions=, recreate=True)


def test_search_names_no_flag_it_lacks(edge, tmp_path):
    tiny = Path(__file__).parents[1] / "fixtures" / "tiny-v3"
    other = tmp_path / "other-model"
    shutil.copytree(tiny, other)
    config = json.loads((tiny / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "_name_or_path": "other-v3"}))
    proc = cli("search", "first", "--store", edge.uri, "--model", str(other), cwd=edge.work)
    line = error_line(proc)
    fix = line.split("Fix:")[1]
    assert "model: collection has 'tiny-v3', this search uses 'other-v3'" in line
    assert "use its model 'tiny-v3'" in fix and "--model" in fix
    assert "jina-v3 index PATH --collection documents --recreate" in fix
    assert "pass --recreate" not in fix and "=" not in fix

    proc = cli("search", "word " * 9000, "--store", edge.uri, cwd=edge.work)
    line = error_line(proc)
    assert proc.returncode == 2 and "InputTooLongError: The query has" in line
    assert "shorten it" in line and "truncate" not in line


def test_bad_chunk_tokens_and_filters_are_refused_before_the_model_loads(edge, tmp_path):
    # Jina's weights by their config: loading them would print the licence note
    env = clean_env(JINA_V3_MODEL=str(published_copy(tmp_path)))
    deep_json = '{"a": ' * 3000 + "1" + "}" * 3000
    deep_and = '{"$and": [' * 40 + '{"lang": "en"}' + "]}" * 40
    cases = [
        (("index", "docs", "--chunk-tokens", "9000"), "--chunk-tokens must be between 1 and"),
        (("index", "docs", "--chunk-tokens", "0"), "--chunk-tokens must be between 1 and"),
        (("search", "x", "--filter", deep_json), "ConfigurationError: --filter nests too deep"),
        (("search", "x", "--filter", deep_and), "UnsupportedFilterError: filter nests over 32"),
        (("search", "x", "--filter", '{"a": {"$eq": {"b": 1}}}'), "takes a string, number"),
    ]
    before = cli("info", "--store", edge.uri, "--json", cwd=edge.work).stdout
    for args, words in cases:
        proc = cli(*args, "--store", edge.uri, cwd=edge.work, env=env)
        assert proc.returncode == 2, (args, proc.stderr)
        assert error_line(proc).startswith(f"jina-v3 {args[0]}: ") and words in proc.stderr
        assert ": note: " not in proc.stderr, args  # the licence note: the model loaded
    assert cli("info", "--store", edge.uri, "--json", cwd=edge.work).stdout == before
