"""How `jina-v3 search` and `info` print: tables for people, JSON for programs."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from jina_v3.index.sources import SOURCE_KEY, shown

BOLD, RESET = "\x1b[1m", "\x1b[0m"
# short words not worth marking in a snippet (English, German, French, Spanish)
_STOPWORDS = frozenset(
    "the and for with what which who how are was were from this that into about "
    "der die das und ein eine ist wie was wer mit von les des une est pour dans avec qui "
    "los las una por con para que del".split()
)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")
# What a terminal obeys instead of printing: C0 and C1 controls (ESC starts ANSI/OSC
# sequences), DEL, line and paragraph separators, and the bidi controls that reorder text
_CONTROLS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def query_terms(query: str) -> list[str]:
    """The query's words worth marking: words of 3+ letters but the commonest, and CJK runs
    as bigrams (CJK text has no spaces between words)."""
    terms: set[str] = set()
    for word in re.findall(r"\w+", query):
        for run in _CJK.findall(word):
            terms.update([run] if len(run) < 2 else (run[i : i + 2] for i in range(len(run) - 1)))
        rest = _CJK.sub(" ", word).split()
        terms.update(w for w in rest if len(w) >= 3 and w.casefold() not in _STOPWORDS)
    return sorted(terms, key=lambda t: (-len(t), t))


def printable(text: str) -> str:
    """`text` safe for one line of a terminal: every control character shown as its escape
    (``\\x1b``, ``\\u202e``, ``\\n``), so stored text can neither drive the terminal nor split
    a row. The table passes all stored text through it; ``--json`` escapes on its own."""
    return _CONTROLS.sub(lambda m: _escape(m[0]), text)


def _escape(char: str) -> str:
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cut(text: str, width: int) -> str:
    """`text` cut to `width` display columns, with an ellipsis when cut."""
    if _columns(text) <= width:
        return text
    out, used = [], 0
    for char in text:
        used += _columns(char)
        if used > width - 1:
            break
        out.append(char)
    return "".join(out) + "…"


def snippet(text: str, query: str, *, width: int, tty: bool) -> str:
    """One line of `text` around the first query term, the terms bold (TTY) or **marked**."""
    flat = printable(" ".join(text.split()))  # whitespace (newlines too) as one space
    terms = query_terms(query)
    pattern = re.compile("|".join(map(re.escape, terms)), re.IGNORECASE) if terms else None
    first = pattern.search(flat) if pattern else None
    if first and _columns(flat[: first.start()]) > width // 3:
        flat = "…" + flat[max(0, first.start() - width // 4) :]
    line = _cut(flat, width)
    if pattern is None:
        return line
    if tty:
        return pattern.sub(lambda m: f"{BOLD}{m.group(0)}{RESET}", line)
    return pattern.sub(lambda m: f"**{m.group(0)}**", line)


def hit_source(hit: Any) -> str:
    """Where a hit comes from: its source file (shown relative to the working directory when
    under it), the line or document id of a .jsonl line, the chunk."""
    source = str(hit.metadata.get(SOURCE_KEY, ""))
    document = hit.document_id
    if not source:
        where = document
    elif document in (source, ""):
        where = shown(source)
    elif document.startswith(source + "#"):  # a .jsonl line without an id of its own
        where = shown(source) + document[len(source) :]
    else:
        where = f"{shown(source)} › {document}"
    if hit.chunk_index is not None:
        where += f" [{hit.chunk_index}]"
    return printable(where)


def hits_table(hits: Sequence[Any], query: str, *, tty: bool, width: int = 100) -> str:
    """Rank, score, source and snippet, one hit a line."""
    if not hits:
        return "no hits\n"
    sources = [_cut(hit_source(h), 40) for h in hits]
    source_width = max(6, *(_columns(s) for s in sources))
    rank_width = len(str(len(hits)))
    room = max(20, width - rank_width - source_width - 12)
    header = f"{'#':>{rank_width}}  {'score':>7}  {'source':<{source_width}}  snippet"
    lines = [BOLD + header + RESET if tty else header]
    for rank, (hit, source) in enumerate(zip(hits, sources, strict=True), 1):
        pad = " " * (source_width - _columns(source))
        heading = str(hit.metadata.get("headings", ""))  # the chunk's section, first
        prefix = f"[{_cut(heading, room // 3)}] " if heading else ""
        text = prefix + snippet(hit.text, query, width=room - _columns(prefix), tty=tty)
        lines.append(f"{rank:>{rank_width}}  {hit.score:7.4f}  {source}{pad}  {text}")
    return "\n".join(lines) + "\n"


def hits_json(hits: Sequence[Any]) -> list[dict[str, Any]]:
    """Each hit with its rank, id, score, text, source, document id, chunk index, metadata."""
    return [
        {
            "rank": rank,
            "id": hit.id,
            "score": hit.score,
            "source": hit.metadata.get("source"),
            "document_id": hit.document_id,
            "chunk_index": hit.chunk_index,
            "text": hit.text,
            "metadata": dict(hit.metadata),
        }
        for rank, hit in enumerate(hits, 1)
    ]


def info_table(store: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """Collections with their signature and point count."""
    if not rows:
        return f"{store}: no collections (index files with `jina-v3 index PATH --store {store}`)\n"
    table = [
        ("collection", "points", "model", "dims", "type", "late chunking", "tasks", "keywords")
    ]
    for row in rows:
        sig = row["signature"] or {}
        table.append(
            (
                row["collection"],
                str(row["points"]),
                str(sig.get("model", "?")),
                str(sig.get("dimensions", "?")),
                str(sig.get("embedding_type", "?")),
                "yes" if sig.get("late_chunking") else "no",
                f"{sig.get('passage_task')} / {sig.get('query_task')}" if sig else "no signature",
                # the keyword channel (hybrid search): its weighting and tokenizer, or none
                str(sig.get("keywords") or "no") if sig else "",
            )
        )
    table = [tuple(printable(cell) for cell in row) for row in table]
    widths = [max(_columns(r[i]) for r in table) for i in range(len(table[0]))]
    lines = [f"store {printable(store)}"]
    for cells in table:
        lines.append(
            "  ".join(c + " " * (w - _columns(c)) for c, w in zip(cells, widths, strict=True))
        )
    return "\n".join(line.rstrip() for line in lines) + "\n"


def settings_table(settings: Mapping[str, Mapping[str, Any]]) -> str:
    """The settings in effect, each with where it came from (flag, env, file, default)."""
    rows = [(key, "-" if s["value"] is None else str(s["value"]), s["origin"])
            for key, s in settings.items()]  # fmt: skip
    width = max(_columns(key) for key, _, _ in rows)
    value_width = max(_columns(value) for _, value, _ in rows)
    lines = ["settings (value, from)"]
    for key, value, origin in rows:
        lines.append(f"  {key:<{width}}  {value}{' ' * (value_width - _columns(value))}  {origin}")
    return "\n".join(lines) + "\n"
