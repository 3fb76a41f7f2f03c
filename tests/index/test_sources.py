"""`jina_v3.sources`: the corpus reader behind `jina-v3 index` (pure, picklable, never fatal)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from jina_v3 import ConfigurationError, Document
from jina_v3.sources import SkippedFile, list_files, read_corpus, read_file, root_name

DATA = Path(__file__).parents[2] / "examples" / "data"


def _split(items):
    docs = [i for i in items if isinstance(i, Document)]
    skipped = [i for i in items if isinstance(i, SkippedFile)]
    return docs, skipped


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "docs" / "b").mkdir(parents=True)
    (tmp_path / "docs" / "a.md").write_text("# A\n\nalpha text", encoding="utf-8")
    (tmp_path / "docs" / "b" / "c.txt").write_text("gamma", encoding="utf-8")
    (tmp_path / "docs" / "b" / "skip.bin").write_bytes(b"\x00binary")
    (tmp_path / "docs" / ".hidden").mkdir()
    (tmp_path / "docs" / ".hidden" / "x.md").write_text("hidden", encoding="utf-8")
    lines = [
        {"id": "k1", "text": "one", "lang": "en"},
        {"text": "two", "metadata": {"topic": "t"}},
        {"id": 7, "text": "seven", "source": "overridden"},
    ]
    (tmp_path / "docs" / "kb.jsonl").write_text(
        "\n".join(json.dumps(r) for r in lines) + "\n\n", encoding="utf-8"
    )
    return tmp_path


def test_folder_ids_metadata_and_order(tree, monkeypatch):
    monkeypatch.chdir(tree)
    docs, skipped = _split(list(read_corpus(["./docs/"])))
    assert not skipped
    assert [d.id for d in docs] == ["a.md", "b/c.txt", "k1", "kb.jsonl#2", "7"]
    assert docs[0].text == "# A\n\nalpha text"
    assert docs[0].metadata == {"source": "a.md", "source_root": "docs"}
    assert docs[2].metadata == {"lang": "en", "source": "kb.jsonl", "source_root": "docs"}
    assert docs[3].metadata == {"topic": "t", "source": "kb.jsonl", "source_root": "docs"}
    assert docs[4].metadata["source"] == "kb.jsonl"  # the reader's own keys win
    assert list(read_corpus("docs")) == list(read_corpus(["docs"]))  # deterministic


def test_a_file_root_is_its_own_id_and_source(tree, monkeypatch):
    monkeypatch.chdir(tree)
    (doc,) = read_corpus(["docs/b/c.txt"])
    assert doc.id == "docs/b/c.txt"
    assert doc.metadata == {"source": "docs/b/c.txt", "source_root": "docs/b/c.txt"}
    (skipped,) = read_corpus(["docs/b/skip.bin"])
    assert isinstance(skipped, SkippedFile) and "skip.bin" in str(skipped)


def test_glob_matches_names_and_relative_paths(tree):
    root = str(tree / "docs")
    assert [d.id for d in read_corpus(root, glob="*.md")] == ["a.md"]
    assert [d.id for d in read_corpus(root, glob="b/*.txt")] == ["b/c.txt"]
    assert [d.id for d in read_corpus(root, glob="**/*.txt")] == ["b/c.txt"]


def test_a_missing_root_fails_at_once(tmp_path):
    with pytest.raises(ConfigurationError, match="no such file or folder"):
        read_corpus([str(tmp_path / "nowhere")])
    with pytest.raises(ConfigurationError, match="no path"):
        read_corpus([])


def test_bad_files_are_skipped_with_one_line_each_never_fatal(tree):
    docs_dir = tree / "docs"
    (docs_dir / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (docs_dir / "empty.md").write_text("  \n", encoding="utf-8")
    os.symlink(docs_dir / "gone.md", docs_dir / "broken.md")
    os.mkfifo(docs_dir / "pipe.txt")  # opening it would block: never opened
    docs, skipped = _split(list(read_corpus(str(docs_dir))))
    assert [d.id for d in docs] == ["a.md", "b/c.txt", "k1", "kb.jsonl#2", "7"]
    reasons = {s.source: s.reason for s in skipped}
    assert "not UTF-8" in reasons["latin1.txt"] and "byte 3" in reasons["latin1.txt"]
    assert "empty" in reasons["empty.md"]
    assert "broken link" in reasons["broken.md"]
    assert "not a regular file" in reasons["pipe.txt"]
    assert all("\n" not in str(s) for s in skipped)


def test_bad_jsonl_lines_are_skipped_by_line(tmp_path):
    rows = [
        '{"id": "ok", "text": "fine"}',
        "not json",
        "[1, 2]",
        '{"id": "no-text"}',
        '{"id": [1], "text": "x"}',
        '{"id": "reserved", "text": "x", "chunk_index": 3}',
        '{"id": "surrogate", "text": "\\ud800"}',
        '{"id": "ok", "text": "again"}',
        '{"id": "meta", "text": "x", "metadata": 5}',
    ]
    raw = "\n".join(rows).encode() + b'\n{"text": "caf\xe9"}\n'
    (tmp_path / "kb.jsonl").write_bytes(raw)
    docs, skipped = _split(list(read_corpus(str(tmp_path))))
    assert [d.id for d in docs] == ["ok"]
    lines = [f"kb.jsonl#{n}" for n in range(2, 8)]
    assert [s.source for s in skipped] == [*lines, "kb.jsonl", "kb.jsonl#9", "kb.jsonl#10"]
    where = {s.source: s.reason for s in skipped}
    assert "not JSON" in where["kb.jsonl#2"]
    assert "object" in where["kb.jsonl#3"]
    assert "text" in where["kb.jsonl#4"]
    assert "'id'" in where["kb.jsonl#5"]
    assert "reserved" in where["kb.jsonl#6"]
    assert "surrogate" in where["kb.jsonl#7"]
    assert "duplicate id 'ok'" in where["kb.jsonl"]
    assert "'metadata'" in where["kb.jsonl#9"]
    assert "UTF-8" in where["kb.jsonl#10"]


def test_duplicate_ids_across_roots_keep_the_first(tmp_path):
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "same.md").write_text(name, encoding="utf-8")
    items = list(read_corpus([str(tmp_path / "one"), str(tmp_path / "two")]))
    assert items[0].text == "one"
    assert isinstance(items[1], SkippedFile) and "duplicate id 'same.md'" in items[1].reason


def test_the_work_splits_and_pickles(tmp_path):
    files = list_files([str(DATA)])
    files = pickle.loads(pickle.dumps(files))
    docs = [d for f in files for d in read_file(f)]
    assert pickle.loads(pickle.dumps(docs)) == docs
    assert docs == [d for d in read_corpus([str(DATA)]) if isinstance(d, Document)]
    assert root_name("./examples//data/") == "examples/data"


def test_the_sample_corpus_reads_cleanly():
    items = list(read_corpus([str(DATA)]))
    docs, skipped = _split(items)
    assert not skipped, skipped
    assert len(docs) >= 17
    assert {d.metadata["source_root"] for d in docs} == {root_name(DATA)}
    assert any(d.metadata["source"].endswith(".jsonl") and "lang" in d.metadata for d in docs)
