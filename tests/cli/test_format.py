"""How `jina-v3 search` shows hits: the query's terms marked in the snippet (bold on a
terminal, **marked** otherwise), CJK terms found without spaces, widths kept."""

from __future__ import annotations

from jina_v3.cli.format import BOLD, RESET, hits_table, query_terms, snippet
from jina_v3.store import Hit


def test_query_terms_are_words_and_cjk_bigrams():
    assert query_terms("What is the capital of Germany?") == ["Germany", "capital"]
    assert sorted(query_terms("杭州西湖")) == sorted(["杭州", "州西", "西湖"])
    assert query_terms("a of") == []


def test_snippets_mark_the_terms_and_start_near_the_first_one():
    text = "Intro words. " * 20 + "Berlin is the capital of Germany."
    plain = snippet(text, "capital Germany", width=60, tty=False)
    assert plain.startswith("…") and "**capital**" in plain and "**Germany**" in plain
    bold = snippet(text, "capital", width=60, tty=True)
    assert f"{BOLD}capital{RESET}" in bold
    assert snippet("西湖在杭州。", "杭州", width=40, tty=False) == "西湖在**杭州**。"
    assert snippet("x" * 200, "nothing", width=30, tty=False) == "x" * 29 + "…"


def test_the_table_has_one_row_per_hit():
    hits = [
        Hit("p1", 0.91234, "Berlin is big.", {"source": "docs/berlin.md"}, "docs/berlin.md", 0),
        Hit("p2", 0.5, "Kyoto.", {"source": "kb.jsonl"}, "kb-kyoto", None),
    ]
    lines = hits_table(hits, "Berlin", tty=False).splitlines()
    assert lines[0].split() == ["#", "score", "source", "snippet"]
    assert lines[1].split()[:4] == ["1", "0.9123", "docs/berlin.md", "[0]"]
    assert "**Berlin**" in lines[1] and "kb.jsonl › kb-kyoto" in lines[2]
    assert hits_table([], "x", tty=False) == "no hits\n"


def test_stored_text_cannot_drive_the_terminal():
    from jina_v3.cli.format import info_table, printable

    hostile = "Berlin \x1b]0;owned\x07\x1b[2J is \u202ebig\u2066 \x9b31m\x7f."
    hits = [
        Hit("p1", 0.9, hostile, {"source": "docs/a\nb\x1b[31m.md"}, "docs/a\nb\x1b[31m.md", 0),
        Hit("p2", 0.5, "Kyoto.", {"source": "kb.jsonl"}, "kb\u202e-kyoto", None),
    ]
    for tty in (True, False):
        table = hits_table(hits, "Berlin", tty=tty)
        lines = table.splitlines()
        assert len(lines) == 3  # a newline in a file name splits no row
        for line in lines:  # the only escapes left are the table's own bold marks
            plain = line.replace(BOLD, "").replace(RESET, "")
            assert plain == printable(plain), plain
        assert "\\x1b]0;owned\\x07\\x1b[2J" in lines[1] and "\\u202ebig\\u2066" in lines[1]
        assert "docs/a\\nb\\x1b[31m.md" in lines[1] and "kb.jsonl › kb\\u202e-kyoto" in lines[2]
    assert f"{BOLD}Berlin{RESET}" in hits_table(hits, "Berlin", tty=True)
    rows = [{"collection": "c\x1b[2J", "points": 1, "signature": {"model": "m\u202e\n"}}]
    assert "c\\x1b[2J" in info_table("s", rows) and "m\\u202e\\n" in info_table("s", rows)
    assert "\x1b" not in info_table("s", rows) and "\u202e" not in info_table("s", rows)


def test_sources_show_relative_to_the_working_directory_when_under_it(tmp_path, monkeypatch):
    from jina_v3.cli.format import hit_source
    from jina_v3.sources import identity

    monkeypatch.chdir(tmp_path)
    here = identity(tmp_path)
    kb, outside = f"{here}/docs/kb.jsonl", "/elsewhere/notes.md"
    assert hit_source(Hit("p", 1.0, "t", {"source": f"{here}/a.md"}, f"{here}/a.md", 2)) == (
        "a.md [2]"
    )
    assert hit_source(Hit("p", 1.0, "t", {"source": kb}, f"{kb}#3", None)) == "docs/kb.jsonl#3"
    assert hit_source(Hit("p", 1.0, "t", {"source": kb}, "k1", None)) == "docs/kb.jsonl › k1"
    assert hit_source(Hit("p", 1.0, "t", {"source": outside}, outside, None)) == outside
    assert hit_source(Hit("p", 1.0, "t", {}, "plain-id", None)) == "plain-id"


def test_a_chunk_shows_the_headings_it_sits_under():
    meta = {"source": "guide.md", "headings": "# Guide > ## Backups"}
    hits = [Hit("p1", 0.8, "Restore the snapshot.", meta, "guide.md", 2)]
    (row,) = hits_table(hits, "snapshot", tty=False).splitlines()[1:]
    assert row.split("[2]", 1)[1].strip().startswith("[# Guide > ## Backups] Restore the")
