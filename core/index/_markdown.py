"""The conversions themselves: markitdown's converters, one per format, and what this project
adds to their Markdown so the chunker sees each document's structure. Run in the converter
process (:mod:`jina_v3.index._worker`), never in the reader's own.

- HTML is decoded here (:mod:`jina_v3.index._charset`), never by the converter's guess.
- PPTX: each slide opens with its title as a heading (``# Slide N`` for a slide without
  one), and markitdown's ``<!-- Slide number: N -->`` comments are dropped (not text).
- PDF: the title of the first page (its largest type, clearly larger than the body's)
  becomes a heading, so the chunker merges it with what follows.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from typing import Any

from jina_v3.index._charset import html_text

__all__ = ["MissingConverter", "convert", "load"]

# suffix -> markitdown converter class: one converter per format, never its fallback to
# plain text (which would index a damaged file's bytes)
_CONVERTERS = {
    ".pdf": "PdfConverter",
    ".docx": "DocxConverter",
    ".pptx": "PptxConverter",
    ".xlsx": "XlsxConverter",
    ".html": "HtmlConverter",
    ".htm": "HtmlConverter",
}
_loaded: dict[str, Any] = {}

_SLIDE = re.compile(r"^<!-- Slide number: (\d+) -->[ \t]*\n?", re.MULTILINE)
_TITLE_SCALE = 1.2  # a title's type is at least this much larger than the body's


class MissingConverter(Exception):
    """markitdown (the ``formats`` extra) cannot be imported."""


def load() -> None:
    """Imports the converters (once), so the first file's time is its own.

    Raises:
        MissingConverter: The ``formats`` extra is not installed.
    """
    if _loaded:
        return
    try:
        from markitdown import converters
    except ImportError as exc:
        raise MissingConverter(str(exc)) from None
    # its PDF reader logs a warning per odd font: they are not the user's concern
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    for suffix, name in _CONVERTERS.items():
        _loaded[suffix] = getattr(converters, name)()


def convert(suffix: str, raw: bytes) -> str:
    """The Markdown of a file of type `suffix` (``.pdf``, ...) from its bytes.

    Raises:
        ValueError: The file cannot be read (the reason, one line).
    """
    load()
    from markitdown import StreamInfo

    text = html_text(raw) if suffix in (".html", ".htm") else None  # its own error
    try:
        if text is not None:
            markdown = _loaded[suffix].convert_string(text).markdown
        else:
            stream = io.BytesIO(raw)
            markdown = _loaded[suffix].convert(stream, StreamInfo(extension=suffix)).markdown
        markdown = markdown or ""
        if suffix == ".pptx":
            markdown = slides_with_titles(markdown)
        elif suffix == ".pdf":
            markdown = _title_as_heading(markdown, _pdf_title(raw))
    except MemoryError:
        raise
    except Exception as exc:  # the converters raise anything: a damaged file is skipped
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ValueError(f"cannot convert it to Markdown ({detail})") from None
    return markdown


def slides_with_titles(markdown: str) -> str:
    """markitdown's PPTX Markdown with each slide opening with its title (``# Slide N``
    when it has none), its slide-number comments left out."""
    parts = _SLIDE.split(markdown)  # [before, number, slide, number, slide, ...]
    slides = [parts[0].strip()] if parts[0].strip() else []
    for number, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = body.strip("\n").split("\n")
        # markitdown writes the title shape (and only it) as "# ..."; shapes above it on
        # the slide come first, so the title is moved up to head them
        at = next((i for i, line in enumerate(lines) if line.startswith("# ")), None)
        title = lines.pop(at) if at is not None else f"# Slide {number}"
        slides.append("\n".join([title, *lines]).strip())
    return "\n\n".join(slides)


def _pdf_title(raw: bytes) -> str | None:
    """The first page's title: its lines in the largest type, when that is clearly larger
    than the type most of the page's text is in; None otherwise."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTChar, LTTextContainer, LTTextLine

    try:
        page = next(iter(extract_pages(io.BytesIO(raw), maxpages=1)), None)
    except MemoryError:
        raise
    except Exception:  # the text converted: a page it cannot lay out just has no title
        return None
    if page is None:
        return None
    lines: list[tuple[float, str]] = []
    sizes: Counter[float] = Counter()
    for box in page:
        if not isinstance(box, LTTextContainer):
            continue
        for line in box:
            if not isinstance(line, LTTextLine) or not line.get_text().strip():
                continue
            chars = [c for c in line if isinstance(c, LTChar) and c.get_text().strip()]
            if chars:
                size = round(max(c.size for c in chars), 1)
                sizes.update(round(c.size, 1) for c in chars)
                lines.append((size, line.get_text().strip()))
    if not lines:
        return None
    body = sizes.most_common(1)[0][0]
    largest = max(size for size, _ in lines)
    if largest < body * _TITLE_SCALE:
        return None
    first = next(i for i, (size, _) in enumerate(lines) if size == largest)
    title = []
    for size, text in lines[first:]:  # the title may wrap over consecutive lines
        if size != largest:
            break
        title.append(text)
    return " ".join(" ".join(title).split())


def _title_as_heading(markdown: str, title: str | None) -> str:
    """`markdown` with the first paragraph that reads `title` (whitespace aside) of its
    first page turned into a heading; unchanged when there is none."""
    if not title:
        return markdown
    first_page = markdown.split("\f", 1)[0]
    for paragraph in re.finditer(r"[^\n]+(?:\n[^\n]+)*", first_page):
        if " ".join(paragraph.group(0).split()) == title:
            start, end = paragraph.span()
            return f"{markdown[:start]}# {title}{markdown[end:]}"
    return markdown
