"""Documents that are not plain text: PDF, DOCX, PPTX, XLSX and HTML, converted to Markdown
so the Markdown-aware chunker sees their headings and tables.

The converter is markitdown (the ``formats`` extra): it converts all five in-process and
offline (pdfminer, mammoth, python-pptx, openpyxl, BeautifulSoup). docling was measured and
passed over: its PDF pipeline loads layout models from the Hugging Face hub at run time, so
it cannot run offline, and it installs torch-based models (see the README).

Every file is converted within :class:`ConversionLimits`: a DOCX, PPTX or XLSX whose archive
declares more content than a document holds (a zip bomb) is refused before any converter
opens it, and each conversion runs in a child process (:mod:`jina_v3.index._worker`) bounded
in time and memory. A file over a limit is skipped with the reason, like a damaged one.
HTML is decoded as the HTML standard says (:mod:`jina_v3.index._charset`), never guessed.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass

from jina_v3.errors import ConfigurationError, MissingDependencyError, check_positive
from jina_v3.index._worker import ConversionFailed, ConverterMissing, convert_isolated

__all__ = [
    "CONVERTED",
    "DEFAULT_LIMITS",
    "EXTRA_HINT",
    "ConversionLimits",
    "is_converted",
    "to_markdown",
]

#: Suffixes converted to Markdown (with the ``formats`` extra).
CONVERTED = (".pdf", ".docx", ".pptx", ".xlsx", ".html", ".htm")
EXTRA_HINT = "pip install 'jina-v3-connectors[formats]'"
_ARCHIVES = (".docx", ".pptx", ".xlsx")  # Office Open XML: zip archives of XML parts
_MB = 2**20


@dataclass(frozen=True)
class ConversionLimits:
    """What converting one file may take; a file over any limit is skipped with the reason.

    Args:
        inflated_bytes: The content a DOCX, PPTX or XLSX archive may declare, all its parts
            together (its converter holds all of it in memory).
        part_ratio: How many times one part of such an archive may inflate ...
        ratio_floor_bytes: ... once it is at least this large (small parts compress well).
        seconds: Wall-clock time of one conversion.
        memory_bytes: Memory one conversion may add to the converter process (enforced on
            Linux, as address space); None: unbounded.
    """

    inflated_bytes: int = 512 * _MB
    part_ratio: float = 100.0
    ratio_floor_bytes: int = 16 * _MB
    seconds: float = 300.0
    memory_bytes: int | None = 2048 * _MB

    def __post_init__(self) -> None:
        check_positive("inflated_bytes", self.inflated_bytes)
        check_positive("ratio_floor_bytes", self.ratio_floor_bytes)
        if self.memory_bytes is not None:
            check_positive("memory_bytes", self.memory_bytes)
        for name in ("part_ratio", "seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigurationError(f"{name} must be a positive number, got {value!r}")


#: The limits :func:`to_markdown` applies when given none (``jina-v3 index``'s).
DEFAULT_LIMITS = ConversionLimits()


def is_converted(path: str) -> bool:
    """Whether the file's type is one converted to Markdown."""
    return os.path.splitext(path)[1].lower() in CONVERTED


def to_markdown(path: str, raw: bytes, *, limits: ConversionLimits | None = None) -> str:
    """The file's text as Markdown, converted within `limits` (default: DEFAULT_LIMITS).

    Raises:
        MissingDependencyError: The ``formats`` extra is not installed.
        ValueError: The file cannot be read, or is over a limit (the reason, one line).
    """
    limits = DEFAULT_LIMITS if limits is None else limits
    suffix = os.path.splitext(path)[1].lower()
    if suffix in _ARCHIVES:
        _check_archive(raw, suffix, limits)
    try:
        return convert_isolated(suffix, raw, seconds=limits.seconds, memory=limits.memory_bytes)
    except ConverterMissing:
        raise MissingDependencyError(
            f"reading PDF, DOCX, PPTX, XLSX and HTML needs the formats extra: {EXTRA_HINT}"
        ) from None
    except ConversionFailed as exc:
        raise ValueError(str(exc)) from None


def _check_archive(raw: bytes, suffix: str, limits: ConversionLimits) -> None:
    """Refuses an archive whose declared content is over `limits`, reading only its
    directory. The declared sizes bind: Python's zipfile, which every converter here reads
    with, stops a part at its declared size (and then fails its checksum).

    Raises:
        ValueError: Not a readable archive, or over a limit (the reason, one line).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ValueError(
            f"cannot convert it to Markdown (not a {suffix} archive: {detail})"
        ) from None
    total = sum(part.file_size for part in parts)
    if total > limits.inflated_bytes:
        raise ValueError(
            f"its archive inflates to {total / _MB:,.0f} MB, over the "
            f"{limits.inflated_bytes / _MB:,.0f} MB a document may (a zip bomb?)"
        )
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size >= limits.ratio_floor_bytes and ratio > limits.part_ratio:
            raise ValueError(
                f"its part {part.filename} inflates {ratio:,.0f} times, over the "
                f"{limits.part_ratio:g} times a document's part may (a zip bomb?)"
            )
