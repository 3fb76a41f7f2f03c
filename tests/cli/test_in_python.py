"""`jina_v3.cli.main(argv)` called from Python, again and again in one process: each run sets
up its own notes and signal handling and leaves the caller's logging as it was; and the
tests' in-process `cli()` gives what `python -m jina_v3.cli` gives."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading

import pytest

from jina_v3.cli import main
from tests.cli.conftest import cli, error_line
from tests.conftest import TINY_MODEL, published_copy

pytest.importorskip("torch")
pytest.importorskip("qdrant_edge")


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def docs(tmp_path, monkeypatch):
    """A folder to index, the licence note due (as in a new process), the logger untouched."""
    from jina_v3.local import checkpoint

    monkeypatch.setattr(checkpoint, "_licence_logged", False)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Berlin\n\nBerlin is the capital of Germany.\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_each_run_writes_its_notes_under_its_command_to_its_own_stderr(docs, monkeypatch):
    from jina_v3.local import checkpoint

    # a copy named as Jina's published weights: the licence note is printed for those only
    model = published_copy(docs / "models")
    store = ["--store", f"qdrant-edge:{docs / 'edge'}", "--model", str(model)]
    code, _, first = _run(["index", "docs", *store])
    assert code == 0 and "jina-v3 index: note: jina-embeddings-v3 weights" in first, first
    monkeypatch.setattr(checkpoint, "_licence_logged", False)  # the next load logs it again
    code, out, second = _run(["search", "Berlin", "--json", *store])
    assert code == 0 and json.loads(out), second
    assert "jina-v3 search: note: jina-embeddings-v3 weights" in second, second
    assert "jina-v3 index: note:" not in second


def test_the_callers_logging_of_the_library_is_left_as_it_was(docs, monkeypatch):
    library = logging.getLogger("jina_v3")
    mine = logging.NullHandler()  # the caller's own set-up
    monkeypatch.setattr(library, "handlers", [mine])
    monkeypatch.setattr(library, "propagate", True)
    monkeypatch.setattr(library, "level", logging.INFO)
    before = ([mine], logging.INFO, True)
    store = ["--store", f"qdrant-edge:{docs / 'edge'}", "--model", str(TINY_MODEL)]
    assert _run(["index", "docs", *store])[0] == 0
    assert (list(library.handlers), library.level, library.propagate) == before


def test_main_runs_off_the_main_thread(docs):
    """Signals reach only the main thread: a run on another one indexes without handlers."""
    store = ["--store", f"qdrant-edge:{docs / 'edge'}", "--model", str(TINY_MODEL)]
    result: list[tuple[int, str, str]] = []
    worker = threading.Thread(target=lambda: result.append(_run(["index", "docs", *store])))
    worker.start()
    worker.join(120)
    ((code, out, err),) = result
    assert code == 0 and "1 documents indexed" in out, err


def test_a_run_on_ray_gives_rays_log_levels_back(docs):
    pytest.importorskip("ray")
    import ray.data  # noqa: F401 (sets up Ray's loggers, as a run does)

    rays = [logging.getLogger(name) for name in ("ray", "ray.data")]
    levels = [logger.level for logger in rays]
    store = ["--store", f"qdrant-edge:{docs / 'edge'}", "--model", str(TINY_MODEL)]
    code, _, err = _run(["index", "docs", *store, "--ray", "--actors", "0"])  # before Ray starts
    assert code == 2 and "actors" in err, err
    assert [logger.level for logger in rays] == levels


def _same(argv: list[str], cwd, *, input: str | None = None) -> None:
    ours = cli(*argv, cwd=cwd, input=input)
    theirs = cli(*argv, cwd=cwd, input=input, process=True)
    assert (ours.returncode, ours.stdout, ours.stderr) == (
        theirs.returncode,
        theirs.stdout,
        theirs.stderr,
    ), argv


def test_in_process_runs_give_what_the_process_gives(docs):
    """Status, stdout and stderr, byte for byte: a result, a library error, an error of the
    CLI's own (SystemExit with a message), argparse's usage error and its help."""
    store = f"qdrant-edge:{docs / 'edge'}"
    assert cli("index", "docs", "--store", store, "--quiet", cwd=docs).returncode == 0
    _same(["search", "Berlin", "--store", store, "--json"], docs)
    _same(["search", "Berlin", "--store", store, "-k", "0"], docs)
    _same(["embed", "--dimensions", "8"], docs, input='["Berlin"]')
    _same(["embed", "missing.json"], docs)
    _same(["index"], docs)
    _same(["info", "--help"], docs)


def test_a_variable_read_at_start_up_needs_a_process(docs):
    from tests.cli.conftest import clean_env

    with pytest.raises(ValueError, match=r"PYTHONPATH .* pass process=True"):
        cli("info", cwd=docs, env=clean_env(PYTHONPATH=str(docs)))
    proc = cli("info", "--store", "nope:x", cwd=docs, env=clean_env(PYTHONPATH=str(docs)),
               process=True)  # fmt: skip
    assert proc.returncode == 2 and "nope" in error_line(proc)
