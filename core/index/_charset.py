"""An HTML file's bytes as text, decoded as the HTML standard sniffs its encoding.

The order (WHATWG HTML, "determining the character encoding"): a byte order mark; else a
``<meta charset>`` or ``<meta http-equiv="Content-Type" content="...; charset=...">`` in
the first 1024 bytes; else, for a file that declares nothing, UTF-8 when the bytes are valid
UTF-8 (the standard lets a reader detect the encoding; a Windows-1252 text with accented
letters is practically never valid UTF-8, so this is exact, not a statistical guess), then
windows-1252, the standard's fallback.

Every decoding is strict: bytes that are not valid in the encoding chosen skip the file with
the reason, never index replaced or changed letters.
"""

from __future__ import annotations

import codecs
import re

__all__ = ["html_text"]

_PRESCAN_BYTES = 1024
_FALLBACK = "windows-1252"

# The WHATWG Encoding Standard's labels (encoding.spec.whatwg.org), as
# (Python codec, its labels). Labels are matched exactly (after trimming and lower-casing):
# Python's own aliases are wider (and include transforms such as rot13), so never consulted.
_LABELS = (
    ("utf-8", "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8"),
    ("cp866", "866 cp866 csibm866 ibm866"),
    (
        "iso8859_2",
        "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 iso_8859-2:1987 l2 latin2",
    ),
    (
        "iso8859_3",
        "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 iso_8859-3:1988 l3 latin3",
    ),
    (
        "iso8859_4",
        "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 iso_8859-4:1988 l4 latin4",
    ),
    (
        "iso8859_5",
        "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 "
        "iso_8859-5 iso_8859-5:1988",
    ),
    (
        "iso8859_6",
        "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 "
        "iso-8859-6 iso-8859-6-e iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6 "
        "iso_8859-6:1987",
    ),
    (
        "iso8859_7",
        "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 "
        "iso8859-7 iso88597 iso_8859-7 iso_8859-7:1987 sun_eu_greek",
    ),
    (
        "iso8859_8",
        "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 "
        "iso8859-8 iso88598 iso_8859-8 iso_8859-8:1988 visual csiso88598i iso-8859-8-i logical",
    ),
    ("iso8859_10", "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6"),
    ("iso8859_13", "iso-8859-13 iso8859-13 iso885913"),
    ("iso8859_14", "iso-8859-14 iso8859-14 iso885914"),
    ("iso8859_15", "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9"),
    ("iso8859_16", "iso-8859-16"),
    ("koi8_r", "cskoi8r koi koi8 koi8-r koi8_r"),
    ("koi8_u", "koi8-ru koi8-u"),
    ("mac_roman", "csmacintosh mac macintosh x-mac-roman"),
    ("cp874", "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874"),
    ("cp1250", "cp1250 windows-1250 x-cp1250"),
    ("cp1251", "cp1251 windows-1251 x-cp1251"),
    # the standard reads US-ASCII and ISO-8859-1 as windows-1252, as browsers do; so is
    # x-user-defined when a <meta> declares it
    (
        "cp1252",
        "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 "
        "iso8859-1 iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252 "
        "x-user-defined",
    ),
    ("cp1253", "cp1253 windows-1253 x-cp1253"),
    (
        "cp1254",
        "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 "
        "iso_8859-9:1989 l5 latin5 windows-1254 x-cp1254",
    ),
    ("cp1255", "cp1255 windows-1255 x-cp1255"),
    ("cp1256", "cp1256 windows-1256 x-cp1256"),
    ("cp1257", "cp1257 windows-1257 x-cp1257"),
    ("cp1258", "cp1258 windows-1258 x-cp1258"),
    ("mac_cyrillic", "x-mac-cyrillic x-mac-ukrainian"),
    # the standard decodes GBK with its gb18030 decoder
    (
        "gb18030",
        "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk gb18030",
    ),
    ("big5hkscs", "big5 big5-hkscs cn-big5 csbig5 x-x-big5"),
    ("euc_jp", "cseucpkdfmtjapanese euc-jp x-euc-jp"),
    ("iso2022_jp", "csiso2022jp iso-2022-jp"),
    ("cp932", "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis"),
    (
        "cp949",
        "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 "
        "ks_c_5601-1989 ksc5601 ksc_5601 windows-949",
    ),
    # a <meta> that declares UTF-16 was itself read as ASCII bytes: the standard takes UTF-8
    (
        "utf-8",
        "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le unicodefffe utf-16be",
    ),
)
_CODECS = {label: codec for codec, labels in _LABELS for label in labels.split()}
# Encodings the standard maps to its "replacement" decoder: their text cannot be read safely.
_UNREADABLE = frozenset("csiso2022kr hz-gb-2312 iso-2022-cn iso-2022-cn-ext iso-2022-kr".split())

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))  # fmt: skip
_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)
_META = re.compile(rb"<meta[\s/][^>]*>?", re.IGNORECASE)
_ATTRIBUTE = re.compile(rb"""([^\s=/>]+)\s*(?:=\s*("[^"]*"|'[^']*'|[^\s>]*))?""")
_CONTENT_CHARSET = re.compile(rb"""charset\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s;"']+))""", re.I)


def html_text(raw: bytes) -> str:
    """The text of an HTML file's bytes (see the module's docstring for the order).

    Raises:
        ValueError: The bytes are not valid in the encoding found (the reason, one line).
    """
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            return _decode(raw[len(bom) :], codec, f"{codec} (its byte order mark says so)")
    declared = _declared(raw[:_PRESCAN_BYTES])
    if declared is not None:
        label, codec = declared
        if codec is None:
            raise ValueError(
                f"its <meta> declares the {label} encoding, which cannot be read safely; "
                "save it as UTF-8"
            )
        return _decode(raw, codec, f"{label} (as its <meta> declares)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError as exc:  # five bytes are unassigned in windows-1252
        raise ValueError(
            f"no encoding declared, and neither UTF-8 nor {_FALLBACK} (byte {exc.start}); "
            'declare it with <meta charset="..."> or save it as UTF-8'
        ) from None


def _decode(raw: bytes, codec: str, said: str) -> str:
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"not valid {said}: byte {exc.start} is invalid; save it as UTF-8 (or fix what "
            "declares its encoding)"
        ) from None


def _declared(head: bytes) -> tuple[str, str | None] | None:
    """(label, codec) of the first usable encoding declaration of a ``<meta>`` tag in
    `head`, comments left out (codec None: an encoding the standard refuses to read); None
    when there is none. A label the standard does not know is passed over, as the standard
    does."""
    for tag in _META.finditer(_COMMENT.sub(b" ", head)):
        attributes: dict[bytes, bytes] = {}
        for name, value in _ATTRIBUTE.findall(tag.group(0)[5:]):
            attributes.setdefault(name.lower(), value.strip(b"\"'"))  # the first one counts
        label = attributes.get(b"charset")
        if label is None and attributes.get(b"http-equiv", b"").lower() == b"content-type":
            found = _CONTENT_CHARSET.search(attributes.get(b"content", b""))
            label = found and next(group for group in found.groups() if group is not None)
        if not label:
            continue
        name = label.decode("ascii", "replace").strip().lower()
        if name in _UNREADABLE:
            return name, None
        if name in _CODECS:
            return name, _CODECS[name]
    return None
