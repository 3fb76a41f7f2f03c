"""What a document is, end to end: one file is one document however its path is typed,
`--prune` acts on exactly this run's roots, `delete --source` takes a path as typed, and the
reader's warnings name every file and line (the CLI in subprocesses, Qdrant Edge)."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

from jina_v3.sources import identity
from tests.cli.conftest import cli, error_line

pytest.importorskip("torch")
pytest.importorskip("qdrant_edge")

README = (Path(__file__).parents[2] / "README.md").read_text()


def _stored(uri: str, cwd: Path) -> dict[str, str]:
    """document id -> source of every document stored (a search wide enough for all)."""
    hits = json.loads(cli("search", "text", "--store", uri, "--json", "-k", "100", cwd=cwd).stdout)
    return {h["document_id"]: h["source"] for h in hits}


def _summary(proc) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def _warnings(proc) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() if ": warning: " in ln]


def test_one_file_is_one_document_however_its_path_is_typed(fast_dir, tmp_path):
    for name in ("projA", "projB"):
        (tmp_path / name / "guides").mkdir(parents=True)
        (tmp_path / name / "README.md").write_text(f"# {name}\n\nThe text of {name}.")
        (tmp_path / name / "guides" / "backups.md").write_text(f"Backups text of {name}.")
    (tmp_path / "link").symlink_to(tmp_path / "projA", target_is_directory=True)
    uri = f"qdrant-edge:{fast_dir / 'identity'}"
    # two roots with the same relative names: four documents, nothing replaced
    assert _summary(cli("index", "projA", "--store", uri, cwd=tmp_path)).startswith(
        "2 documents indexed, 0 skipped unchanged, 0 replaced"
    )
    assert _summary(cli("index", "projB", "--store", uri, cwd=tmp_path)).startswith(
        "2 documents indexed, 0 skipped unchanged, 0 replaced"
    )
    expected = {
        identity(tmp_path / p / f): identity(tmp_path / p / f)
        for p in ("projA", "projB")
        for f in ("README.md", "guides/backups.md")
    }
    assert _stored(uri, tmp_path) == expected
    # every spelling, from another working directory too: found unchanged, nothing added
    spellings = [
        (("projA", "projB"), tmp_path, 4),  # one run, both roots: no duplicate
        (("projA/guides/", "projA/guides/backups.md"), tmp_path, 1),  # via folder and itself
        (("./projA/README.md",), tmp_path, 1),
        ((str(tmp_path / "projA"),), tmp_path, 2),  # absolute
        (("link", "link/README.md"), tmp_path, 2),  # via a symlinked path
        ((".",), tmp_path / "projB", 2),
        (("../projA/guides/backups.md",), tmp_path / "projB", 1),
    ]
    for paths, cwd, documents in spellings:
        line = _summary(cli("index", *paths, "--store", uri, "--quiet", cwd=cwd))
        assert line.startswith(f"0 documents indexed, {documents} skipped unchanged, 0 replaced")
    assert _stored(uri, tmp_path) == expected
    # the table shows a source relative to the working directory
    table = cli("search", "Backups text of projB", "--store", uri, "-k", "4", cwd=tmp_path)
    assert "projB/guides/backups.md" in table.stdout and str(tmp_path) not in table.stdout


def test_delete_source_takes_the_path_as_typed_and_fails_when_nothing_matches(fast_dir, tmp_path):
    (tmp_path / "docs" / "old").mkdir(parents=True)
    (tmp_path / "docs" / "old.md").write_text("# Old\n\nThe old text.")
    (tmp_path / "docs" / "new.md").write_text("# New\n\nThe new text.")
    (tmp_path / "docs" / "old" / "a.md").write_text("Text a.")
    (tmp_path / "docs" / "old" / "b.md").write_text("Text b.")
    uri = f"qdrant-edge:{fast_dir / 'delete'}"
    assert cli("index", "docs", "--store", uri, cwd=tmp_path).returncode == 0
    # the README's own example, as written there
    (example,) = re.findall(r"^jina-v3 delete --source .*$", README, re.M)
    args = shlex.split(example.split("#")[0])[1:]
    assert args == ["delete", "--source", "docs/old.md"]
    proc = cli(*args, "--store", uri, cwd=tmp_path)
    assert proc.returncode == 0 and "deleted 1 point " in proc.stdout, proc.stderr
    # again: nothing matches: status 2, one line, and what the collection holds
    proc = cli(*args, "--store", uri, cwd=tmp_path)
    line = error_line(proc)
    assert proc.returncode == 2 and "--source docs/old.md matched no document" in line
    assert "docs/new.md" in line and "Traceback" not in proc.stderr
    # a folder, typed from elsewhere: every document under it
    proc = cli(
        "delete", "--source", "../../docs/old/", "--store", uri, cwd=tmp_path / "docs" / "old"
    )
    assert proc.returncode == 0 and "deleted 2 points " in proc.stdout, proc.stderr
    assert list(_stored(uri, tmp_path)) == [identity(tmp_path / "docs" / "new.md")]
    proc = cli("delete", "--id", "nope", "--store", uri, cwd=tmp_path)
    assert proc.returncode == 2 and "--id 'nope' matched no document" in error_line(proc)
    assert cli("delete", "--all", "--store", uri, cwd=tmp_path).returncode == 0
    proc = cli("delete", "--source", "docs", "--store", uri, cwd=tmp_path)
    assert proc.returncode == 2 and "the collection is empty" in error_line(proc)


def test_prune_acts_on_exactly_the_files_and_lines_of_this_runs_roots(fast_dir, tmp_path):
    for root in ("a", "b"):
        (tmp_path / root).mkdir()
        (tmp_path / root / "kb.jsonl").write_text(
            "".join(f'{{"id": "{root}{i}", "text": "Line {i} of {root}."}}\n' for i in range(3))
        )
    (tmp_path / "a" / "gone.md").write_text("A file that will go.")
    uri = f"qdrant-edge:{fast_dir / 'prune'}"
    assert cli("index", "a", "b", "--store", uri, cwd=tmp_path).returncode == 0
    ids = {"a0", "a1", "a2", "b0", "b1", "b2", identity(tmp_path / "a" / "gone.md")}
    assert set(_stored(uri, tmp_path)) == ids
    # a root of this run: its gone file and gone line go; b's same-named file is untouched
    (tmp_path / "a" / "gone.md").unlink()
    (tmp_path / "a" / "kb.jsonl").write_text('{"id": "a0", "text": "Line 0 of a."}\n')
    line = _summary(cli("index", "a", "--store", uri, "--prune", cwd=tmp_path))
    assert line.endswith("pruned 3 chunks of files that are gone")
    assert set(_stored(uri, tmp_path)) == {"a0", "b0", "b1", "b2"}
    # a file root: only its gone lines; a line that cannot be read protects the file's lines
    (tmp_path / "b" / "kb.jsonl").write_text('{"id": "b1", "text": "Line 1 of b."}\nnot json\n')
    proc = cli("index", "b/kb.jsonl", "--store", uri, "--prune", cwd=tmp_path)
    assert _summary(proc).endswith("pruned 0 chunks of files that are gone")
    assert "not pruning the lines of b/kb.jsonl: some of its lines were skipped" in proc.stderr
    (tmp_path / "b" / "kb.jsonl").write_text('{"id": "b1", "text": "Line 1 of b."}\n')
    proc = cli("index", "./b/kb.jsonl", "--store", uri, "--prune", cwd=tmp_path)
    assert _summary(proc).endswith("pruned 2 chunks of files that are gone")
    # a .jsonl emptied of all its lines loses all its documents
    (tmp_path / "a" / "kb.jsonl").write_text("")
    line = _summary(cli("index", "a", "--store", uri, "--prune", cwd=tmp_path))
    assert line.endswith("pruned 1 chunks of files that are gone")
    assert set(_stored(uri, tmp_path)) == {"b1"}


def test_reader_warnings_name_files_and_lines_and_the_run_goes_on(fast_dir, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.md").write_text("A readable file.")
    with open(os.path.join(os.fsencode(docs), b"caf\xe9.md"), "wb") as handle:
        handle.write(b"A file whose name is Latin-1.")
    rows = [
        '{"id": 1, "text": "The first line.", "origin": "wiki"}',
        '{"id": "2", "text": "The second line.", "source": "crm"}',
        '{"id": "1", "text": "A string id equal to the first."}',
        '{"text": "Line four.", "metadata": {"source_folders": ["x"]}}',
    ]
    (docs / "kb.jsonl").write_text("\n".join(rows) + "\n")
    uri = f"qdrant-edge:{fast_dir / 'warnings'}"
    proc = cli("index", "docs", "--store", uri, cwd=tmp_path)
    assert "2 documents indexed, 0 skipped unchanged, 0 replaced, 4 failed" in _summary(proc)
    assert _warnings(proc) == [
        "jina-v3 index: warning: skipped docs/caf\\xe9.md: its name is not valid UTF-8; rename "
        "the file",
        "jina-v3 index: warning: skipped docs/kb.jsonl#2: field 'source' is reserved (the reader "
        "or the index sets it); rename the field",
        "jina-v3 index: warning: skipped docs/kb.jsonl#3: duplicate id '1' (first at "
        "docs/kb.jsonl#1)",
        "jina-v3 index: warning: skipped docs/kb.jsonl#4: field 'source_folders' is reserved "
        "(the reader or the index sets it); rename the field",
    ]
    wiki = '{"origin": "wiki"}'
    found = cli("search", "line", "--store", uri, "--json", "--filter", wiki, cwd=tmp_path)
    hits = json.loads(found.stdout)
    assert [(h["document_id"], h["text"]) for h in hits] == [("1", "The first line.")]


def test_the_readme_jsonl_example_indexes_with_every_field_kept(fast_dir, tmp_path):
    (block,) = re.findall(r"```jsonl\n(.*?)```", README, re.S)
    (tmp_path / "faq.jsonl").write_text(block)
    uri = f"qdrant-edge:{fast_dir / 'readme-jsonl'}"
    proc = cli("index", "faq.jsonl", "--store", uri, cwd=tmp_path)
    assert "3 documents indexed" in _summary(proc) and not _warnings(proc), proc.stderr
    hits = json.loads(cli("search", "text", "--store", uri, "--json", cwd=tmp_path).stdout)
    rows = [json.loads(line) for line in block.splitlines()]
    source = identity(tmp_path / "faq.jsonl")
    by_id = {h["document_id"]: h["metadata"] for h in hits}
    assert set(by_id) == {"faq-12", "13", f"{source}#3"}
    assert by_id["faq-12"]["lang"] == rows[0]["lang"] and by_id["13"]["lang"] == "de"
    assert by_id[f"{source}#3"]["origin"] == "wiki"
    assert all(m["source"] == source for m in by_id.values())


def test_two_checkouts_of_a_project_share_one_collection(fast_dir, tmp_path):
    laptop, ci = tmp_path / "home" / "ana" / "proj", tmp_path / "ci" / "runner-7" / "proj"
    for checkout in (laptop, ci):
        (checkout / ".git").mkdir(parents=True)  # a git work tree: its root is the project's
        (checkout / "kb" / "guides").mkdir(parents=True)
        (checkout / "kb" / "top.md").write_text("Top text.")
        (checkout / "kb" / "guides" / "deep.md").write_text("Deep text.")
        (checkout / "kb" / "gone.md").write_text("Gone text.")
        (checkout / "faq.jsonl").write_text('{"text": "A faq line of text."}\n')
    uri = f"qdrant-edge:{fast_dir / 'checkouts'}"
    assert _summary(cli("index", ".", "--store", uri, cwd=laptop)).startswith(
        "4 documents indexed, 0 skipped unchanged, 0 replaced"
    )
    # the other checkout, typed another way from elsewhere: the same four documents
    line = _summary(cli("index", str(ci / "kb"), str(ci / "faq.jsonl"), "--store", uri,
                        cwd=tmp_path))  # fmt: skip
    assert line.startswith("0 documents indexed, 4 skipped unchanged, 0 replaced")
    expected = {"kb/top.md", "kb/guides/deep.md", "kb/gone.md", "faq.jsonl#1"}
    assert set(_stored(uri, laptop)) == expected
    everything = cli("search", "text", "--store", uri, "--json", "-k", "100", cwd=laptop).stdout
    assert str(tmp_path) not in everything  # no folder of either machine is stored
    hits = {h["document_id"]: h["metadata"] for h in json.loads(everything)}
    assert hits["kb/guides/deep.md"]["source_folders"] == [".", "kb", "kb/guides"]
    # a file gone in one checkout: --prune there removes it for both
    (ci / "kb" / "gone.md").unlink()
    line = _summary(cli("index", "kb", "--store", uri, "--prune", cwd=ci))
    assert line.endswith("pruned 1 chunks of files that are gone")
    assert set(_stored(uri, laptop)) == expected - {"kb/gone.md"}

    # ls --source in --glob's dialect, typed from where one stands
    def listed(pattern: str, cwd: Path) -> set[str]:
        proc = cli("ls", "--store", uri, "--json", "--source", pattern, cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        return {json.loads(row)["source"] for row in proc.stdout.splitlines()}

    assert listed("kb/**/*.md", laptop) == {"kb/top.md", "kb/guides/deep.md"}
    assert listed("guides/*.md", laptop / "kb") == {"kb/guides/deep.md"}
    assert listed("../*.md", laptop / "kb" / "guides") == {"kb/top.md"}
    assert listed(str(laptop / "kb" / "*.md"), tmp_path) == {"kb/top.md"}
    # delete --source as typed, relative to the working folder
    proc = cli("delete", "--source", "guides", "--store", uri, cwd=laptop / "kb")
    assert proc.returncode == 0 and "deleted 1 point " in proc.stdout, proc.stderr
    assert set(_stored(uri, laptop)) == {"kb/top.md", "faq.jsonl#1"}
    table = cli("search", "Top text", "--store", uri, "-k", "1", cwd=laptop / "kb").stdout
    assert " top.md" in table  # shown relative to the working folder
