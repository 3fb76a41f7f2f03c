"""Real documents: PDF, DOCX, PPTX, XLSX and HTML files (made here, by hand or with the
libraries the formats extra brings) read as Markdown, indexed and found; a damaged file is
skipped with its reason; without the extra each such file is one line naming it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from jina_v3.chunking import TextChunker
from jina_v3.index.chunking import heading_paths
from jina_v3.sources import SkippedFile, identity, read_corpus
from tests.cli.conftest import cli, dump

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_DOCX_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
    '"application/xml"/><Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_DOCX_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/'
    'document.xml"/></Relationships>'
)


def write_pdf(path: Path, lines: list[str], *, title: str | None = None) -> None:
    """One page of Helvetica text lines (after a `title` in larger type): the smallest PDF a
    text extractor reads."""
    ops = ["BT", "/F1 14 Tf", "72 720 Td", "18 TL"]
    if title is not None:
        ops = ["BT", "/F1 24 Tf", "72 730 Td", f"({title}) Tj", "/F1 14 Tf", "0 -40 Td", "18 TL"]
    ops += [f"({line}) Tj T*" for line in lines]  # plain ASCII, no parentheses
    stream = "\n".join([*ops, "ET"]).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(bytes(out))


def write_docx(path: Path, paragraphs: list[tuple[str | None, str]]) -> None:
    """A minimal WordprocessingML package: (style, text) paragraphs."""
    styled = '<w:pPr><w:pStyle w:val="{}"/></w:pPr>'
    body = "".join(
        f"<w:p>{styled.format(style) if style else ''}<w:r><w:t>{text}</w:t></w:r></w:p>"
        for style, text in paragraphs
    )
    document = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{_W}"><w:body>{body}'
        "</w:body></w:document>"
    )
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("[Content_Types].xml", _DOCX_TYPES)
        package.writestr("_rels/.rels", _DOCX_RELS)
        package.writestr("word/document.xml", document)


def make_documents(folder: Path) -> dict[str, str]:
    """One file of each format in `folder`; file name -> a sentence it holds."""
    folder.mkdir(parents=True, exist_ok=True)
    write_pdf(folder / "report.pdf", ["Quarterly report", "The lighthouse keeper counts gulls."])
    write_docx(
        folder / "runbook.docx",
        [("Heading1", "Backups"), (None, "Restore the nightly snapshot of the walrus database.")],
    )
    (folder / "guide.html").write_text(
        "<html><body><h1>Guide</h1><h2>Setup</h2><p>Install the quokka agent first.</p>"
        "<table><tr><th>port</th><th>use</th></tr><tr><td>8080</td><td>api</td></tr></table>"
        "</body></html>",
        encoding="utf-8",
    )
    found = {
        "report.pdf": "The lighthouse keeper counts gulls.",
        "runbook.docx": "Restore the nightly snapshot of the walrus database.",
        "guide.html": "Install the quokka agent first.",
    }
    try:
        from pptx import Presentation

        deck = Presentation()
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = "Roadmap"
        slide.placeholders[1].text = "Ship the zeppelin telemetry in May."
        deck.save(str(folder / "roadmap.pptx"))
        found["roadmap.pptx"] = "Ship the zeppelin telemetry in May."
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = "Inventory"
        sheet.append(["item", "count"])
        sheet.append(["tangerines", 42])
        book.save(str(folder / "inventory.xlsx"))
        found["inventory.xlsx"] = "| tangerines | 42 |"
    except ImportError:  # without the formats extra (the skip test writes what it can)
        pass
    return found


def test_each_format_is_read_as_markdown(tmp_path):
    pytest.importorskip("markitdown")
    found = make_documents(tmp_path / "docs")
    assert len(found) == 5
    docs = {Path(d.id).name: d for d in read_corpus(tmp_path / "docs")}  # ids: the files
    assert sorted(docs) == sorted(found)
    for name, sentence in found.items():
        assert sentence in docs[name].text, (name, docs[name].text)
    assert "# Backups" in docs["runbook.docx"].text  # headings survive, for the chunker
    assert "# Guide" in docs["guide.html"].text and "| 8080 | api |" in docs["guide.html"].text
    assert "# Roadmap" in docs["roadmap.pptx"].text
    assert "| item | count |" in docs["inventory.xlsx"].text


def test_a_damaged_file_is_skipped_with_its_reason(tmp_path):
    pytest.importorskip("markitdown")
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "fine.md").write_text("# Fine\n\ntext", encoding="utf-8")
    items = list(read_corpus(tmp_path))
    skipped = [i for i in items if isinstance(i, SkippedFile)]
    assert [Path(s.source).name for s in skipped] == ["broken.docx"]
    assert "cannot convert it to Markdown" in skipped[0].reason
    assert [i.id for i in items if not isinstance(i, SkippedFile)] == [
        identity(tmp_path / "fine.md")
    ]


def test_documents_are_indexed_and_searchable(tmp_path):
    pytest.importorskip("markitdown")
    pytest.importorskip("qdrant_edge")
    found = make_documents(tmp_path / "docs")
    store = f"qdrant-edge:{tmp_path / 'edge'}"
    proc = cli("index", "docs", "--store", store, "--chunk-overlap", "4", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(found)} documents indexed" in proc.stdout and "warning" not in proc.stderr
    from jina_v3.store import point_id

    ids = {name: identity(tmp_path / "docs" / name) for name in found}  # ids: the files
    stored = dump(store, [point_id(ids[name], j) for name in found for j in range(4)])
    for name, sentence in found.items():
        assert any(d == ids[name] and sentence in text for d, _, text, _ in stored.values()), name
    for name, sentence in found.items():  # each found by its own words, within its source
        hits = cli("search", sentence, "--store", store, "--json", "--filter",
                   json.dumps({"source": ids[name]}), cwd=tmp_path)  # fmt: skip
        (hit, *_) = json.loads(hits.stdout)
        assert hit["source"] == ids[name] and sentence in hit["text"]
        if name == "runbook.docx":  # its Word heading, in the chunk's metadata
            assert hit["metadata"]["headings"] == "# Backups"


def test_without_the_extra_each_file_is_one_line_naming_it(tmp_path):
    make_documents(tmp_path / "docs")
    (tmp_path / "docs" / "notes.md").write_text("# Notes\n\nplain text", encoding="utf-8")
    blocker = tmp_path / "no-extra"
    blocker.mkdir()  # an importable `markitdown` that is not there: the extra uninstalled
    (blocker / "markitdown.py").write_text("raise ImportError('No module named markitdown')\n")
    from tests.cli.conftest import clean_env
    from tests.conftest import TINY_MODEL

    env = clean_env(JINA_V3_MODEL=str(TINY_MODEL), PYTHONPATH=str(blocker))
    store = f"qdrant-edge:{tmp_path / 'e'}"  # PYTHONPATH is read when Python starts: a process
    proc = cli("index", "docs", "--store", store, cwd=tmp_path, env=env, process=True)
    assert proc.returncode == 0, proc.stderr
    assert "1 documents indexed" in proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if "warning" in ln]
    assert lines and all("pip install 'jina-v3-connectors[formats]'" in ln for ln in lines)
    assert sorted(ln.split("skipped ")[1].split(":")[0] for ln in lines) == sorted(
        f"docs/{p.name}" for p in (tmp_path / "docs").iterdir() if p.suffix != ".md"
    )


def chunk_headings(text: str, max_tokens: int) -> list[tuple[str, str]]:
    """(chunk, its heading path) of each chunk, as the index stores them."""
    chunks = TextChunker(max_tokens=max_tokens)(text)
    return list(zip(chunks, heading_paths(text, chunks), strict=True))


def test_each_slide_is_headed_by_its_title_and_no_comment_is_text(tmp_path):
    pytest.importorskip("markitdown")
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slides = [
        ("Roadmap", "Ship the zeppelin telemetry in May and the walrus backups in June."),
        ("Budget", "Spend less on tangerines. " * 6),
        (None, "An untitled slide about the lighthouse keepers who count gulls."),
    ]
    for title, body in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        if title is not None:
            slide.shapes.title.text = title
        slide.placeholders[1].text = body
    above = deck.slides[1].shapes.add_textbox(0, 0, Inches(4), Inches(0.3))
    above.text_frame.text = "Confidential draft"  # above the title: comes first on the slide
    deck.save(str(tmp_path / "deck.pptx"))
    (document,) = read_corpus(tmp_path)
    assert "<!--" not in document.text and "Slide number" not in document.text
    heads = {  # the text on each slide -> the heading its chunks sit under
        slides[0][1]: "# Roadmap",
        "Confidential draft": "# Budget",
        slides[1][1]: "# Budget",
        slides[2][1]: "# Slide 3",
    }
    for tokens in (8, 16, 256):
        pairs = chunk_headings(document.text, tokens)
        for chunk, path in pairs:  # the slide a chunk starts on heads it
            first = next(ln for ln in chunk.splitlines() if ln.strip() and ln[0] != "#")
            (heading,) = {head for text, head in heads.items() if first.strip() in text}
            assert path == heading, (tokens, chunk, path)
        assert all(chunk.strip() != path for chunk, path in pairs)  # no title alone


def test_a_pdf_title_heads_its_chunks_and_is_no_chunk_of_its_own(tmp_path):
    pytest.importorskip("markitdown")
    lines = [
        f"Line {i} says that the lighthouse keeper counts the gulls every day." for i in range(30)
    ]
    write_pdf(tmp_path / "report.pdf", lines, title="Quarterly Report on Gulls")
    (document,) = read_corpus(tmp_path)
    assert document.text.startswith("# Quarterly Report on Gulls\n")
    for tokens in (32, 256):
        pairs = chunk_headings(document.text, tokens)
        assert len(pairs) > 1 and "Line 0 says" in pairs[0][0]  # the title opens the first
        assert {path for _, path in pairs} == {"# Quarterly Report on Gulls"}
    write_pdf(tmp_path / "report.pdf", lines[:2])  # no larger type: no title is made up
    (document,) = read_corpus(tmp_path)
    assert not document.text.startswith("#")
