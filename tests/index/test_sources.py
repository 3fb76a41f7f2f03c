"""`jina_v3.sources`: the corpus reader behind `jina-v3 index` (pure, picklable, never fatal)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from jina_v3 import ConfigurationError, Document
from jina_v3.sources import (
    SkippedFile,
    folders_of,
    identity,
    list_files,
    read_corpus,
    read_file,
)

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
        {"id": 7, "text": "seven", "where": "kept"},
    ]
    (tmp_path / "docs" / "kb.jsonl").write_text(
        "\n".join(json.dumps(r) for r in lines) + "\n\n", encoding="utf-8"
    )
    return tmp_path


def test_folder_ids_metadata_and_order(tree, monkeypatch):
    monkeypatch.chdir(tree)
    docs, skipped = _split(list(read_corpus(["./docs/"])))
    assert not skipped
    root = identity(tree / "docs")
    kb = f"{root}/kb.jsonl"
    assert [d.id for d in docs] == [f"{root}/a.md", f"{root}/b/c.txt", "k1", f"{kb}#2", "7"]
    assert docs[0].text == "# A\n\nalpha text"
    folders = [*folders_of(root), root]
    assert folders[-2:] == [identity(tree), root] and folders[0] == "/"
    assert docs[0].metadata == {"source": f"{root}/a.md", "source_folders": folders}
    assert docs[1].metadata["source_folders"] == [*folders, f"{root}/b"]
    assert docs[2].metadata == {"lang": "en", "source": kb, "source_folders": folders}
    assert docs[3].metadata == {"topic": "t", "source": kb, "source_folders": folders}
    assert docs[4].metadata["where"] == "kept"
    assert list(read_corpus("docs")) == list(read_corpus(["docs"]))  # deterministic


def test_a_file_root_is_its_own_id_and_source(tree, monkeypatch):
    monkeypatch.chdir(tree)
    (doc,) = read_corpus(["docs/b/c.txt"])
    assert doc.id == doc.metadata["source"] == identity(tree / "docs" / "b" / "c.txt")
    (skipped,) = read_corpus(["docs/b/skip.bin"])
    assert isinstance(skipped, SkippedFile) and "skip.bin" in str(skipped)


def test_glob_matches_names_and_relative_paths(tree):
    root = str(tree / "docs")
    real = identity(root)
    assert [d.id for d in read_corpus(root, glob="*.md")] == [f"{real}/a.md"]
    assert [d.id for d in read_corpus(root, glob="b/*.txt")] == [f"{real}/b/c.txt"]
    assert [d.id for d in read_corpus(root, glob="**/*.txt")] == [f"{real}/b/c.txt"]


def test_a_missing_root_fails_at_once(tmp_path):
    with pytest.raises(ConfigurationError, match="no such file or folder"):
        read_corpus([str(tmp_path / "nowhere")])
    with pytest.raises(ConfigurationError, match="no path"):
        read_corpus([])


def test_bad_files_are_skipped_with_one_line_each_never_fatal(tree, monkeypatch):
    monkeypatch.chdir(tree / "docs")  # skipped files are named relative to the cwd
    docs_dir = tree / "docs"
    (docs_dir / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (docs_dir / "empty.md").write_text("  \n", encoding="utf-8")
    os.symlink(docs_dir / "gone.md", docs_dir / "broken.md")
    os.mkfifo(docs_dir / "pipe.txt")  # opening it would block: never opened
    docs, skipped = _split(list(read_corpus(str(docs_dir))))
    real = identity(docs_dir)
    assert [d.id for d in docs] == [
        f"{real}/a.md",
        f"{real}/b/c.txt",
        "k1",
        f"{real}/kb.jsonl#2",
        "7",
    ]
    reasons = {str(s).split(":")[0].removeprefix("skipped "): s.reason for s in skipped}
    assert "not UTF-8" in reasons["latin1.txt"] and "byte 3" in reasons["latin1.txt"]
    assert "empty" in reasons["empty.md"]
    assert "broken link" in reasons["broken.md"]
    assert "not a regular file" in reasons["pipe.txt"]
    assert all("\n" not in str(s) for s in skipped)


def test_bad_jsonl_lines_are_skipped_by_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
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
    lines = [f"kb.jsonl#{n}" for n in range(2, 11)]
    assert [str(s).split(":")[0].removeprefix("skipped ") for s in skipped] == lines
    where = {f"kb.jsonl#{s.line}": str(s) for s in skipped}
    assert "not JSON" in where["kb.jsonl#2"]
    assert "object" in where["kb.jsonl#3"]
    assert "text" in where["kb.jsonl#4"]
    assert "'id'" in where["kb.jsonl#5"]
    assert "reserved" in where["kb.jsonl#6"]
    assert "surrogate" in where["kb.jsonl#7"]
    assert "kb.jsonl#8: duplicate id 'ok' (first at kb.jsonl#1)" in where["kb.jsonl#8"]
    assert "'metadata'" in where["kb.jsonl#9"]
    assert "UTF-8" in where["kb.jsonl#10"]


def test_duplicate_ids_across_files_keep_the_first_and_name_both_lines(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.jsonl").write_text('{"id": "x", "text": "first"}\n', encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('\n{"id": "x", "text": "second"}\n', encoding="utf-8")
    first, second = read_corpus(["a.jsonl", "b.jsonl"])
    assert first.text == "first"
    assert str(second) == "skipped b.jsonl#2: duplicate id 'x' (first at a.jsonl#1)"


def test_the_work_splits_and_pickles(tmp_path):
    files = list_files([str(DATA)])
    files = pickle.loads(pickle.dumps(files))
    docs = [d for f in files for d in read_file(f)]
    assert pickle.loads(pickle.dumps(docs)) == docs
    assert docs == [d for d in read_corpus([str(DATA)]) if isinstance(d, Document)]
    assert identity("./examples//data/") == identity(DATA)


def test_the_sample_corpus_reads_cleanly():
    items = list(read_corpus([str(DATA)]))
    docs, skipped = _split(items)
    assert not skipped, skipped
    assert len(docs) >= 17
    assert all(identity(DATA) in d.metadata["source_folders"] for d in docs)
    assert any(d.metadata["source"].endswith(".jsonl") and "lang" in d.metadata for d in docs)


# -- identity: one file, one document, however its path is typed -------------------------------


def test_one_file_is_one_document_however_its_path_is_typed(tree, monkeypatch):
    monkeypatch.chdir(tree)
    (tree / "link").symlink_to(tree / "docs", target_is_directory=True)
    (tree / "note.md").symlink_to(tree / "docs" / "a.md")
    real = identity(tree / "docs")
    files = {f"{real}/a.md", f"{real}/b/c.txt", f"{real}/kb.jsonl"}
    folder_spellings = ["docs", "./docs/", "docs//b/..", str(tree / "docs"), "link", "link/"]
    for spelling in folder_spellings:
        assert {d.metadata["source"] for d in read_corpus([spelling])} == files, spelling
    file_spellings = ["docs/a.md", "./docs/a.md", str(tree / "docs" / "a.md"), "link/a.md"]
    for spelling in [*file_spellings, "note.md"]:
        (doc,) = read_corpus([spelling])
        assert doc.id == doc.metadata["source"] == f"{real}/a.md", spelling
    # every spelling at once: still exactly one document per file (a file is read once)
    everything = list(read_corpus([*folder_spellings, *file_spellings, "note.md", "."]))
    docs, skipped = _split(everything)
    assert not skipped, skipped
    assert sorted(d.id for d in docs) == sorted([f"{real}/a.md", f"{real}/b/c.txt", "k1",
                                                 f"{real}/kb.jsonl#2", "7"])  # fmt: skip


def test_two_files_with_the_same_relative_name_never_share_an_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("projA", "projB"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "README.md").write_text(name, encoding="utf-8")
        (tmp_path / name / "kb.jsonl").write_text('{"text": "a line"}\n', encoding="utf-8")
    together = list(read_corpus(["projA", "projB"]))
    apart = [*read_corpus(["projA"]), *read_corpus(["projB"])]
    assert together == apart and all(isinstance(d, Document) for d in together)
    assert len({d.id for d in together}) == 4
    assert [d.text for d in together if d.id.endswith("README.md")] == ["projA", "projB"]


# -- reserved fields, ids, file names ----------------------------------------------------------


def test_a_line_with_a_reserved_field_is_skipped_naming_line_and_field(tmp_path, monkeypatch):
    from jina_v3.sources import RESERVED_FIELDS

    monkeypatch.chdir(tmp_path)
    assert {"source", "source_folders", "text", "document_id", "chunk_index",
            "content_hash"} == RESERVED_FIELDS  # fmt: skip
    names = sorted(RESERVED_FIELDS - {"text"})  # a top-level "text" is the line's text
    rows = [{"id": f"top-{n}", "text": "x", n: "mine"} for n in names]
    rows += [
        {"id": f"nested-{n}", "text": "x", "metadata": {n: "mine"}} for n in sorted(RESERVED_FIELDS)
    ]
    rows += [{"id": "both", "text": "x", "lang": "en", "metadata": {"lang": "de"}}]
    rows += [{"id": "kept", "text": "x", "source_root": "mine", "metadata": {"topic": "t"}}]
    (tmp_path / "kb.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    docs, skipped = _split(list(read_corpus(["kb.jsonl"])))
    assert [d.id for d in docs] == ["kept"]
    assert docs[0].metadata["source_root"] == "mine" and docs[0].metadata["topic"] == "t"
    reserved = [*names, *sorted(RESERVED_FIELDS)]
    assert len(skipped) == len(reserved) + 1
    for number, (item, name) in enumerate(zip(skipped, reserved, strict=False), 1):
        assert str(item).startswith(f"skipped kb.jsonl#{number}: field {name!r} is reserved")
        assert "rename the field" in str(item)
    assert "'lang' is both in 'metadata' and at the top level" in str(skipped[-1])


def test_integer_and_string_ids_are_one_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kb.jsonl").write_text(
        '{"id": 1, "text": "number"}\n{"id": "2", "text": "two"}\n{"id": "1", "text": "string"}\n',
        encoding="utf-8",
    )
    first, two, again = read_corpus(["kb.jsonl"])
    assert (first.id, first.text, two.id) == ("1", "number", "2")
    assert str(again) == "skipped kb.jsonl#3: duplicate id '1' (first at kb.jsonl#1)"


def test_a_file_name_that_is_not_utf8_is_skipped_named_escaped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ok.md").write_text("fine", encoding="utf-8")
    bad = os.path.join(os.fsencode(tmp_path / "docs"), b"caf\xe9.md")
    with open(bad, "wb") as handle:
        handle.write(b"text")
    for roots in (["docs"], [os.fsdecode(bad), "docs/ok.md"]):
        items = list(read_corpus(roots))
        docs, skipped = _split(items)
        assert [d.text for d in docs] == ["fine"]
        (item,) = skipped
        assert str(item) == "skipped docs/caf\\xe9.md: its name is not valid UTF-8; rename the file"
        item.source.encode("utf-8")  # printable: no lone surrogate


def test_read_files_reports_the_ids_of_each_jsonl_file(tmp_path):
    from jina_v3.sources import read_files

    (tmp_path / "full.jsonl").write_text('{"id": "a", "text": "x"}\n{"text": "y"}\n')
    (tmp_path / "empty.jsonl").write_text("\n")
    (tmp_path / "broken.jsonl").write_text('{"id": "b", "text": "x"}\nnot json\n')
    (tmp_path / "later.jsonl").write_text(
        '{"id": "a", "text": "again"}\n{"id": "c", "text": "x"}\n'
    )
    (tmp_path / "text.md").write_text("not a jsonl file")
    os.symlink(tmp_path / "nowhere", tmp_path / "unreadable.jsonl")
    jsonl_ids: dict = {}
    list(read_files(list_files([str(tmp_path)]), jsonl_ids=jsonl_ids))
    root = identity(tmp_path)
    assert jsonl_ids == {
        f"{root}/broken.jsonl": None,  # a line was skipped: its lines are never pruned
        f"{root}/later.jsonl": ["c"],  # "a" belongs to full.jsonl, read first
        f"{root}/empty.jsonl": [],  # read, and empty: all its documents are gone
        f"{root}/full.jsonl": ["a", f"{root}/full.jsonl#2"],
    }  # unreadable.jsonl: not read, so unknown; text.md: not a .jsonl file


# -- identity relative to the project: the same in every checkout -------------------------------


def _checkout(base, *, marker: str = ".git"):
    """A project checkout under `base`: docs/a.md, docs/sub/a.md, kb.jsonl, and its marker
    (a .git folder, or a settings file)."""
    (base / "docs" / "sub").mkdir(parents=True)
    (base / "docs" / "a.md").write_text("# A\n\nalpha", encoding="utf-8")
    (base / "docs" / "sub" / "a.md").write_text("# Sub A\n\nsub alpha", encoding="utf-8")
    (base / "kb.jsonl").write_text('{"text": "a line"}\n', encoding="utf-8")
    if marker == ".git":
        (base / ".git").mkdir()
    else:
        (base / marker).write_text("", encoding="utf-8")
    return base


def _ids_and_metadata(paths):
    docs, skipped = _split(list(read_corpus(paths)))
    assert not skipped, skipped
    return [(d.id, d.metadata) for d in docs]


@pytest.mark.parametrize("marker", [".git", "jina-v3.toml"])
def test_two_checkouts_of_a_project_give_the_same_documents(tmp_path, monkeypatch, marker):
    laptop = _checkout(tmp_path / "home" / "ana" / "proj", marker=marker)
    ci = _checkout(tmp_path / "ci" / "build-7" / "proj", marker=marker)
    monkeypatch.chdir(laptop / "docs")  # the working folder does not matter
    mine = _ids_and_metadata([".", "../kb.jsonl"])
    monkeypatch.chdir(tmp_path)
    theirs = _ids_and_metadata([str(ci / "docs"), str(ci / "kb.jsonl")])
    assert mine == theirs
    assert [i for i, _ in mine] == ["docs/a.md", "docs/sub/a.md", "kb.jsonl#1"]
    assert mine[1][1] == {"source": "docs/sub/a.md", "source_folders": [".", "docs", "docs/sub"]}
    assert str(tmp_path) not in repr(mine)  # no folder of the indexing machine is stored
    assert identity(laptop) == "." and identity(laptop / "docs" / "sub") == "docs/sub"


def test_the_settings_file_wins_over_a_nearer_git_root_and_a_submodule_is_its_superproject(
    tmp_path,
):
    project = tmp_path / "proj"
    (project / "vendor" / "lib").mkdir(parents=True)
    (project / "README.md").write_text("top", encoding="utf-8")
    (project / "vendor" / "lib" / "README.md").write_text("lib", encoding="utf-8")
    (project / ".git").mkdir()
    # a submodule's .git is a file pointing into the superproject's .git/modules
    (project / "vendor" / "lib" / ".git").write_text("gitdir: ../../.git/modules/lib\n")
    ids = {d.text: d.id for d in read_corpus([str(project)])}
    assert ids == {"top": "README.md", "lib": "vendor/lib/README.md"}
    assert identity(project / "vendor" / "lib" / "README.md") == "vendor/lib/README.md"
    # a linked work tree (git worktree) is a root of its own
    (project / "vendor" / "lib" / ".git").write_text("gitdir: /x/.git/worktrees/lib\n")
    assert identity(project / "vendor" / "lib" / "README.md") == "README.md"
    # the folder of a settings file wins over a nearer git root
    (project / "pyproject.toml").write_text("[tool.jina-v3]\nk = 3\n", encoding="utf-8")
    assert identity(project / "vendor" / "lib" / "README.md") == "vendor/lib/README.md"
    # a pyproject.toml without the table (or broken, and not naming it) is not a settings file
    (project / "pyproject.toml").write_text("tool = 3\n", encoding="utf-8")
    assert identity(project / "vendor" / "lib" / "README.md") == "README.md"


def test_a_file_outside_any_project_keeps_its_absolute_path(tmp_path):
    (tmp_path / "loose.md").write_text("loose", encoding="utf-8")
    (doc,) = read_corpus([str(tmp_path / "loose.md")])
    assert doc.id == doc.metadata["source"] == (tmp_path / "loose.md").resolve().as_posix()
    assert doc.metadata["source_folders"][0] == "/"


def test_a_project_tree_is_looked_at_once_per_folder(tmp_path, monkeypatch):
    from jina_v3.index import project

    root = _checkout(tmp_path / "proj")
    for n in range(20):
        (root / "docs" / f"n{n}.md").write_text("x", encoding="utf-8")
    looked: list[str] = []
    real = project._git_root
    monkeypatch.setattr(project, "_git_root", lambda f: looked.append(f) or real(f))
    assert len(list_files([str(root / "docs")])) == 22
    assert sorted(looked) == sorted({str(root / "docs"), str(root / "docs" / "sub"), str(root)})


def test_shown_is_relative_to_the_working_folder_inside_the_project(tmp_path, monkeypatch):
    from jina_v3.sources import located, shown

    root = _checkout(tmp_path / "proj").resolve()
    monkeypatch.chdir(root / "docs")
    assert shown("docs/sub/a.md") == "sub/a.md" and shown("docs") == "."
    assert shown("kb.jsonl") == "kb.jsonl"  # not under the working folder: as stored
    assert located("kb.jsonl") == str(root / "kb.jsonl")
    assert shown("faq-12") == "faq-12"  # not a path: as it is


def test_one_glob_dialect_double_star_takes_no_folder_too(tree):
    from jina_v3.sources import glob_match

    (tree / "docs" / "b" / "deep").mkdir()
    (tree / "docs" / "b" / "deep" / "d.txt").write_text("delta", encoding="utf-8")
    real = identity(tree / "docs")
    found = [d.id for d in read_corpus(str(tree / "docs"), glob="b/**/*.txt")]
    assert found == [f"{real}/b/c.txt", f"{real}/b/deep/d.txt"]
    assert glob_match("kb/top.md", "kb/**/*.md") and glob_match("x/kb/a/b.md", "kb/**/*.md")
    assert not glob_match("kbx/top.md", "kb/**/*.md") and not glob_match("a/b.md", "a?b.md")
    assert glob_match("/p/kb/x.md", "/p/**/*.md") and not glob_match("q/p/kb/x.md", "/p/**/*.md")
    assert glob_match("a/c.md", "[!ab].md") and not glob_match("b.md", "[!ab].md")
