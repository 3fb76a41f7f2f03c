"""Documents that are not plain text: PDF, DOCX, PPTX, XLSX and HTML, converted to Markdown
so the Markdown-aware chunker sees their headings and tables.

The converter is markitdown (the ``formats`` extra): it converts all five in-process and
offline (pdfminer, mammoth, python-pptx, openpyxl, BeautifulSoup). docling was measured and
passed over: its PDF pipeline loads layout models from the Hugging Face hub at run time, so
it cannot run offline, and it installs torch-based models (see the README).
"""

from __future__ import annotations

import io
import logging
import os
from typing import Any

from jina_v3.errors import MissingDependencyError

__all__ = ["CONVERTED", "EXTRA_HINT", "is_converted", "to_markdown"]

#: Suffixes converted to Markdown (with the ``formats`` extra).
CONVERTED = (".pdf", ".docx", ".pptx", ".xlsx", ".html", ".htm")
EXTRA_HINT = "pip install 'jina-v3-connectors[formats]'"

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


def is_converted(path: str) -> bool:
    """Whether the file's type is one converted to Markdown."""
    return os.path.splitext(path)[1].lower() in CONVERTED


def _converter(suffix: str) -> Any:
    if suffix not in _loaded:
        try:
            from markitdown import converters
        except ImportError:
            raise MissingDependencyError(
                f"reading PDF, DOCX, PPTX, XLSX and HTML needs the formats extra: {EXTRA_HINT}"
            ) from None
        # its PDF reader logs a warning per odd font: they are not the user's concern
        logging.getLogger("pdfminer").setLevel(logging.ERROR)
        _loaded[suffix] = getattr(converters, _CONVERTERS[suffix])()
    return _loaded[suffix]


def to_markdown(path: str, raw: bytes) -> str:
    """The file's text as Markdown.

    Raises:
        MissingDependencyError: The ``formats`` extra is not installed.
        ValueError: The converter cannot read the file (the reason, one line).
    """
    from_suffix = os.path.splitext(path)[1].lower()
    converter = _converter(from_suffix)
    from markitdown import StreamInfo

    try:
        result = converter.convert(io.BytesIO(raw), StreamInfo(extension=from_suffix))
    except Exception as exc:  # the converters raise anything: a damaged file is skipped
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ValueError(f"cannot convert it to Markdown ({detail})") from None
    return result.text_content or ""
