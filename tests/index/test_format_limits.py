"""A converted file cannot take the run down: a DOCX, PPTX or XLSX whose archive declares
more than a document holds (a zip bomb, built here at a few MB) is skipped before any
converter opens it, and every conversion is bounded in time and memory (it runs in a child
process). A file over a limit is skipped with a warning naming it; the run goes on."""

from __future__ import annotations

import sys
import time
import zipfile
from pathlib import Path

import pytest

from jina_v3.errors import ConfigurationError
from jina_v3.index import formats
from jina_v3.index.formats import ConversionLimits, to_markdown
from jina_v3.sources import SkippedFile, read_corpus
from tests.index.test_formats import _DOCX_RELS, _DOCX_TYPES, _W, write_docx

pytest.importorskip("markitdown")

_PARAGRAPH = b"<w:p><w:r><w:t>The walrus database is backed up at two.</w:t></w:r></w:p>"


def write_inflating_docx(path: Path, inflated: int) -> None:
    """A DOCX whose document.xml (valid WordprocessingML) inflates to about `inflated`
    bytes, written in pieces: a zip bomb of a few MB on disk."""
    head = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{_W}"><w:body>'
    piece = _PARAGRAPH * (2**20 // len(_PARAGRAPH))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as package:
        package.writestr("[Content_Types].xml", _DOCX_TYPES)
        package.writestr("_rels/.rels", _DOCX_RELS)
        with package.open("word/document.xml", "w", force_zip64=True) as document:
            document.write(head.encode())
            for _ in range(inflated // len(piece)):
                document.write(piece)
            document.write(b"</w:body></w:document>")


def test_a_zip_bomb_is_skipped_before_conversion_and_the_run_goes_on(tmp_path):
    pytest.importorskip("qdrant_edge")
    from tests.cli.conftest import cli

    docs = tmp_path / "docs"
    docs.mkdir()
    write_inflating_docx(docs / "bomb.docx", 600 * 2**20)  # over the 512 MB limit
    assert (docs / "bomb.docx").stat().st_size < 8 * 2**20
    write_docx(docs / "runbook.docx", [("Heading1", "Backups"), (None, "Restore at two.")])
    (docs / "notes.md").write_text("# Notes\n\nThe walrus sleeps.", encoding="utf-8")
    started = time.monotonic()
    proc = cli("index", "docs", "--store", f"qdrant-edge:{tmp_path / 'edge'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 120  # never converted (unbounded, it ran for minutes)
    assert "2 documents indexed" in proc.stdout, proc.stdout
    (line,) = [ln for ln in proc.stderr.splitlines() if "warning" in ln]
    assert "skipped docs/bomb.docx: its archive inflates to 600 MB, over the 512 MB" in line


def test_a_part_that_inflates_too_many_times_is_refused_unread(tmp_path):
    write_inflating_docx(tmp_path / "dense.docx", 20 * 2**20)  # under the total, but dense
    with pytest.raises(ValueError, match=r"its part word/document.xml inflates [\d,]+ times"):
        to_markdown("dense.docx", (tmp_path / "dense.docx").read_bytes())
    with pytest.raises(ValueError, match=r"cannot convert it to Markdown \(not a \.docx archive"):
        to_markdown("broken.docx", b"PK\x03\x04 not really a zip")


@pytest.mark.skipif(sys.platform != "linux", reason="memory is bounded on Linux")
def test_a_conversion_over_its_memory_is_stopped_and_the_next_file_converts(tmp_path):
    write_inflating_docx(tmp_path / "big.docx", 20 * 2**20)
    raw = (tmp_path / "big.docx").read_bytes()
    roomy = ConversionLimits(part_ratio=float("inf"), memory_bytes=64 * 2**20)
    with pytest.raises(ValueError, match="converting it needed over 64 MB of memory"):
        to_markdown("big.docx", raw, limits=roomy)
    write_docx(tmp_path / "small.docx", [(None, "The walrus sleeps.")])
    small = to_markdown("small.docx", (tmp_path / "small.docx").read_bytes(), limits=roomy)
    assert "The walrus sleeps." in small  # a fresh converter, the same limits


def test_a_conversion_over_its_time_is_stopped_and_the_run_goes_on(tmp_path, monkeypatch):
    rows = "".join(f"<tr><td>cell {i}</td><td><b>{i}</b></td></tr>" for i in range(50000))
    (tmp_path / "a-slow.html").write_text(f"<table>{rows}</table>", encoding="utf-8")
    (tmp_path / "b-fine.html").write_text("<h1>Fine</h1><p>The walrus.</p>", encoding="utf-8")
    monkeypatch.setattr(formats, "DEFAULT_LIMITS", ConversionLimits(seconds=1))
    started = time.monotonic()
    slow, fine = read_corpus(tmp_path)
    assert isinstance(slow, SkippedFile) and Path(slow.source).name == "a-slow.html"
    assert slow.reason == "converting it took over 1 s (the limit)"
    assert not isinstance(fine, SkippedFile) and "The walrus." in fine.text
    assert time.monotonic() - started < 60  # unbounded, the table takes minutes
    with pytest.raises(ConfigurationError, match="seconds must be a positive number"):
        ConversionLimits(seconds=0)
