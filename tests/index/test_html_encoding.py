"""HTML files are decoded as the HTML standard says: a byte order mark, then a ``<meta>``
declaration in the first 1024 bytes, then (nothing declared) UTF-8 when the bytes are valid
UTF-8, else windows-1252. A file whose bytes are not valid in the encoding so chosen is
skipped with the reason: no letter is ever indexed changed or replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from jina_v3.sources import SkippedFile, read_corpus

pytest.importorskip("markitdown")

DISH = "Crème brûlée, œufs à la neige — 5 €"  # every non-ASCII letter in windows-1252
CZECH = "Příliš žluťoučký kůň úpěl ďábelské ódy"  # windows-1250 / ISO-8859-2 letters


def page(body: str, head: str = "") -> str:
    head = f"<head>{head}<title>Menu</title></head>"
    return f"<html>{head}<body><h1>Menu</h1><p>{body}</p></body></html>"


READ = {  # file -> (bytes, the text it must give)
    "undeclared-1252.html": (page(DISH).encode("cp1252"), DISH),
    "undeclared-utf8.html": (page(DISH).encode("utf-8"), DISH),
    "meta-1250.html": (page(CZECH, '<meta charset="windows-1250">').encode("cp1250"), CZECH),
    "http-equiv.htm": (
        page(
            CZECH, '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-2">'
        ).encode("iso8859_2"),
        CZECH,
    ),
    "bom-utf16.html": (b"\xff\xfe" + page(DISH).encode("utf-16-le"), DISH),
    # the standard reads a latin-1 label as windows-1252 (the dash and the euro sign)
    "latin1-label.html": (page(DISH, "<meta charset=iso-8859-1>").encode("cp1252"), DISH),
    # a declaration in a comment is none; an unknown label is passed over (the fallback)
    "commented.html": (
        page(DISH, "<!-- <meta charset=koi8-r> --><meta charset=no-such-encoding>").encode(
            "cp1252"
        ),
        DISH,
    ),
}
SKIPPED = {  # file -> (bytes, words of the reason)
    "lying-meta.html": (page(DISH, '<meta charset="utf-8">').encode("cp1252"), "not valid utf-8"),
    "iso-2022-kr.html": (page("x", "<meta charset=iso-2022-kr>").encode(), "cannot be read"),
    # 0x81 is unassigned in windows-1252 and the bytes are not UTF-8: nothing declared fits
    "undecodable.html": (page("a").encode() + b"\x81\xe9", "no encoding declared"),
}


def test_each_file_is_decoded_as_declared_or_skipped_with_the_reason(tmp_path):
    for name, (raw, _) in {**READ, **SKIPPED}.items():
        (tmp_path / name).write_bytes(raw)
    items = {
        Path(item.source if isinstance(item, SkippedFile) else item.id).name: item
        for item in read_corpus(tmp_path)
    }
    for name, (_, text) in READ.items():
        document = items[name]
        assert not isinstance(document, SkippedFile), document
        assert text in document.text and "\ufffd" not in document.text, (name, document.text)
        assert document.text.startswith("# Menu")
    for name, (_, words) in SKIPPED.items():
        skipped = items[name]
        assert isinstance(skipped, SkippedFile) and words in skipped.reason, (name, skipped)
        assert "save it as UTF-8" in skipped.reason
